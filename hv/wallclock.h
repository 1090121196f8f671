/* The wall clock: tern reads the machine's own RTC (CMOS ports 0x70/0x71) once at boot
 * and counts on from there with its own clock (hv/time.h). It gives the Unix time each
 * new VM's RTC starts from. */
#ifndef TERN_WALLCLOCK_H
#define TERN_WALLCLOCK_H

#include "hv/calendar.h"

/* Reads the RTC; call once, after time_init(). Returns 0, or -E_IO when the clock gave
 * no sane reading (UIP never fell, two reads never agreed, or a register held no valid
 * value): wallclock_now() then counts from 0, 1970-01-01. */
int wallclock_init(void);
/* Unix seconds: the boot reading plus tern's uptime since it. */
uint64_t wallclock_now(void);

/* The registers of a PC's RTC to Unix seconds (pure): BCD or binary and 12 or 24 hours
 * per status register B; the century from its byte 0x32 when that holds 20..29, else 20
 * (a BIOS need not keep that byte). 0, or -E_RANGE when a register holds no valid value
 * in its format. */
int wallclock_from_cmos(const struct cmos_clock *c, uint8_t reg_b, uint64_t *unix_secs);

#endif
