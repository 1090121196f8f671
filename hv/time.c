#include "hv/time.h"
#include "hv/x86.h"

/* PIT (8254) channel 2, gated through port 0x61, counts at 1.193182 MHz whatever the
 * CPU: a reference every PC-compatible machine and emulator has. */
#define PIT_HZ 1193182ULL
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define CAL_MS 10
#define CAL_RUNS 5

static uint64_t tsc_hz = 1000000000ULL; /* a guess until calibrated */
static uint64_t tsc_boot;

static uint64_t calibrate(void)
{
	uint16_t count = (uint16_t)(PIT_HZ * CAL_MS / 1000);
	uint8_t b = inb(PORT_B);
	uint64_t t0, t1;
	uint32_t spins = 0;

	outb(PORT_B, (b & ~0x02) | 0x01); /* speaker off, gate on */
	outb(PIT_CMD, 0xb0);              /* channel 2, lo/hi, mode 0 */
	outb(PIT_CH2, count & 0xff);
	outb(PIT_CH2, count >> 8);
	t0 = rdtsc();
	/* OUT2 (bit 5) rises when the count reaches zero; give up after a generous bound
	 * so a machine without a PIT still boots with the guess. */
	while (!(inb(PORT_B) & 0x20) && ++spins < 50000000)
		;
	t1 = rdtsc();
	outb(PORT_B, b);
	if (spins >= 50000000 || t1 <= t0)
		return 0;
	return (t1 - t0) * 1000 / CAL_MS;
}

/* One run is wrong by any amount when the host of an emulator deschedules the vCPU
 * inside it (QEMU TCG once read 30 GHz, which made every 10 s timeout last two
 * minutes); such a stall lengthens or shortens a single run, so the median of a few
 * stands. */
void time_init(void)
{
	uint64_t runs[CAL_RUNS];
	int n = 0;

	for (int i = 0; i < CAL_RUNS; i++) {
		uint64_t hz = calibrate();
		int j = n;

		if (!hz)
			continue; /* no PIT answer: the run says nothing */
		for (; j > 0 && runs[j - 1] > hz; j--)
			runs[j] = runs[j - 1];
		runs[j] = hz;
		n++;
	}
	if (n)
		tsc_hz = runs[n / 2];
	tsc_boot = rdtsc();
}

uint64_t time_tsc_hz(void)
{
	return tsc_hz;
}

uint64_t time_now_us(void)
{
	uint64_t d = rdtsc() - tsc_boot;

	/* split to avoid overflow of d * 1e6 */
	return d / tsc_hz * 1000000 + d % tsc_hz * 1000000 / tsc_hz;
}

uint64_t time_now_ms(void)
{
	return time_now_us() / 1000;
}

void time_delay_us(uint64_t us)
{
	uint64_t end = time_now_us() + us;

	while (time_now_us() < end)
		cpu_relax();
}
