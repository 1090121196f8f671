/* The civil calendar (proleptic Gregorian, UTC) and the MC146818 clock's register format
 * (BCD or binary, 12 or 24 hours), as pure functions: shared by the guest's RTC model
 * (hv/dev/rtc.c) and tern's reading of the machine's own clock (hv/wallclock.c), and
 * tested hosted. Years run from 0 up; Unix seconds before year 0 count as year 0. */
#ifndef TERN_CALENDAR_H
#define TERN_CALENDAR_H

#include "hv/types.h"

#define CAL_SECS_PER_DAY 86400

struct cal_time {
	uint32_t year; /* the full year */
	uint8_t mon;   /* 1..12 */
	uint8_t mday;  /* 1..31 */
	uint8_t hour;  /* 0..23 */
	uint8_t min;   /* 0..59 */
	uint8_t sec;   /* 0..59 */
	uint8_t wday;  /* 0 = Sunday .. 6 = Saturday */
};

bool cal_leap(uint32_t year);
/* 28..31; 0 for a month outside 1..12. */
unsigned cal_month_days(uint32_t year, unsigned mon);
/* Days from 1970-01-01 to the date (negative before); the date must be valid. */
int64_t cal_days(uint32_t year, unsigned mon, unsigned mday);
/* 0 = Sunday; the date must be valid. */
unsigned cal_weekday(uint32_t year, unsigned mon, unsigned mday);
/* Unix seconds of a valid time (wday is not read). */
int64_t cal_to_unix(const struct cal_time *t);
void cal_from_unix(int64_t secs, struct cal_time *t);

/* The clock's registers as raw bytes: 0x00 seconds, 0x02 minutes, 0x04 hours, 0x06 day
 * of week (1 = Sunday), 0x07 day of month, 0x08 month, 0x09 year in the century, and the
 * PC's century byte 0x32. */
struct cmos_clock {
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

/* Status register B bits that set the format (MC146818A datasheet, register B). */
#define CMOS_B_24H 0x02    /* hours 0..23; else 1..12 with CMOS_HOUR_PM */
#define CMOS_B_BINARY 0x04 /* DM: binary; else BCD */
#define CMOS_HOUR_PM 0x80

uint8_t cmos_encode_byte(unsigned v, uint8_t reg_b);
/* The value of a byte in the format; -1 when it is no number in it (a BCD digit above
 * 9). */
int cmos_decode_byte(uint8_t v, uint8_t reg_b);
uint8_t cmos_encode_hour(unsigned hour, uint8_t reg_b);
/* 0..23; -1 when the byte is no hour in the format. */
int cmos_decode_hour(uint8_t v, uint8_t reg_b);
/* The century byte holds year / 100 (mod 100 in BCD, mod 256 in binary). */
void cmos_encode(const struct cal_time *t, uint8_t reg_b, struct cmos_clock *c);
/* Registers to a time; true when every register held a valid value. An invalid one is
 * clamped into its range, so t is always a valid time; t->wday is the day-of-week
 * register's (0..6), which need not be the date's. */
bool cmos_decode(const struct cmos_clock *c, uint8_t reg_b, struct cal_time *t);

#endif
