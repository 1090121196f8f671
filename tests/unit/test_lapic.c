#include <stdio.h>
#include <string.h>
#include "hv/dev/lapic.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

#define TSC_HZ 2400000000ull /* guest TSC = now * 2.4 */

static uint32_t page[1024] __attribute__((aligned(4096)));
static struct lapic A;
static struct dev_log LOG;
static int nlog;
static char last_log[160];
static uint8_t eois[32];
static int neoi;
static struct apic_msg ipi;
static int nipi;
static bool ipi_taken;

static void emit(void *ctx, const char *line)
{
	nlog++;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static void fake_eoi(void *ctx, uint8_t v)
{
	if (neoi < 32)
		eois[neoi] = v;
	neoi++;
}

static bool fake_ipi(void *ctx, const struct lapic *from, const struct apic_msg *m)
{
	assert_ptr_equal(from, &A);
	ipi = *m;
	nipi++;
	return ipi_taken;
}

static const struct lapic_ops ops = { fake_eoi, fake_ipi, NULL, &LOG, NULL };

/* A fresh APIC with the given ID, software-enabled. */
static void fresh(uint32_t id, bool tsc_deadline)
{
	LOG = (struct dev_log){ emit, NULL, 0 };
	nlog = neoi = nipi = 0;
	ipi_taken = false;
	memset(page, 0xa5, sizeof(page));
	lapic_init(&A, page, id, TSC_HZ, tsc_deadline, &ops, 0);
	lapic_mmio_write(&A, APIC_SVR, 4, 0x1ff, 0);
}

static void wr(uint32_t off, uint32_t v, uint64_t now)
{
	lapic_mmio_write(&A, off, 4, v, now);
}

static uint32_t rd(uint32_t off, uint64_t now)
{
	return (uint32_t)lapic_mmio_read(&A, off, 4, now);
}

static bool vec_in(uint32_t base, unsigned v)
{
	return rd(base + v / 32 * 16, 0) >> (v % 32) & 1;
}

static void fixed(uint8_t v, bool level)
{
	struct apic_msg m = { .vector = v, .mode = APIC_DM_FIXED, .level = level };

	lapic_deliver(&A, &m);
}

/* ESR as software reads it: write, then read (SDM 11.5.3). */
static uint32_t esr(void)
{
	wr(APIC_ESR, 0, 0);
	return rd(APIC_ESR, 0);
}

static bool msr_rd(uint32_t msr, uint64_t *v)
{
	return lapic_msr_read(&A, msr, v, 0);
}

static bool msr_wr(uint32_t msr, uint64_t v)
{
	return lapic_msr_write(&A, msr, v, 0);
}

static void to_x2apic(void)
{
	assert_true(msr_wr(MSR_IA32_APIC_BASE, LAPIC_BASE_DEFAULT | APIC_BASE_EN |
			   APIC_BASE_EXTD));
}

static void test_power_up(void **state)
{
	uint64_t base;

	fresh(0, false);
	lapic_init(&A, page, 0, TSC_HZ, false, &ops, 0);
	assert_int_equal(rd(APIC_VER, 0), 0x00050014);
	assert_int_equal(rd(APIC_ID, 0), 0);
	assert_int_equal(rd(APIC_SVR, 0), 0xff);
	assert_int_equal(rd(APIC_DFR, 0), 0xffffffff);
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		assert_int_equal(rd(APIC_LVT_TIMER + 16 * i, 0), 1u << 16);
	assert_int_equal(rd(APIC_IRR + 0x70, 0), 0);
	assert_true(msr_rd(MSR_IA32_APIC_BASE, &base));
	assert_int_equal(base, 0xfee00900); /* enabled, BSP */
	assert_int_equal(lapic_mmio_base(&A), 0xfee00000);
	lapic_init(&A, page, 3, TSC_HZ, false, &ops, 0);
	assert_int_equal(rd(APIC_ID, 0), 0x03000000);
	assert_true(msr_rd(MSR_IA32_APIC_BASE, &base));
	assert_int_equal(base, 0xfee00800); /* not the BSP */
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
}

static void test_priority_classes(void **state)
{
	fresh(0, false);
	assert_int_equal(lapic_pending(&A), -1);
	fixed(0x38, false);
	fixed(0x45, false);
	assert_int_equal(lapic_pending(&A), 0x45);
	wr(APIC_TPR, 0x40, 0); /* same class as 0x45: blocked, 0x38 too */
	assert_int_equal(lapic_pending(&A), -1);
	assert_int_equal(rd(APIC_PPR, 0), 0x40);
	wr(APIC_TPR, 0x3f, 0); /* class 3: 0x45 beats it */
	assert_int_equal(lapic_pending(&A), 0x45);
	wr(APIC_TPR, 0, 0);
	lapic_accept(&A, 0x45);
	assert_int_equal(rd(APIC_PPR, 0), 0x40); /* the in-service class */
	assert_int_equal(lapic_pending(&A), -1); /* 0x38 is a lower class */
	fixed(0x4f, false);
	assert_int_equal(lapic_pending(&A), -1); /* same class as the one in service */
	fixed(0x51, false);
	assert_int_equal(lapic_pending(&A), 0x51);
	wr(APIC_TPR, 0x65, 0);
	assert_int_equal(rd(APIC_PPR, 0), 0x65); /* TPR's class above ISR's: PPR = TPR */
	assert_int_equal(lapic_pending(&A), -1);
	assert_int_equal(rd(APIC_APR, 0), 0);
}

static void test_nested_accept_eoi(void **state)
{
	fresh(0, false);
	fixed(0x30, false);
	lapic_accept(&A, 0x30);
	assert_true(vec_in(APIC_ISR, 0x30));
	assert_false(vec_in(APIC_IRR, 0x30));
	fixed(0x50, false);
	assert_int_equal(lapic_pending(&A), 0x50);
	lapic_accept(&A, 0x50);
	assert_int_equal(rd(APIC_PPR, 0), 0x50);
	wr(APIC_EOI, 0, 0); /* the highest in service: 0x50 */
	assert_false(vec_in(APIC_ISR, 0x50));
	assert_true(vec_in(APIC_ISR, 0x30));
	assert_int_equal(rd(APIC_PPR, 0), 0x30);
	wr(APIC_EOI, 0, 0);
	assert_false(vec_in(APIC_ISR, 0x30));
	assert_int_equal(rd(APIC_PPR, 0), 0);
	assert_int_equal(neoi, 0); /* edge-triggered: no broadcast */
	assert_int_equal(nlog, 0);
	wr(APIC_EOI, 0, 0); /* nothing in service: harmless, said once */
	wr(APIC_EOI, 0, 0);
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(last_log, "EOI with nothing in service"));
	lapic_accept(&A, 0x77); /* not requested: ignored, said once */
	assert_false(vec_in(APIC_ISR, 0x77));
}

