/* The PC's 8254 programmable interval timer (Intel 8254 datasheet, order 231164) at
 * 0x40-0x43, clocked at 1.193182 MHz, and the system control port B at 0x61 that
 * gates channel 2 and shows its output. Channel 0's OUT is IRQ0; channel 1 was the DRAM
 * refresh timer; channel 2 is the speaker's, and what kernels calibrate the TSC with.
 *
 * Time is the PIT's own clock: tick k is the k-th rising edge of CLK since guest time 0,
 * at ceil(k * 10^9 / 1193182) ns. Every count, output and edge is computed from the tick
 * a count was loaded at and the tick now, never by stepping through ticks. */
#ifndef TERN_DEV_PIT_H
#define TERN_DEV_PIT_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define PIT_HZ 1193182ull
#define PIT_BASE 0x40	  /* channel 0-2 data ports 0x40-0x42 */
#define PIT_CONTROL 0x43
#define PIT_PORT_B 0x61
#define PIT_NO_TICK UINT64_MAX

/* Where a channel's counting element stands. */
enum pit_run {
	PIT_IDLE,  /* control word written, no count yet */
	PIT_WAIT,  /* modes 1, 5: a count, no gate trigger yet */
	PIT_COUNT, /* loaded with n at tick start (or at start, if in the future) */
	PIT_HELD,  /* not counting: gate low, or mode 0 between the bytes of a count */
};

struct pit_chan {
	uint64_t start;	  /* tick the CE was loaded with n; later ticks count */
	uint64_t next_at; /* modes 2, 3: tick a rewritten count takes over (pending) */
	uint64_t load_at; /* tick the count register reaches the CE; null count before */
	uint32_t n;	  /* the count in effect, 1..65536 (1..10000 in BCD) */
	uint32_t off;	  /* modes 2, 3: ticks into the period at start */
	uint32_t next_n, next_off;
	uint16_t cr;	  /* the count register as written (BCD-coded in BCD mode) */
	uint16_t held;	  /* the CE, binary, while not counting or before start */
	uint16_t latch;	  /* the output latch as read (BCD-coded in BCD mode) */
	uint8_t mode;	  /* 0-5 (6 and 7 are stored as 2 and 3) */
	uint8_t access;	  /* RW: 1 LSB, 2 MSB, 3 LSB then MSB */
	uint8_t bcd;
	uint8_t gate;
	uint8_t run;	  /* enum pit_run */
	uint8_t done;	  /* modes 0, 4: terminal count passed before start (gate held) */
	uint8_t held_out; /* OUT while not counting or before start */
	uint8_t pending;  /* next_n takes over at next_at */
	uint8_t latched;  /* latch holds a count not fully read */
	uint8_t status_latched;
	uint8_t status;
	uint8_t read_msb;  /* the read flip-flop: the next byte read is the MSB */
	uint8_t write_msb; /* the write flip-flop: the next byte written is the MSB */
};

struct pit_state {
	struct pit_chan ch[3];
	uint64_t irq_seen; /* IRQ0 edges up to this tick were delivered */
	uint8_t port_b;	   /* port 0x61 bits 3-0 as written (bit 0: gate 2, 1: speaker) */
};

struct pit {
	struct pit_state s;
	struct irq_line irq0;
	struct dev_log *log;
};

/* The PIT as a PC BIOS leaves it: channel 0 in mode 3 with count 65536 (18.2 Hz),
 * channel 1 in mode 2 with count 18 (refresh), channel 2 in mode 3 awaiting a count,
 * its gate low. */
void pit_init(struct pit *p, struct irq_line irq0, struct dev_log *log, uint64_t now);
/* 0x40-0x43 and 0x61. Port 0x61 reads bit 0 gate 2, bit 1 speaker data, bits 2-3 as
 * written, bit 4 the refresh toggle (flips every 18 ticks, 15.085 us), bit 5 OUT2. */
uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now);
/* Fires the IRQ0 edges due by now first. */
void pit_write(struct pit *p, uint16_t port, uint8_t val, uint64_t now);
/* When the next IRQ0 edge is due: the time OUT0 next rises (once per period in modes 2
 * and 3; at the end of the count in modes 0 and 1, one tick after it in modes 4 and 5),
 * DEV_NEVER when it will not. */
uint64_t pit_next_event(const struct pit *p);
/* One irq_pulse() on IRQ0 if OUT0 rose since the last one, however often it did. */
void pit_run(struct pit *p, uint64_t now);
/* After p->s was replaced by a decoded record. IRQ0 is edges, not a level: nothing to
 * drive; the next pit_run() delivers an edge that came due across the migration. */
void pit_restore(struct pit *p, uint64_t now);

extern const struct vms_desc pit_vms; /* record "pit", of struct pit_state */

#endif
