#include "hv/calendar.h"

/* Days from 0000-01-01 to 1970-01-01. */
#define UNIX_EPOCH_DAYS 719528
/* A Gregorian cycle: 400 years of 365 days, plus 97 leap days. */
#define CYCLE_DAYS 146097

static const uint8_t month_len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
static const uint16_t days_before_month[12] = {
	0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
};

bool cal_leap(uint32_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned cal_month_days(uint32_t year, unsigned mon)
{
	if (mon < 1 || mon > 12)
		return 0;
	return month_len[mon - 1] + (mon == 2 && cal_leap(year));
}

/* Days from 0000-01-01 to January 1st of year: 365 a year plus one for every leap year
 * before it (year 0 is one). */
static int64_t days_before_year(uint32_t year)
{
	int64_t y = year;

	return 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

int64_t cal_days(uint32_t year, unsigned mon, unsigned mday)
{
	int64_t d = days_before_year(year) + days_before_month[mon - 1] + mday - 1;

	if (mon > 2 && cal_leap(year))
		d++;
	return d - UNIX_EPOCH_DAYS;
}

static unsigned weekday_of(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */

	return (unsigned)(w < 0 ? w + 7 : w);
}

unsigned cal_weekday(uint32_t year, unsigned mon, unsigned mday)
{
	return weekday_of(cal_days(year, mon, mday));
}

int64_t cal_to_unix(const struct cal_time *t)
{
	return cal_days(t->year, t->mon, t->mday) * CAL_SECS_PER_DAY + t->hour * 3600 +
	       t->min * 60 + t->sec;
}

/* The date of a day counted from 0000-01-01 (n >= 0). Whole 400-year cycles first (each
 * starts with a leap year, as year 0 does); within one, r / 366 undercounts the years by
 * at most two, which the loop adds. */
static void date_of(int64_t n, struct cal_time *t)
{
	uint32_t y = (uint32_t)(n / CYCLE_DAYS) * 400;
	int64_t r = n % CYCLE_DAYS;
	uint32_t k = (uint32_t)(r / 366);
	unsigned mon = 1;

	while (days_before_year(k + 1) <= r)
		k++;
	r -= days_before_year(k);
	y += k;
	while (r >= cal_month_days(y, mon))
		r -= cal_month_days(y, mon++);
	t->year = y;
	t->mon = (uint8_t)mon;
	t->mday = (uint8_t)(r + 1);
}

void cal_from_unix(int64_t secs, struct cal_time *t)
{
	int64_t days = secs / CAL_SECS_PER_DAY, sod = secs % CAL_SECS_PER_DAY;

	if (sod < 0) {
		sod += CAL_SECS_PER_DAY;
		days--;
	}
	if (days < -UNIX_EPOCH_DAYS) {
		days = -UNIX_EPOCH_DAYS;
		sod = 0;
	}
	date_of(days + UNIX_EPOCH_DAYS, t);
	t->hour = (uint8_t)(sod / 3600);
	t->min = (uint8_t)(sod / 60 % 60);
	t->sec = (uint8_t)(sod % 60);
	t->wday = (uint8_t)weekday_of(days);
}

uint8_t cmos_encode_byte(unsigned v, uint8_t reg_b)
{
	if (reg_b & CMOS_B_BINARY)
		return (uint8_t)v;
	v %= 100;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

int cmos_decode_byte(uint8_t v, uint8_t reg_b)
{
	if (reg_b & CMOS_B_BINARY)
		return v;
	if ((v >> 4) > 9 || (v & 0xf) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0xf);
}

/* 12-hour mode counts 12, 1, ..., 11 for AM and again with the PM bit. */
uint8_t cmos_encode_hour(unsigned hour, uint8_t reg_b)
{
	unsigned h12 = hour % 12 ? hour % 12 : 12;

	if (reg_b & CMOS_B_24H)
		return cmos_encode_byte(hour, reg_b);
	return cmos_encode_byte(h12, reg_b) | (hour >= 12 ? CMOS_HOUR_PM : 0);
}

int cmos_decode_hour(uint8_t v, uint8_t reg_b)
{
	int h;

	if (reg_b & CMOS_B_24H) {
		h = cmos_decode_byte(v, reg_b);
		return h > 23 ? -1 : h;
	}
	h = cmos_decode_byte(v & ~CMOS_HOUR_PM, reg_b);
	if (h < 1 || h > 12)
		return -1;
	return h % 12 + (v & CMOS_HOUR_PM ? 12 : 0);
}

void cmos_encode(const struct cal_time *t, uint8_t reg_b, struct cmos_clock *c)
{
	c->sec = cmos_encode_byte(t->sec, reg_b);
	c->min = cmos_encode_byte(t->min, reg_b);
	c->hour = cmos_encode_hour(t->hour, reg_b);
	c->wday = cmos_encode_byte(t->wday + 1u, reg_b);
	c->mday = cmos_encode_byte(t->mday, reg_b);
	c->mon = cmos_encode_byte(t->mon, reg_b);
	c->year = cmos_encode_byte(t->year % 100, reg_b);
	c->century = cmos_encode_byte(t->year / 100, reg_b);
}

static unsigned clamp(int v, unsigned lo, unsigned hi, bool *ok)
{
	if (v < (int)lo || v > (int)hi) {
		*ok = false;
		return v < (int)lo ? lo : hi;
	}
	return (unsigned)v;
}

bool cmos_decode(const struct cmos_clock *c, uint8_t reg_b, struct cal_time *t)
{
	bool ok = true;
	unsigned century = clamp(cmos_decode_byte(c->century, reg_b), 0, 255, &ok);

	t->sec = (uint8_t)clamp(cmos_decode_byte(c->sec, reg_b), 0, 59, &ok);
	t->min = (uint8_t)clamp(cmos_decode_byte(c->min, reg_b), 0, 59, &ok);
	t->hour = (uint8_t)clamp(cmos_decode_hour(c->hour, reg_b), 0, 23, &ok);
	t->wday = (uint8_t)(clamp(cmos_decode_byte(c->wday, reg_b), 1, 7, &ok) - 1);
	t->year = century * 100 + clamp(cmos_decode_byte(c->year, reg_b), 0, 99, &ok);
	t->mon = (uint8_t)clamp(cmos_decode_byte(c->mon, reg_b), 1, 12, &ok);
	t->mday = (uint8_t)clamp(cmos_decode_byte(c->mday, reg_b), 1,
				 cal_month_days(t->year, t->mon), &ok);
	return ok;
}