static void test_level_eoi_broadcast(void **state)
{
	fresh(0, false);
	fixed(0x61, true);
	fixed(0x62, false);
	assert_true(vec_in(APIC_TMR, 0x61));
	assert_false(vec_in(APIC_TMR, 0x62));
	lapic_accept(&A, 0x62);
	lapic_accept(&A, 0x61);
	assert_true(vec_in(APIC_TMR, 0x61)); /* kept while in service */
	wr(APIC_EOI, 0, 0); /* 0x62 first */
	assert_int_equal(neoi, 0);
	wr(APIC_EOI, 0, 0);
	assert_int_equal(neoi, 1);
	assert_int_equal(eois[0], 0x61);
	/* The CPU did the EOI itself (virtual-interrupt delivery): ISR already clear. */
	fixed(0x70, true);
	lapic_accept(&A, 0x70);
	page[(APIC_ISR + 0x70 / 32 * 16) / 4] &= ~(1u << (0x70 % 32));
	lapic_eoi_done(&A, 0x70);
	assert_int_equal(neoi, 2);
	assert_int_equal(eois[1], 0x70);
	assert_int_equal(rd(APIC_PPR, 0), 0);
}

static void test_cpu_wrote_page(void **state)
{
	fresh(0, false);
	fixed(0x45, false);
	page[APIC_TPR / 4] = 0x50; /* TPR shadow: the CPU wrote it */
	assert_int_equal(lapic_pending(&A), -1);
	lapic_write_done(&A, APIC_TPR, 0);
	assert_int_equal(page[APIC_PPR / 4], 0x50);
	page[APIC_LVT_LINT0 / 4] = 0xffffffff; /* reserved bits set: the model keeps its own */
	lapic_write_done(&A, APIC_LVT_LINT0, 0);
	assert_int_equal(rd(APIC_LVT_LINT0, 0), 0x1a7ff);
	page[APIC_TMICT / 4] = 100; /* APIC-write exit after TMICT */
	lapic_write_done(&A, APIC_TMICT, 1000);
	assert_int_equal(lapic_next_event(&A), 1000 + 200); /* divide by 2 after reset */
	page[APIC_ESR / 4] = 0x1234;
	lapic_write_done(&A, APIC_ESR, 0); /* latches: nothing went wrong */
	assert_int_equal(rd(APIC_ESR, 0), 0);
}

/* MOV to/from CR8 on the trapping path: TPR[7:4], TPR[3:0] cleared, PPR follows. */
static void test_cr8(void **state)
{
	fresh(0, false);
	wr(APIC_TPR, 0x5a, 0);
	assert_int_equal(lapic_cr8(&A), 5);
	lapic_set_cr8(&A, 3, 0);
	assert_int_equal(rd(APIC_TPR, 0), 0x30);
	assert_int_equal(rd(APIC_PPR, 0), 0x30);
	fixed(0x35, false);
	assert_int_equal(lapic_pending(&A), -1); /* class 3 does not beat TPR 3 */
	lapic_set_cr8(&A, 2, 0);
	assert_int_equal(lapic_pending(&A), 0x35);
	lapic_set_cr8(&A, 0xff, 0); /* the caller checked reserved bits; only 3:0 count */
	assert_int_equal(rd(APIC_TPR, 0), 0xf0);
}

