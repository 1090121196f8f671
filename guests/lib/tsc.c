#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/pit.h"
#include "guests/lib/tsc.h"

#define CAL_COUNT 59659 /* PIT clocks: 50 ms */
#define CAL_RUNS 3
#define CAL_TRIES 10
#define SAMPLE_TRIES 8
#define MAX_POLLS 10000000u /* a PIT that does not count must not hang the guest */

static uint32_t known_khz;
static const char *known_source;

static uint32_t from_hv_leaf(void)
{
	if (cpuid_hv_max() < CPUID_HV_TIMING)
		return 0;
	return cpuid_sub(CPUID_HV_TIMING, 0).a;
}

/* SDM 2A, CPUID leaf 15H: TSC Hz = ECX * EBX / EAX; EBX or ECX 0 means not stated. */
static uint32_t from_leaf_15(void)
{
	struct cpuid_regs r;

	if (cpuid_max() < 0x15)
		return 0;
	r = cpuid_sub(0x15, 0);
	if (!r.a || !r.b || !r.c)
		return 0;
	return (uint64_t)r.c * r.b / r.a / 1000;
}

void tsc_sample(uint32_t (*read)(void), uint64_t *tsc, uint32_t *val)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < SAMPLE_TRIES; i++) {
		uint64_t t0 = rdtsc();
		uint32_t v = read();
		uint64_t t1 = rdtsc();

		if (t1 - t0 < best) {
			best = t1 - t0;
			*tsc = t0 + best / 2;
			*val = v;
		}
	}
}

static uint32_t pit_count(void)
{
	return pit_ch2_count();
}

/* TSC cycles over PIT clocks between two samples about CAL_COUNT clocks apart: the
 * error is the samples' width, not how late the vCPU saw the end (on a busy host QEMU
 * TCG's can be late by many milliseconds). A run in which the count went past zero
 * (OUT2 rose: the vCPU was away so long that the count may have wrapped) is void, as
 * is one whose count did not go down as far as polled: 0 for those. */
static uint32_t measure(void)
{
	uint64_t t0 = 0, t1 = 0;
	uint32_t c0 = 0, c1 = 0, polls = 0;

	pit_ch2_start(0xffff);
	tsc_sample(pit_count, &t0, &c0);
	while ((uint16_t)(c0 - pit_ch2_count()) < CAL_COUNT && !pit_ch2_out())
		if (++polls == MAX_POLLS)
			return 0;
	tsc_sample(pit_count, &t1, &c1);
	if (pit_ch2_out() || (uint16_t)(c0 - c1) < CAL_COUNT)
		return 0;
	return (t1 - t0) * PIT_HZ / (uint16_t)(c0 - c1) / 1000;
}

/* The median of a few good measurements, in case a sample was still wide */
static uint32_t from_pit(void)
{
	uint32_t k[CAL_RUNS], n = 0, t;

	for (int tries = 0; tries < CAL_TRIES && n < CAL_RUNS; tries++) {
		if (!(k[n] = measure()))
			continue;
		for (int j = n++; j > 0 && k[j] < k[j - 1]; j--)
			t = k[j], k[j] = k[j - 1], k[j - 1] = t;
	}
	return n ? k[n / 2] : 0;
}

uint32_t tsc_khz_pit(void)
{
	return from_pit();
}

uint32_t tsc_khz(const char **source)
{
	if (!known_khz) {
		if ((known_khz = from_hv_leaf()))
			known_source = "cpuid 0x40000010";
		else if ((known_khz = from_leaf_15()))
			known_source = "cpuid 0x15";
		else if ((known_khz = from_pit()))
			known_source = "pit channel 2";
		else
			known_source = "nothing (the PIT never counted down)";
	}
	if (source)
		*source = known_source;
	return known_khz;
}

void tsc_spin(uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	while (rdtsc() - t0 < cycles)
		asm volatile("pause");
}
