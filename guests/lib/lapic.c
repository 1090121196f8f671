#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/tsc.h"

#define MSR_APIC_BASE 0x1B
#define APIC_BASE_EXTD (1u << 10) /* x2APIC mode */
#define APIC_BASE_EN (1u << 11)
#define APIC_BASE_ADDR 0xFFFFF000u /* below 4 GiB: paging is off */
#define MSR_X2APIC_FIRST 0x800
#define SVR_ENABLE (1u << 8)
#define CAL_MS 10
#define CAL_RUNS 3

enum lapic_mode lapic_mode;
uintptr_t lapic_mmio;
volatile uint32_t lapic_spurious;

static const char *const mode_names[] = {
	[LAPIC_OFF] = "off", [LAPIC_XAPIC] = "xapic", [LAPIC_X2APIC] = "x2apic",
};

const char *lapic_mode_name(enum lapic_mode mode)
{
	return mode_names[mode];
}

bool lapic_mode_parse(const char *name, enum lapic_mode *mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++) {
		if (!strcmp(name, mode_names[i])) {
			*mode = i;
			return true;
		}
	}
	return false;
}

uint32_t lapic_read(uint32_t reg)
{
	if (lapic_mode == LAPIC_X2APIC)
		return rdmsr(MSR_X2APIC_FIRST + (reg >> 4));
	return *(volatile uint32_t *)(lapic_mmio + reg);
}

void lapic_write(uint32_t reg, uint32_t val)
{
	if (lapic_mode == LAPIC_X2APIC)
		wrmsr(MSR_X2APIC_FIRST + (reg >> 4), val);
	else
		*(volatile uint32_t *)(lapic_mmio + reg) = val;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0); /* x2APIC: a non-zero EOI write raises #GP */
}

uint32_t lapic_id(void)
{
	uint32_t id = lapic_read(LAPIC_ID);

	return lapic_mode == LAPIC_X2APIC ? id : id >> 24;
}

uint32_t lapic_esr(void)
{
	lapic_write(LAPIC_ESR, 0);
	return lapic_read(LAPIC_ESR);
}

/* SDM 3A, 10.9: a spurious vector does not set an ISR bit, so it takes no EOI. */
static void spurious(uint32_t vector)
{
	lapic_spurious++;
}

static bool offered(enum lapic_mode mode)
{
	struct cpuid_regs r = cpuid_sub(1, 0);

	if (mode == LAPIC_X2APIC && !(r.c & CPUID1_ECX_X2APIC))
		return false;
	return mode == LAPIC_OFF || (r.d & CPUID1_EDX_APIC);
}

bool lapic_init(enum lapic_mode mode)
{
	uint64_t base;

	if (!offered(mode))
		return false;
	base = rdmsr(MSR_APIC_BASE);
	/* x2APIC -> xAPIC is illegal, x2APIC -> disabled -> xAPIC is not (10.12.5) */
	if ((base & APIC_BASE_EXTD) && mode != LAPIC_X2APIC) {
		base &= ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD);
		wrmsr(MSR_APIC_BASE, base);
	}
	lapic_mode = mode;
	if (mode == LAPIC_OFF) {
		wrmsr(MSR_APIC_BASE, base & ~(uint64_t)APIC_BASE_EN);
		return true;
	}
	/* disabled -> x2APIC is illegal too: through xAPIC first */
	base |= APIC_BASE_EN;
	wrmsr(MSR_APIC_BASE, base);
	if (mode == LAPIC_X2APIC)
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
	lapic_mmio = base & APIC_BASE_ADDR;

	irq_set_handler(LAPIC_SPURIOUS_VECTOR, spurious);
	lapic_write(LAPIC_SVR, SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
	lapic_esr();
	return true;
}

void lapic_virtual_wire(void)
{
	if (lapic_mode == LAPIC_OFF)
		return;
	lapic_write(LAPIC_LVT_LINT0, LVT_DM_EXTINT);
	lapic_write(LAPIC_LVT_LINT1, LVT_DM_NMI);
}

/* SDM 3A, figure 10-10: bits 3,1,0 hold log2(div) - 1, with 111b meaning 1 */
static uint32_t div_code(uint32_t div)
{
	uint32_t n = 0;

	while ((1u << n) < div)
		n++;
	n = (n + 7) & 7;
	return (n & 3) | (n & 4) << 1;
}

void lapic_timer_start(uint32_t div, uint32_t lvt, uint32_t count)
{
	lapic_write(LAPIC_TIMER_DIV, div_code(div));
	lapic_write(LAPIC_LVT_TIMER, lvt);
	lapic_write(LAPIC_TIMER_INIT, count); /* writing the count starts it */
}

static uint32_t current_count(void)
{
	return lapic_read(LAPIC_TIMER_CUR);
}

/* Counts the timer down (masked, divide by 1) over CAL_MS of the TSC, between two
 * narrow samples (tsc_sample); the median of a few runs. */
static uint32_t measure(uint32_t tsc_khz)
{
	uint32_t k[CAL_RUNS], c0 = 0, c1 = 0, t;
	uint64_t t0 = 0, t1 = 0;

	for (int i = 0; i < CAL_RUNS; i++) {
		lapic_timer_start(1, LVT_MASKED | LVT_TIMER_ONESHOT, UINT32_MAX);
		tsc_sample(current_count, &t0, &c0);
		tsc_spin((uint64_t)tsc_khz * CAL_MS);
		tsc_sample(current_count, &t1, &c1);
		lapic_write(LAPIC_TIMER_INIT, 0);
		k[i] = (uint64_t)(c0 - c1) * tsc_khz / (t1 - t0);
		for (int j = i; j > 0 && k[j] < k[j - 1]; j--)
			t = k[j], k[j] = k[j - 1], k[j - 1] = t;
	}
	return k[CAL_RUNS / 2];
}

uint32_t lapic_timer_khz(uint32_t tsc_khz, const char **source)
{
	uint32_t khz;

	if (cpuid_hv_max() >= CPUID_HV_TIMING && (khz = cpuid_sub(CPUID_HV_TIMING, 0).b)) {
		*source = "cpuid 0x40000010";
		return khz;
	}
	/* Where leaf 0x15 states the crystal, the APIC timer runs from it (SDM 3A,
	 * 10.5.4: the core crystal clock frequency) */
	if (cpuid_max() >= 0x15 && (khz = cpuid_sub(0x15, 0).c / 1000)) {
		*source = "cpuid 0x15";
		return khz;
	}
	*source = "measured against the tsc";
	return measure(tsc_khz);
}