/* TDCR encodings and their dividers (SDM Figure 11-10) */
static const struct { uint32_t tdcr; unsigned div; } dividers[] = {
	{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
	{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
};

static void test_one_shot_each_divider(void **state)
{
	for (unsigned i = 0; i < ARRAY_SIZE(dividers); i++) {
		uint64_t t0 = 5000, div = dividers[i].div, t;

		fresh(0, false);
		wr(APIC_TDCR, dividers[i].tdcr, 0);
		wr(APIC_LVT_TIMER, 0x40, 0); /* one-shot, vector 0x40, unmasked */
		wr(APIC_TMICT, 1000, t0);
		assert_int_equal(rd(APIC_TMICT, t0), 1000);
		assert_int_equal(rd(APIC_TMCCT, t0), 1000);
		assert_int_equal(lapic_next_event(&A), t0 + 1000 * div);
		t = t0 + 250 * div;
		assert_int_equal(rd(APIC_TMCCT, t), 750);
		assert_int_equal(rd(APIC_TMCCT, t + 1), 1000 - (250 * div + 1) / div);
		lapic_run(&A, t0 + 1000 * div - 1);
		assert_false(vec_in(APIC_IRR, 0x40));
		assert_int_equal(rd(APIC_TMCCT, t0 + 1000 * div - 1), 1);
		lapic_run(&A, t0 + 1000 * div);
		assert_true(vec_in(APIC_IRR, 0x40));
		assert_false(vec_in(APIC_TMR, 0x40));
		assert_int_equal(lapic_next_event(&A), DEV_NEVER);
		assert_int_equal(rd(APIC_TMCCT, t0 + 1000 * div), 0);
		assert_int_equal(rd(APIC_TMCCT, t0 + 5000 * div), 0);
	}
}

static void test_periodic_each_divider(void **state)
{
	for (unsigned i = 0; i < ARRAY_SIZE(dividers); i++) {
		uint64_t t0 = 777, div = dividers[i].div;

		fresh(0, false);
		wr(APIC_TDCR, dividers[i].tdcr, 0);
		wr(APIC_LVT_TIMER, 1u << 17 | 0x40, 0);
		wr(APIC_TMICT, 10, t0);
		assert_int_equal(lapic_next_event(&A), t0 + 10 * div);
		lapic_run(&A, t0 + 10 * div);
		assert_true(vec_in(APIC_IRR, 0x40));
		assert_int_equal(lapic_next_event(&A), t0 + 20 * div);
		assert_int_equal(rd(APIC_TMCCT, t0 + 10 * div), 10); /* reloaded */
		assert_int_equal(rd(APIC_TMCCT, t0 + 13 * div), 7);
		assert_int_equal(rd(APIC_TMCCT, t0 + 20 * div - 1), 1);
	}
}

static void take_timer(uint8_t v)
{
	lapic_accept(&A, v);
	wr(APIC_EOI, 0, 0);
}

static void test_periodic_coalesces(void **state)
{
	fresh(0, false);
	wr(APIC_TDCR, 0xb, 0); /* divide by 1: 1 ns per count */
	wr(APIC_LVT_TIMER, 1u << 17 | 0x40, 0);
	wr(APIC_TMICT, 100, 1000);
	assert_int_equal(lapic_next_event(&A), 1100);
	lapic_run(&A, 1100);
	assert_true(vec_in(APIC_IRR, 0x40));
	take_timer(0x40);
	assert_int_equal(lapic_next_event(&A), 1200);
	assert_int_equal(rd(APIC_TMCCT, 1150), 50);
	/* nine periods pass unserved: the count keeps running, one interrupt for all */
	assert_int_equal(rd(APIC_TMCCT, 2050), 50);
	lapic_run(&A, 2050);
	assert_true(vec_in(APIC_IRR, 0x40));
	assert_int_equal(lapic_next_event(&A), 2100);
	take_timer(0x40);
	lapic_run(&A, 2050);
	assert_false(vec_in(APIC_IRR, 0x40));
	/* masked, it keeps counting and reloading, without interrupts */
	wr(APIC_LVT_TIMER, 1u << 17 | 1u << 16 | 0x40, 2050);
	lapic_run(&A, 2100);
	assert_false(vec_in(APIC_IRR, 0x40));
	assert_int_equal(lapic_next_event(&A), 2200);
	/* to one-shot: this period is the last */
	wr(APIC_LVT_TIMER, 0x40, 2150);
	lapic_run(&A, 2200);
	assert_true(vec_in(APIC_IRR, 0x40));
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
	wr(APIC_TMICT, 0, 2300); /* stop */
	assert_int_equal(rd(APIC_TMCCT, 2300), 0);
}

static void test_divider_change_mid_count(void **state)
{
	fresh(0, false);
	wr(APIC_LVT_TIMER, 0x40, 0);
	wr(APIC_TMICT, 1000, 0); /* divide by 2: expires at 2000 */
	assert_int_equal(rd(APIC_TMCCT, 600), 700);
	wr(APIC_TDCR, 0x2, 600); /* divide by 8 from now: 700 counts left */
	assert_int_equal(rd(APIC_TMCCT, 600), 700);
	assert_int_equal(rd(APIC_TMCCT, 680), 690);
	assert_int_equal(lapic_next_event(&A), 600 + 700 * 8);
}

static void test_tsc_deadline(void **state)
{
	uint64_t v;

	fresh(0, true);
	wr(APIC_LVT_TIMER, 2u << 17 | 0x41, 0);
	assert_int_equal(rd(APIC_LVT_TIMER, 0), 2u << 17 | 0x41);
	wr(APIC_TMICT, 500, 0); /* ignored in TSC-deadline mode */
	assert_int_equal(rd(APIC_TMICT, 0), 0);
	assert_true(msr_wr(MSR_IA32_TSC_DEADLINE, 1000));
	assert_true(msr_rd(MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 1000);
	/* TSC(t) = floor(2.4 t): TSC(416) = 998, TSC(417) = 1000 */
	assert_int_equal(lapic_next_event(&A), 417);
	lapic_run(&A, 416);
	assert_false(vec_in(APIC_IRR, 0x41));
	lapic_run(&A, 417);
	assert_true(vec_in(APIC_IRR, 0x41));
	assert_true(msr_rd(MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 0); /* fired: disarmed */
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
	/* a deadline already past is due at once */
	assert_true(lapic_msr_write(&A, MSR_IA32_TSC_DEADLINE, 10, 1000));
	assert_true(lapic_next_event(&A) <= 1000);
	/* leaving TSC-deadline mode disarms it; the MSR reads 0 and ignores writes */
	wr(APIC_LVT_TIMER, 0x41, 1000);
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
	assert_true(msr_wr(MSR_IA32_TSC_DEADLINE, 5000));
	assert_true(msr_rd(MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 0);
	wr(APIC_LVT_TIMER, 2u << 17 | 0x41, 1000);
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
	/* a running one-shot count is dropped by the switch */
	wr(APIC_LVT_TIMER, 0x41, 1000);
	wr(APIC_TMICT, 100, 1000);
	wr(APIC_LVT_TIMER, 2u << 17 | 0x41, 1010);
	assert_int_equal(rd(APIC_TMICT, 1010), 0);
	assert_int_equal(rd(APIC_TMCCT, 1010), 0);
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
}

static void test_tsc_deadline_not_offered(void **state)
{
	uint64_t v;

	fresh(0, false);
	assert_false(msr_rd(MSR_IA32_TSC_DEADLINE, &v));
	assert_false(msr_wr(MSR_IA32_TSC_DEADLINE, 1));
	wr(APIC_LVT_TIMER, 2u << 17 | 0x41, 0); /* bit 18 is reserved then */
	assert_int_equal(rd(APIC_LVT_TIMER, 0), 0x41);
	to_x2apic();
	assert_false(msr_wr(0x832, 2u << 17 | 0x41));
	assert_true(msr_wr(0x832, 1u << 17 | 0x41));
}

static void test_mode_switches(void **state)
{
	uint64_t v;

	fresh(0x25, false);
	assert_int_equal(rd(APIC_ID, 0), 0x25000000);
	assert_false(msr_rd(0x802, &v)); /* x2APIC MSRs #GP in xAPIC mode */
	wr(APIC_TPR, 0x20, 0);
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 0xfee00000 | APIC_BASE_EXTD)); /* EXTD, !EN */
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 0xfee00801)); /* reserved bit 0 */
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 0xfee00a00)); /* reserved bit 9 */
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 1ull << 36 | 0xfee00800)); /* > MAXPHYADDR */
	lapic_set_phys_bits(&A, 40);
	assert_true(msr_wr(MSR_IA32_APIC_BASE, 1ull << 36 | 0xfee00800)); /* moved */
	assert_int_equal(lapic_mmio_base(&A), 1ull << 36 | 0xfee00000);
	to_x2apic();
	assert_true(lapic_x2apic(&A));
	assert_true(msr_rd(0x802, &v));
	assert_int_equal(v, 0x25);
	assert_true(msr_rd(0x80d, &v));
	assert_int_equal(v, 0x00020020); /* cluster 2, bit 5 */
	assert_true(msr_rd(0x808, &v));
	assert_int_equal(v, 0x20); /* kept across the switch */
	assert_true(msr_rd(MSR_IA32_APIC_BASE, &v));
	assert_int_equal(v, 0xfee00c00);
	/* the MMIO page is not the APIC's any more */
	assert_int_equal(lapic_mmio_read(&A, APIC_TPR, 4, 0), 0xffffffff);
	assert_non_null(strstr(last_log, "not in xAPIC mode"));
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 0xfee00800)); /* x2APIC to xAPIC: #GP */
	assert_true(lapic_x2apic(&A));
	assert_true(msr_wr(MSR_IA32_APIC_BASE, 0xfee00000)); /* to disabled */
	assert_false(lapic_enabled(&A));
	assert_int_equal(lapic_pending(&A), -1);
	assert_false(msr_wr(MSR_IA32_APIC_BASE, 0xfee00c00)); /* disabled to x2APIC: #GP */
	assert_true(msr_wr(MSR_IA32_APIC_BASE, 0xfee00800)); /* to xAPIC */
	assert_true(lapic_enabled(&A));
	assert_false(lapic_x2apic(&A));
	/* back to the power-up state, its ID the initial one */
	assert_int_equal(rd(APIC_TPR, 0), 0);
	assert_int_equal(rd(APIC_SVR, 0), 0xff);
	assert_int_equal(rd(APIC_ID, 0), 0x25000000);
	assert_int_equal(rd(APIC_LVT_LINT0, 0), 1u << 16);
}

