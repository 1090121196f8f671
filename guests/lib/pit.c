/* 8254 programming, from the Intel 8254 datasheet (control word, modes 0 and 2), and
 * the PC's port 0x61 (bit 0: channel 2 gate, bit 1: speaker data, bit 5: OUT2). */
#include "guests/lib/guest.h"
#include "guests/lib/pit.h"

#define CH0 0x40
#define CH2 0x42
#define MODE 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20

/* control word: channel << 6 | access << 4 | mode << 1 (binary counting) */
#define CW(ch, mode) ((ch) << 6 | 3 << 4 | (mode) << 1) /* access 3: low then high byte */

static void load(uint16_t port, uint16_t count)
{
	outb(port, count & 0xff);
	outb(port, count >> 8);
}

void pit_periodic(uint16_t count)
{
	outb(MODE, CW(0, 2));
	load(CH0, count);
}

void pit_stop(void)
{
	outb(MODE, CW(0, 0));
}

void pit_ch2_start(uint16_t count)
{
	/* Gate low while programming: in mode 0 the counter only runs while it is high */
	outb(PORT_B, inb(PORT_B) & ~(PORT_B_GATE2 | PORT_B_SPEAKER));
	outb(MODE, CW(2, 0)); /* mode 0: counts down once, then wraps and goes on */
	load(CH2, count);
	outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
}

uint16_t pit_ch2_count(void)
{
	uint16_t lo;

	outb(MODE, 2 << 6); /* counter latch command: access 0 */
	lo = inb(CH2);
	return lo | inb(CH2) << 8;
}

bool pit_ch2_out(void)
{
	return inb(PORT_B) & PORT_B_OUT2;
}
