#include "hv/apic_host.h"
#include "hv/error.h"
#include "hv/pcpu.h"
#include "hv/time.h"
#include "hv/x86.h"

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

/* Registers by xAPIC offset; x2APIC MSR = 0x800 + offset / 16 (SDM 11.12.1.2). */
#define REG_ID 0x20
#define REG_EOI 0xb0
#define REG_ISR 0x100
#define REG_SVR 0xf0
#define REG_ICR_LOW 0x300
#define REG_ICR_HIGH 0x310
#define REG_LVT_TIMER 0x320
#define REG_LVT_LINT0 0x350
#define REG_LVT_LINT1 0x360
#define REG_LVT_ERROR 0x370
#define ICR_PENDING (1u << 12)
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR 0x390
#define REG_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)
#define SVR_ENABLE (1u << 8)

static bool x2apic, deadline_mode, ready;
static volatile uint32_t *mmio;
static uint64_t tsc_per_count; /* one-shot mode: TSC ticks per timer count, x 256 */

static uint32_t rd(unsigned reg)
{
	return x2apic ? (uint32_t)rdmsr(0x800 + reg / 16) : mmio[reg / 4];
}

static void wr(unsigned reg, uint32_t v)
{
	if (x2apic)
		wrmsr(0x800 + reg / 16, v);
	else
		mmio[reg / 4] = v;
}

static void mask_pic(void)
{
	/* Remap first (so a spurious IRQ cannot look like an exception), then mask all. */
	static const uint8_t init[] = { 0x11, 0x20, 4, 1, 0x11, 0x28, 2, 1 };

	outb(0x20, init[0]), outb(0x21, init[1]), outb(0x21, init[2]), outb(0x21, init[3]);
	outb(0xa0, init[4]), outb(0xa1, init[5]), outb(0xa1, init[6]), outb(0xa1, init[7]);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

/* The timer's rate in one-shot mode, against the calibrated TSC: count down from a
 * large value for about a millisecond. */
static void calibrate(void)
{
	uint64_t t0, t1;
	uint32_t c0 = 0xffffffffu, c1;

	wr(REG_TIMER_DIV, 0xb); /* divide by 1 */
	wr(REG_LVT_TIMER, LVT_MASKED | VEC_IDLE_TIMER);
	wr(REG_TIMER_INIT, c0);
	t0 = rdtsc();
	while (rdtsc() - t0 < time_tsc_hz() / 1000)
		cpu_relax();
	c1 = rd(REG_TIMER_CUR);
	t1 = rdtsc();
	wr(REG_TIMER_INIT, 0);
	tsc_per_count = c0 > c1 ? (t1 - t0) * 256 / (c0 - c1) : 256;
	if (!tsc_per_count)
		tsc_per_count = 1;
}

bool apic_host_init(void)
{
	uint64_t base;

	mask_pic();
	if (!(cpuid(1, 0).edx & (1u << 9)))
		return false;
	base = rdmsr(MSR_APIC_BASE);
	if (!(base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, base |= APIC_BASE_ENABLE);
	x2apic = base & APIC_BASE_X2APIC;
	mmio = (volatile uint32_t *)(uintptr_t)(base & 0xfffff000ull);
	wr(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
	deadline_mode = cpuid(1, 0).ecx & (1u << 24);
	if (deadline_mode)
		wr(REG_LVT_TIMER, LVT_TSC_DEADLINE | VEC_IDLE_TIMER);
	else
		calibrate();
	ready = true;
	return true;
}

void apic_host_arm(uint64_t tsc)
{
	uint64_t now = rdtsc(), counts;

	if (!ready)
		return;
	if (deadline_mode) {
		wrmsr(MSR_TSC_DEADLINE, tsc > now ? tsc : now + 1);
		return;
	}
	counts = tsc > now ? (tsc - now) * 256 / tsc_per_count : 1;
	wr(REG_LVT_TIMER, VEC_IDLE_TIMER);
	wr(REG_TIMER_INIT, counts > 0xffffffffu ? 0xffffffffu : (uint32_t)(counts ? counts : 1));
}

void apic_host_disarm(void)
{
	if (!ready)
		return;
	if (deadline_mode)
		wrmsr(MSR_TSC_DEADLINE, 0);
	else
		wr(REG_TIMER_INIT, 0);
}

uint32_t apic_host_id(void)
{
	return x2apic ? (uint32_t)rdmsr(0x802) : mmio[REG_ID / 4] >> 24;
}

/* The AP's IA32_APIC_BASE after INIT keeps its mode (SDM 11.12.5.1); the boot CPU
 * chose the mode for all, and x2APIC is entered from xAPIC, never the other way. */
void apic_host_ap_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;

	wrmsr(MSR_APIC_BASE, base);
	if (x2apic && !(base & APIC_BASE_X2APIC))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_X2APIC);
	/* its own idle timer (hv/idle.c), as the boot CPU's; one-shot mode arms it then */
	wr(REG_LVT_TIMER, deadline_mode ? LVT_TSC_DEADLINE | VEC_IDLE_TIMER : LVT_MASKED);
	wr(REG_LVT_LINT0, LVT_MASKED);
	wr(REG_LVT_LINT1, LVT_MASKED);
	wr(REG_LVT_ERROR, LVT_MASKED);
	wr(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

int apic_host_send(uint32_t dest, uint32_t icr)
{
	if (x2apic) {
		wrmsr(0x830, (uint64_t)dest << 32 | icr);
		return 0;
	}
	mmio[REG_ICR_HIGH / 4] = dest << 24;
	mmio[REG_ICR_LOW / 4] = icr;
	for (unsigned i = 0; i < 1000; i++) {
		if (!(mmio[REG_ICR_LOW / 4] & ICR_PENDING))
			return 0;
		time_delay_us(1);
	}
	return -E_IO;
}

/* In service: the In-Service Register's bit for a vector (SDM 11.8.4). */
static bool in_service(unsigned vector)
{
	return rd(REG_ISR + vector / 32 * 0x10) & (1u << (vector % 32));
}

/* A wake-up IPI is counted on the CPU that took it, for `info cpu`'s answered. */
void apic_host_irq(void)
{
	if (in_service(VEC_WAKE))
		__atomic_fetch_add(&pcpu_this()->ipis, 1, __ATOMIC_RELEASE);
	wr(REG_EOI, 0);
}
