/* What the VMCS is told from the virtual-APIC page, and the x2APIC MSR bitmap. */
#include <string.h>
#include "hv/dev/lapic.h"
#include "vmx/vapic.h"
#include "tests/unit/stubs.h"

static uint32_t page[1024];

static void set_vec(unsigned base, unsigned v)
{
	page[(base + v / 32 * 16) / 4] |= 1u << (v % 32);
}

static void test_highest(void **state)
{
	memset(page, 0, sizeof(page));
	assert_int_equal(vapic_highest(page, VAPIC_IRR), -1);
	set_vec(VAPIC_IRR, 0x31);
	set_vec(VAPIC_IRR, 0xfe);
	set_vec(VAPIC_ISR, 0x20);
	assert_int_equal(vapic_highest(page, VAPIC_IRR), 0xfe);
	assert_int_equal(vapic_highest(page, VAPIC_ISR), 0x20);
	/* only the low 4 bytes of each 16 count: the rest of the page is not read */
	page[(VAPIC_IRR + 0x74) / 4] = 0xffffffff;
	assert_int_equal(vapic_highest(page, VAPIC_IRR), 0xfe);
}

static void test_intr_status(void **state)
{
	memset(page, 0, sizeof(page));
	assert_int_equal(vapic_intr_status(page), 0);
	set_vec(VAPIC_IRR, 0x41);
	assert_int_equal(vapic_intr_status(page), 0x0041);
	set_vec(VAPIC_ISR, 0x30);
	set_vec(VAPIC_ISR, 0x52);
	assert_int_equal(vapic_intr_status(page), 0x5241); /* SVI in 15:8, RVI in 7:0 */
}

static void test_eoi_exit_is_tmr(void **state)
{
	uint64_t b[4];

	memset(page, 0, sizeof(page));
	set_vec(VAPIC_TMR, 0x21);
	set_vec(VAPIC_TMR, 0x40);
	set_vec(VAPIC_TMR, 0xff);
	set_vec(VAPIC_IRR, 0x50); /* edge: not in the bitmap */
	vapic_eoi_exit(page, b);
	assert_true(b[0] == 1ull << 0x21);
	assert_true(b[1] == 1ull << 0);
	assert_true(b[2] == 0);
	assert_true(b[3] == 1ull << 63);
}

/* SDM 29.1.2: without virtual-interrupt delivery, lowering VTPR[7:4] below the
 * threshold exits; the threshold never exceeds VTPR[7:4] (SDM 26.3.1.1). */
static void test_tpr_threshold(void **state)
{
	memset(page, 0, sizeof(page));
	page[VAPIC_TPR / 4] = 0x50;
	assert_int_equal(vapic_tpr_threshold(page), 0); /* nothing requested */
	set_vec(VAPIC_IRR, 0x45);
	assert_int_equal(vapic_tpr_threshold(page), 4); /* held back by TPR 5 */
	page[VAPIC_TPR / 4] = 0x40;
	assert_int_equal(vapic_tpr_threshold(page), 4); /* same class still holds it */
	page[VAPIC_TPR / 4] = 0x3f;
	assert_int_equal(vapic_tpr_threshold(page), 0); /* deliverable: injected instead */
	page[VAPIC_TPR / 4] = 0x90;
	set_vec(VAPIC_ISR, 0x60); /* ISR holds it too: its EOI exits anyway */
	assert_int_equal(vapic_tpr_threshold(page), 0);
	for (unsigned tpr = 0; tpr < 256; tpr += 7) {
		page[VAPIC_TPR / 4] = tpr;
		assert_true(vapic_tpr_threshold(page) <= tpr >> 4);
	}
}

static void test_msr_bitmap(void **state)
{
	uint8_t bm[4096];

	memset(bm, 0xff, sizeof(bm));
	msr_bitmap_set(bm, 0xc0000082, false, false);
	assert_false(msr_bitmap_exits(bm, 0xc0000082, false));
	assert_false(msr_bitmap_exits(bm, 0xc0000082, true));
	assert_true(msr_bitmap_exits(bm, 0x82, false)); /* the low range is separate */
	msr_bitmap_set(bm, 0x808, true, false);
	assert_true(msr_bitmap_exits(bm, 0x808, false));
	assert_false(msr_bitmap_exits(bm, 0x808, true));
	assert_int_equal(bm[0x808 / 8] & (1 << (0x808 % 8)), 1 << (0x808 % 8));
	assert_int_equal(bm[2048 + 0x808 / 8] & (1 << (0x808 % 8)), 0);
}

static bool rd(const uint8_t *bm, uint32_t msr)
{
	return !msr_bitmap_exits(bm, msr, false);
}

static bool wr(const uint8_t *bm, uint32_t msr)
{
	return !msr_bitmap_exits(bm, msr, true);
}