static void test_global_disable_resets(void **state)
{
	fresh(0, false);
	wr(APIC_LVT_TIMER, 0x40, 0);
	wr(APIC_TMICT, 1000, 0);
	fixed(0x50, false);
	wr(APIC_ID, 0x07000000, 0); /* writable in xAPIC mode */
	assert_int_equal(rd(APIC_ID, 0), 0x07000000);
	assert_true(msr_wr(MSR_IA32_APIC_BASE, 0xfee00000));
	assert_true(lapic_extint(&A)); /* the PIC drives INTR directly */
	lapic_set_lint(&A, 1, true);   /* LINT1 is the NMI pin */
	assert_true(lapic_take_nmi(&A));
	assert_false(lapic_take_nmi(&A));
	fixed(0x51, false); /* not on the bus */
	assert_true(msr_wr(MSR_IA32_APIC_BASE, 0xfee00900));
	assert_int_equal(lapic_next_event(&A), DEV_NEVER);
	assert_int_equal(lapic_pending(&A), -1);
	assert_int_equal(rd(APIC_ID, 0), 0);
	assert_int_equal(rd(APIC_TMICT, 0), 0);
	assert_false(lapic_extint(&A)); /* LINT0 masked after reset */
}

static void test_x2apic_msr_rules(void **state)
{
	static const uint32_t read_only[] = { 0x802, 0x803, 0x80a, 0x80d, 0x810, 0x818,
					      0x820, 0x827, 0x839 };
	static const uint32_t write_only[] = { 0x80b, 0x83f };
	static const uint32_t absent[] = { 0x800, 0x809, 0x80c, 0x80e, 0x82f, 0x831, 0x83a,
					   0x840, 0x8ff };
	uint64_t v;

	fresh(1, false);
	to_x2apic();
	for (unsigned i = 0; i < ARRAY_SIZE(read_only); i++) {
		assert_true(msr_rd(read_only[i], &v));
		assert_false(msr_wr(read_only[i], 0));
	}
	for (unsigned i = 0; i < ARRAY_SIZE(write_only); i++)
		assert_false(msr_rd(write_only[i], &v));
	for (unsigned i = 0; i < ARRAY_SIZE(absent); i++) {
		assert_false(msr_rd(absent[i], &v));
		assert_false(msr_wr(absent[i], 0));
	}
	assert_true(msr_rd(0x802, &v));
	assert_int_equal(v, 1);
	assert_false(msr_wr(0x80b, 1)); /* EOI: only 0 */
	assert_true(msr_wr(0x80b, 0));
	assert_false(msr_wr(0x828, 1)); /* ESR: only 0 */
	assert_true(msr_wr(0x828, 0));
	assert_false(msr_wr(0x808, 0x100)); /* TPR: reserved bit 8 */
	assert_false(msr_wr(0x808, 1ull << 32)); /* bits 63:32 */
	assert_true(msr_wr(0x808, 0x30));
	assert_false(msr_wr(0x835, 1u << 20)); /* LVT reserved bit */
	assert_true(msr_wr(0x835, 1u << 12 | 0x700)); /* the read-only status bit is no fault */
	assert_true(msr_rd(0x835, &v));
	assert_int_equal(v, 0x700); /* ExtINT; delivery status reads idle */
	assert_true(lapic_extint(&A));
	/* ICR is one 64-bit register */
	ipi_taken = true;
	assert_true(msr_wr(0x830, 0x12345678ull << 32 | 0x4031));
	assert_true(msr_rd(0x830, &v));
	assert_int_equal(v, 0x12345678ull << 32 | 0x4031);
	assert_int_equal(nipi, 1);
	assert_int_equal(ipi.dest, 0x12345678);
	assert_int_equal(ipi.vector, 0x31);
	/* SELF IPI */
	assert_false(msr_wr(0x83f, 0x100));
	assert_true(msr_wr(0x83f, 0x99));
	assert_int_equal(lapic_pending(&A), 0x99);
	assert_true(msr_rd(0x820 + 0x99 / 32, &v));
	assert_int_equal(v, 1u << (0x99 % 32));
}