/* SDM 29.5 and Table 11-6: which x2APIC accesses the CPU answers from the page. */
static void test_x2apic_msrs(void **state)
{
	static const uint32_t reads[] = { 0x802, 0x803, 0x808, 0x80a, 0x80d, 0x80f, 0x810,
					  0x817, 0x818, 0x81f, 0x820, 0x827, 0x828, 0x832,
					  0x837, 0x838, 0x83e };
	static const uint32_t no_reads[] = { 0x800, 0x801, 0x809, 0x80b, 0x80c, 0x80e, 0x82f,
					     0x830, 0x831, 0x839, 0x83f, 0x840, 0x8ff };
	uint8_t bm[4096];

	memset(bm, 0xff, sizeof(bm));
	vapic_x2apic_msrs(bm, true, true, true);
	for (unsigned i = 0; i < ARRAY_SIZE(reads); i++)
		assert_true(rd(bm, reads[i]));
	for (unsigned i = 0; i < ARRAY_SIZE(no_reads); i++)
		assert_false(rd(bm, no_reads[i]));
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++)
		assert_int_equal(wr(bm, msr), msr == 0x808 || msr == 0x80b || msr == 0x83f);
	assert_true(msr_bitmap_exits(bm, 0x1b, false)); /* IA32_APIC_BASE always exits */
	assert_true(msr_bitmap_exits(bm, 0x6e0, true)); /* TSC deadline too */
	/* without virtual-interrupt delivery: PPR, EOI and self-IPI exit */
	vapic_x2apic_msrs(bm, true, true, false);
	assert_false(rd(bm, 0x80a));
	assert_false(wr(bm, 0x80b));
	assert_false(wr(bm, 0x83f));
	assert_true(wr(bm, 0x808));
	/* without register virtualization only the TPR is read from the page */
	vapic_x2apic_msrs(bm, true, false, false);
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++)
		assert_int_equal(rd(bm, msr), msr == 0x808);
	/* off: everything exits again */
	vapic_x2apic_msrs(bm, false, true, true);
	for (uint32_t msr = 0x800; msr <= 0x8ff; msr++) {
		assert_false(rd(bm, msr));
		assert_false(wr(bm, msr));
	}
}

static uint32_t page_a[1024] __attribute__((aligned(4096)));
static uint32_t page_b[1024] __attribute__((aligned(4096)));

static void deliver(struct lapic *a, uint8_t v, bool level)
{
	struct apic_msg m = { .vector = v, .mode = APIC_DM_FIXED, .level = level };

	lapic_deliver(a, &m);
}

/* The page is the state: a local APIC's record, restored on another host (another
 * page), gives the same VMCS fields, and the trapping path's choice (lapic_pending)
 * agrees with what the CPU would deliver from RVI and VPPR, before and after an EOI
 * the CPU performed. So a VM moves between hosts with and without APIC virtualization
 * and takes the same interrupts. */
static void test_record_drives_either_path(void **state)
{
	struct lapic a, b;
	uint64_t ea[4], eb[4];
	uint16_t st;

	lapic_init(&a, page_a, 0, 1000000000, true, NULL, 0);
	lapic_mmio_write(&a, APIC_SVR, 4, 0x1ff, 0);
	lapic_mmio_write(&a, APIC_TPR, 4, 0x30, 0);
	deliver(&a, 0x45, true);  /* level: its EOI must reach the I/O APIC */
	deliver(&a, 0x61, false);
	lapic_accept(&a, 0x61);   /* in service, as virtual-interrupt delivery leaves it */
	lapic_save(&a);
	lapic_init(&b, page_b, 0, 1000000000, true, NULL, 0);
	b.s = a.s;                /* the record, decoded on the target */
	lapic_restore(&b, 0);

	assert_int_equal(vapic_intr_status(page_a), 0x6145);
	assert_int_equal(vapic_intr_status(page_b), 0x6145);
	vapic_eoi_exit(page_a, ea);
	vapic_eoi_exit(page_b, eb);
	assert_memory_equal(ea, eb, sizeof(ea));
	assert_true(eb[1] == 1ull << (0x45 - 64));
	assert_int_equal(vapic_tpr_threshold(page_b), vapic_tpr_threshold(page_a));
	/* 0x45 waits behind 0x61 in service: on both paths */
	assert_int_equal(lapic_pending(&b), -1);
	assert_true(0x45 >> 4 <= page_b[APIC_PPR / 4] >> 4);
	/* the CPU's EOI of 0x61 (ISR cleared, then the EOI-induced exit would not come:
	 * 0x61 is edge) */
	page_b[(APIC_ISR + 0x60 / 32 * 16) / 4] &= ~(1u << (0x61 % 32));
	lapic_eoi_done(&b, 0x61);
	st = vapic_intr_status(page_b);
	assert_int_equal(st, 0x0045);
	assert_int_equal(lapic_pending(&b), 0x45);
	assert_true((uint32_t)(st & 0xff) >> 4 > page_b[APIC_PPR / 4] >> 4); /* RVI beats VPPR */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_highest),
		cmocka_unit_test(test_intr_status),
		cmocka_unit_test(test_eoi_exit_is_tmr),
		cmocka_unit_test(test_tpr_threshold),
		cmocka_unit_test(test_msr_bitmap),
		cmocka_unit_test(test_x2apic_msrs),
		cmocka_unit_test(test_record_drives_either_path),
	};
	return cmocka_run_group_tests_name("vapic", tests, NULL, NULL);
}