static void test_esr_illegal_vectors(void **state)
{
	fresh(0, false);
	assert_int_equal(esr(), 0);
	wr(APIC_ICR_LO, 1u << 18 | 5, 0); /* self, vector 5 */
	assert_int_equal(rd(APIC_ESR, 0), 0); /* not latched yet */
	assert_int_equal(esr(), ESR_SEND_ILLEGAL | ESR_RECV_ILLEGAL);
	assert_int_equal(rd(APIC_IRR, 0), 0);
	assert_int_equal(esr(), 0); /* the write cleared what it latched */
	/* to another APIC: a send error only, and nothing sent */
	wr(APIC_ICR_HI, 0x05000000, 0);
	wr(APIC_ICR_LO, 0x0f, 0);
	assert_int_equal(nipi, 0);
	assert_int_equal(esr(), ESR_SEND_ILLEGAL);
	/* received */
	fixed(10, false);
	assert_int_equal(esr(), ESR_RECV_ILLEGAL);
	/* an LVT with an illegal vector, when it fires; errors raise the error LVT */
	wr(APIC_LVT_ERROR, 0xfe, 0);
	wr(APIC_TDCR, 0xb, 0);
	wr(APIC_LVT_TIMER, 3, 0);
	wr(APIC_TMICT, 10, 0);
	lapic_run(&A, 10);
	assert_int_equal(rd(APIC_IRR, 0), 0);
	assert_true(vec_in(APIC_IRR, 0xfe));
	assert_int_equal(esr(), ESR_RECV_ILLEGAL);
	/* an error LVT with an illegal vector records that too, without looping */
	wr(APIC_LVT_ERROR, 0x02, 0);
	wr(APIC_ICR_LO, 1u << 18 | 1, 0);
	assert_int_equal(esr(), ESR_SEND_ILLEGAL | ESR_RECV_ILLEGAL);
}

static void test_svr_software_disable(void **state)
{
	struct apic_msg nmi = { .mode = APIC_DM_NMI };

	fresh(0, false);
	wr(APIC_LVT_TIMER, 0x40, 0);
	wr(APIC_LVT_LINT0, 0x700, 0);
	wr(APIC_LVT_LINT1, 0x400, 0);
	wr(APIC_SVR, 0xff, 0); /* software-disabled */
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		assert_true(rd(APIC_LVT_TIMER + 16 * i, 0) & 1u << 16);
	assert_int_equal(rd(APIC_LVT_LINT0, 0), 1u << 16 | 0x700);
	wr(APIC_LVT_TIMER, 0x40, 0); /* the mask cannot be cleared */
	assert_int_equal(rd(APIC_LVT_TIMER, 0), 1u << 16 | 0x40);
	assert_false(lapic_extint(&A));
	fixed(0x60, false); /* fixed interrupts are refused */
	assert_int_equal(lapic_pending(&A), -1);
	lapic_deliver(&A, &nmi); /* NMI still accepted */
	assert_true(lapic_take_nmi(&A));
	wr(APIC_SVR, 0x1ff, 0); /* enabled again: the LVTs stay masked until written */
	assert_true(rd(APIC_LVT_TIMER, 0) & 1u << 16);
	wr(APIC_LVT_TIMER, 0x40, 0);
	assert_int_equal(rd(APIC_LVT_TIMER, 0), 0x40);
}

static void test_bad_mmio_accesses(void **state)
{
	fresh(0, false);
	wr(APIC_TPR, 0xa7, 0);
	assert_int_equal(lapic_mmio_read(&A, APIC_TPR, 1, 0), 0xa7); /* byte 0 */
	assert_int_equal(lapic_mmio_read(&A, APIC_VER + 2, 2, 0), 0x0005);
	assert_int_equal(lapic_mmio_read(&A, APIC_VER, 8, 0), 0x00050014); /* then zeros */
	assert_int_equal(lapic_mmio_read(&A, APIC_TPR + 4, 4, 0), 0);
	assert_int_equal(nlog, 1); /* one line for all the odd sizes */
	lapic_mmio_write(&A, APIC_TPR, 1, 0x10, 0);
	lapic_mmio_write(&A, APIC_TPR + 4, 4, 0x10, 0);
	lapic_mmio_write(&A, APIC_TPR, 8, 0x10, 0);
	assert_int_equal(rd(APIC_TPR, 0), 0xa7);
	assert_int_equal(nlog, 1);
	/* reserved offsets: read 0, writes ignored, "illegal register address" */
	assert_int_equal(rd(0x40, 0), 0);
	wr(0x2f0, 0x10, 0); /* no LVT CMCI */
	wr(0x800, 0x10, 0);
	assert_int_equal(nlog, 2);
	assert_int_equal(esr(), ESR_ILLEGAL_REG);
	wr(APIC_VER, 0, 0); /* read-only: ignored */
	wr(APIC_PPR, 0, 0);
	wr(APIC_SELF_IPI, 0x40, 0); /* x2APIC only */
	assert_int_equal(rd(APIC_VER, 0), 0x00050014);
	assert_int_equal(lapic_pending(&A), -1);
	assert_int_equal(rd(APIC_EOI, 0), 0); /* write-only reads 0 */
	assert_int_equal(nlog, 3);
}

static void test_icr_shorthands(void **state)
{
	fresh(2, false);
	wr(APIC_ICR_LO, 1u << 18 | 0x41, 0); /* self */
	assert_true(vec_in(APIC_IRR, 0x41));
	assert_int_equal(nipi, 0);
	assert_int_equal(rd(APIC_ICR_LO, 0), 1u << 18 | 0x41); /* idle */
	ipi_taken = true;
	wr(APIC_ICR_LO, 2u << 18 | 0x42, 0); /* all including self */
	assert_true(vec_in(APIC_IRR, 0x42));
	assert_int_equal(nipi, 1);
	assert_int_equal(ipi.shorthand, APIC_SH_ALL);
	wr(APIC_ICR_LO, 3u << 18 | 0x43, 0); /* all but self */
	assert_false(vec_in(APIC_IRR, 0x43));
	assert_int_equal(nipi, 2);
	/* NMI to its own APIC ID: no one else is asked */
	wr(APIC_ICR_HI, 0x02000000, 0);
	wr(APIC_ICR_LO, 0x400, 0);
	assert_true(lapic_take_nmi(&A));
	assert_int_equal(nipi, 2);
	/* another APIC ID: the platform's; none there is said once */
	ipi_taken = false;
	wr(APIC_ICR_HI, 0x05000000, 0);
	wr(APIC_ICR_LO, 0x4050, 0);
	assert_int_equal(nipi, 3);
	assert_int_equal(ipi.dest, 5);
	assert_int_equal(ipi.vector, 0x50);
	assert_false(ipi.logical);
	assert_false(vec_in(APIC_IRR, 0x50));
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(last_log, "reaches no APIC"));
	/* physical broadcast: self and the others */
	wr(APIC_ICR_HI, 0xff000000, 0);
	wr(APIC_ICR_LO, 0x51, 0);
	assert_true(vec_in(APIC_IRR, 0x51));
	assert_int_equal(nipi, 4);
	/* level-triggered fixed IPI: TMR */
	wr(APIC_ICR_HI, 0x02000000, 0);
	wr(APIC_ICR_LO, 0xc052, 0);
	assert_true(vec_in(APIC_TMR, 0x52));
	/* INIT to itself: logged, ignored */
	wr(APIC_ICR_LO, 0x4500, 0);
	assert_int_equal(nlog, 2);
	assert_non_null(strstr(last_log, "INIT/SIPI"));
}

static void test_logical_match(void **state)
{
	fresh(2, false);
	wr(APIC_LDR, 0x04000000, 0); /* flat: bit 2 */
	assert_true(lapic_match(&A, 0x04, true));
	assert_true(lapic_match(&A, 0x0c, true));
	assert_false(lapic_match(&A, 0x08, true));
	assert_true(lapic_match(&A, 0xff, true));
	assert_true(lapic_match(&A, 2, false));
	assert_false(lapic_match(&A, 4, false));
	assert_true(lapic_match(&A, 0xff, false));
	ipi_taken = true;
	wr(APIC_ICR_HI, 0x0c000000, 0);
	wr(APIC_ICR_LO, 0x860, 0); /* logical: self and whoever else has bit 3 */
	assert_true(vec_in(APIC_IRR, 0x60));
	assert_int_equal(nipi, 1);
	assert_true(ipi.logical);
	wr(APIC_LDR, 0x02000000, 0); /* logical 2 is not APIC ID 2: others may have it */
	wr(APIC_ICR_HI, 0x02000000, 0);
	wr(APIC_ICR_LO, 0x861, 0);
	assert_true(vec_in(APIC_IRR, 0x61));
	assert_int_equal(nipi, 2);
	wr(APIC_DFR, 0x0fffffff, 0); /* cluster model */
	assert_int_equal(rd(APIC_DFR, 0), 0x0fffffff);
	wr(APIC_LDR, 0x32000000, 0); /* cluster 3, bit 1 */
	assert_true(lapic_match(&A, 0x32, true));
	assert_true(lapic_match(&A, 0x36, true));
	assert_false(lapic_match(&A, 0x22, true));
	assert_false(lapic_match(&A, 0x34, true));
	fresh(0x25, false);
	to_x2apic();
	assert_true(lapic_match(&A, 0x25, false));
	assert_false(lapic_match(&A, 0x05, false));
	assert_true(lapic_match(&A, 0x00020020, true));
	assert_true(lapic_match(&A, 0x00020021, true));
	assert_false(lapic_match(&A, 0x00010020, true));
	assert_true(lapic_match(&A, 0xffffffff, false));
	assert_false(lapic_match(&A, 0xff, false)); /* just ID 255 in x2APIC mode */
}

static void test_lint_pins(void **state)
{
	fresh(0, false);
	assert_false(lapic_extint(&A));
	wr(APIC_LVT_LINT0, 0x700, 0); /* ExtINT: virtual wire */
	assert_true(lapic_extint(&A));
	wr(APIC_LVT_LINT0, 1u << 16 | 0x700, 0);
	assert_false(lapic_extint(&A));
	wr(APIC_LVT_LINT1, 0x400, 0); /* NMI, on the rising edge */
	lapic_set_lint(&A, 1, true);
	lapic_set_lint(&A, 1, true);
	assert_true(lapic_take_nmi(&A));
	assert_false(lapic_take_nmi(&A));
	lapic_set_lint(&A, 1, false);
	assert_false(lapic_take_nmi(&A));
	/* fixed, edge, active low */
	wr(APIC_LVT_LINT1, 1u << 13 | 0x33, 0);
	lapic_set_lint(&A, 1, true);
	assert_false(vec_in(APIC_IRR, 0x33));
	lapic_set_lint(&A, 1, false);
	assert_true(vec_in(APIC_IRR, 0x33));
	assert_false(vec_in(APIC_TMR, 0x33));
	/* LINT1 cannot be level-triggered: an edge input, and said once */
	wr(APIC_LVT_LINT1, 1u << 15 | 0x34, 0);
	lapic_set_lint(&A, 1, true);
	assert_true(vec_in(APIC_IRR, 0x34));
	assert_false(vec_in(APIC_TMR, 0x34));
	assert_non_null(strstr(last_log, "LINT1 cannot be level-triggered"));
	/* an ExtINT message (through the I/O APIC) until the CPU takes it from the PIC */
	struct apic_msg ext = { .mode = APIC_DM_EXTINT };
	lapic_deliver(&A, &ext);
	assert_true(lapic_extint(&A));
	lapic_extint_taken(&A);
	assert_false(lapic_extint(&A));
}

static void test_lint0_level(void **state)
{
	struct irq_line line = { lapic_lint_line, &A, 0 };

	fresh(0, false);
	wr(APIC_LVT_LINT0, 1u << 16 | 1u << 15 | 0x44, 0); /* fixed, level, masked */
	irq_set(&line, true);
	assert_false(vec_in(APIC_IRR, 0x44)); /* masked */
	wr(APIC_LVT_LINT0, 1u << 15 | 0x44, 0); /* unmasked while asserted */
	assert_true(vec_in(APIC_IRR, 0x44));
	assert_true(vec_in(APIC_TMR, 0x44));
	assert_true(rd(APIC_LVT_LINT0, 0) & 1u << 14); /* remote IRR */
	lapic_accept(&A, 0x44);
	irq_set(&line, true);
	assert_false(vec_in(APIC_IRR, 0x44));
	wr(APIC_LVT_LINT0, 1u << 15 | 0x44, 0); /* a rewrite keeps remote IRR */
	assert_true(rd(APIC_LVT_LINT0, 0) & 1u << 14);
	wr(APIC_EOI, 0, 0); /* still asserted: again */
	assert_int_equal(neoi, 1);
	assert_true(vec_in(APIC_IRR, 0x44));
	lapic_accept(&A, 0x44);
	irq_set(&line, false);
	wr(APIC_EOI, 0, 0);
	assert_false(vec_in(APIC_IRR, 0x44));
	assert_false(rd(APIC_LVT_LINT0, 0) & 1u << 14);
	/* made an edge input while its remote IRR is set: the remote IRR goes */
	irq_set(&line, true);
	assert_true(rd(APIC_LVT_LINT0, 0) & 1u << 14);
	lapic_accept(&A, 0x44);
	wr(APIC_LVT_LINT0, 0x44, 0);
	assert_false(rd(APIC_LVT_LINT0, 0) & 1u << 14);
	wr(APIC_LVT_LINT0, 1u << 15 | 0x44, 0); /* level again, still asserted */
	assert_true(vec_in(APIC_IRR, 0x44));
}

static void test_records(void **state)
{
	static uint32_t page2[1024] __attribute__((aligned(4096)));
	struct lapic b;
	uint8_t buf[512];
	char err[160];
	size_t n;

	fresh(0, true);
	wr(APIC_TPR, 0x20, 0);
	wr(APIC_TDCR, 0x1, 0);
	wr(APIC_LVT_TIMER, 1u << 17 | 0x40, 0);
	wr(APIC_TMICT, 1000, 100);
	wr(APIC_LVT_LINT0, 1u << 15 | 0x44, 0);
	lapic_set_lint(&A, 0, true);
	fixed(0x90, true);
	lapic_accept(&A, 0x90);
	fixed(0x31, false);
	to_x2apic();
	lapic_save(&A);
	n = vms_encode(&lapic_vms, &A.s, buf);
	assert_true(n <= sizeof(buf));
	lapic_init(&b, page2, 0, TSC_HZ, true, &ops, 0);
	assert_int_equal(vms_decode(&lapic_vms, buf, n, &b.s, err, sizeof(err)), 0);
	lapic_restore(&b, 3000);
	assert_memory_equal(page, page2, 0x400);
	assert_true(lapic_x2apic(&b));
	assert_int_equal(lapic_next_event(&b), lapic_next_event(&A));
	assert_int_equal(lapic_mmio_read(&b, APIC_TMCCT, 4, 3000), 0xffffffff); /* x2APIC */
	uint64_t va, vb;
	assert_true(lapic_msr_read(&A, 0x839, &va, 3000));
	assert_true(lapic_msr_read(&b, 0x839, &vb, 3000));
	assert_int_equal(va, vb);
	assert_int_equal(lapic_pending(&b), lapic_pending(&A));
	assert_int_equal(lapic_pending(&b), -1); /* 0x31 is below the in-service 0x90 */
	assert_true(b.s.lint_rirr[0]);
}

/* A record of the fresh APIC, changed by fix, must be refused with this reason. */
static void refused(void (*fix)(struct lapic_state *), const char *why)
{
	struct lapic_state s, out;
	uint8_t buf[512];
	char err[160];
	size_t n;

	lapic_save(&A);
	s = A.s;
	fix(&s);
	n = vms_encode(&lapic_vms, &s, buf);
	assert_int_equal(vms_decode(&lapic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, why);
}

static void fix_mode(struct lapic_state *s)
{
	s->timer_mode = 4;
}

static void fix_tpr(struct lapic_state *s)
{
	s->regs.tpr = 0x100;
}

static void fix_base(struct lapic_state *s)
{
	s->apic_base = 0xfee00400;
}

static void fix_lvt_mode(struct lapic_state *s)
{
	s->regs.lvt[0] = 1u << 17;
}

static void fix_svr(struct lapic_state *s)
{
	s->regs.svr = 0xff;
	s->regs.lvt[4] = 0x400;
}

static void fix_irr(struct lapic_state *s)
{
	s->regs.irr[0] = 1u << 3;
}

static void fix_x2_ldr(struct lapic_state *s)
{
	s->apic_base |= APIC_BASE_EXTD;
}

static void fix_dfr(struct lapic_state *s)
{
	s->regs.dfr = 0xf0000000;
}

static void fix_tscdl(struct lapic_state *s)
{
	s->regs.lvt[0] = 2u << 17;
	s->timer_mode = 2;
}

static void test_records_refused(void **state)
{
	fresh(0, false);
	refused(fix_mode, "lapic: timer_mode = 0x4, above its maximum 0x3");
	refused(fix_tpr, "lapic: regs.tpr = 0x100, above its maximum 0xff");
	refused(fix_base, "lapic: apic_base: x2APIC mode while disabled");
	refused(fix_lvt_mode, "lapic: timer_mode 0 where regs.lvt[0] says 1");
	refused(fix_svr, "lapic: regs.lvt[4] unmasked while software-disabled");
	refused(fix_irr, "lapic: regs.isr/tmr/irr hold a vector below 16");
	refused(fix_tscdl, "lapic: timer_mode 2 without TSC-deadline offered");
	refused(fix_dfr, "lapic: regs.dfr = 0xf0000000: bits 27:0 must be ones");
	refused(fix_x2_ldr, "lapic: regs.ldr = 0x0 is not derived from regs.id 0x0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_up),
		cmocka_unit_test(test_priority_classes),
		cmocka_unit_test(test_nested_accept_eoi),
		cmocka_unit_test(test_level_eoi_broadcast),
		cmocka_unit_test(test_cpu_wrote_page),
		cmocka_unit_test(test_one_shot_each_divider),
		cmocka_unit_test(test_periodic_each_divider),
		cmocka_unit_test(test_periodic_coalesces),
		cmocka_unit_test(test_divider_change_mid_count),
		cmocka_unit_test(test_tsc_deadline),
		cmocka_unit_test(test_tsc_deadline_not_offered),
		cmocka_unit_test(test_mode_switches),
		cmocka_unit_test(test_global_disable_resets),
		cmocka_unit_test(test_x2apic_msr_rules),
		cmocka_unit_test(test_esr_illegal_vectors),
		cmocka_unit_test(test_svr_software_disable),
		cmocka_unit_test(test_bad_mmio_accesses),
		cmocka_unit_test(test_icr_shorthands),
		cmocka_unit_test(test_logical_match),
		cmocka_unit_test(test_lint_pins),
		cmocka_unit_test(test_lint0_level),
		cmocka_unit_test(test_cr8),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_records_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
