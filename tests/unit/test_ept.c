#include <stdlib.h>
#include <string.h>
#include "vmx/ept.h"
#include "tests/unit/stubs.h"

/* Table pages come from the host heap; "host-physical" addresses are their pointers. */
static int live_pages;

static uint64_t alloc_page(void)
{
	void *p = aligned_alloc(4096, 4096);

	if (!p)
		return 0;
	memset(p, 0, 4096);
	live_pages++;
	return (uintptr_t)p;
}

static void free_page(uint64_t hpa)
{
	free((void *)(uintptr_t)hpa);
	live_pages--;
}

static void *virt(uint64_t hpa)
{
	return (void *)(uintptr_t)hpa;
}

static const struct ept_ops ops = { alloc_page, free_page, virt };

static void test_map_translate_4k(void **state)
{
	struct ept e;
	hpa_t h;
	unsigned perm;

	assert_int_equal(ept_init(&e, &ops), 0);
	assert_int_equal(ept_map(&e, gpa(0x5000), hpa(0x123000), EPT_PAGE_4K, EPT_R | EPT_X), 0);
	assert_true(ept_translate(&e, gpa(0x5abc), &h, &perm));
	assert_int_equal(h.v, 0x123abc);
	assert_int_equal(perm, EPT_R | EPT_X);
	assert_false(ept_translate(&e, gpa(0x6000), &h, &perm));
	assert_false(ept_translate(&e, gpa(0x4fff), &h, &perm));
	/* PML4 + PDPT + PD + PT */
	assert_int_equal(e.table_pages, 4);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

static void test_map_2m_and_entry_bits(void **state)
{
	struct ept e;
	hpa_t h;
	unsigned perm;

	ept_init(&e, &ops);
	assert_int_equal(ept_map(&e, gpa(2 * MIB), hpa(64 * MIB), EPT_PAGE_2M, EPT_RWX), 0);
	assert_true(ept_translate(&e, gpa(2 * MIB + 0x1234), &h, &perm));
	assert_int_equal(h.v, 64 * MIB + 0x1234);
	assert_int_equal(perm, EPT_RWX);
	/* the leaf is a large page, write-back (SDM 29.3.2) */
	uint64_t *pml4 = virt(e.root);
	uint64_t *pdpt = virt(pml4[0] & ~0xfffull);
	uint64_t *pd = virt(pdpt[0] & ~0xfffull);
	assert_int_equal(pd[1] & (1 << 7), 1 << 7);
	assert_int_equal((pd[1] >> 3) & 7, 6);
	assert_int_equal(pd[1] & ~0xfffull, 64 * MIB);
	assert_int_equal(e.table_pages, 3);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

static void test_rejects_bad_requests(void **state)
{
	struct ept e;

	ept_init(&e, &ops);
	assert_true(ept_map(&e, gpa(0x1001), hpa(0), EPT_PAGE_4K, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(0x1000), hpa(0x800), EPT_PAGE_4K, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(0x1000), hpa(0), EPT_PAGE_2M, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(0), hpa(0), 8192, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(1ull << 48), hpa(0), EPT_PAGE_4K, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(0), hpa(0), EPT_PAGE_4K, 8) < 0);
	/* double mapping and a 4K page under an existing 2M page are refused */
	assert_int_equal(ept_map(&e, gpa(0), hpa(0), EPT_PAGE_2M, EPT_RWX), 0);
	assert_true(ept_map(&e, gpa(0), hpa(0), EPT_PAGE_2M, EPT_RWX) < 0);
	assert_true(ept_map(&e, gpa(0x3000), hpa(0x3000), EPT_PAGE_4K, EPT_RWX) < 0);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

static void test_split_keeps_mapping(void **state)
{
	struct ept e;
	hpa_t h;
	unsigned perm;

	ept_init(&e, &ops);
	ept_map(&e, gpa(4 * MIB), hpa(16 * MIB), EPT_PAGE_2M, EPT_RWX);
	assert_int_equal(ept_set_perm_4k(&e, gpa(4 * MIB + 0x5000), EPT_R | EPT_X), 0);
	for (uint64_t off = 0; off < 2 * MIB; off += 4096) {
		assert_true(ept_translate(&e, gpa(4 * MIB + off), &h, &perm));
		assert_int_equal(h.v, 16 * MIB + off);
		assert_int_equal(perm, off == 0x5000 ? (EPT_R | EPT_X) : EPT_RWX);
	}
	assert_int_equal(e.table_pages, 4);
	/* a second change to the same 2 MiB does not split again */
	assert_int_equal(ept_set_perm_4k(&e, gpa(4 * MIB + 0x6000), EPT_R), 0);
	assert_int_equal(e.table_pages, 4);
	/* unmapped addresses and empty permissions are refused */
	assert_true(ept_set_perm_4k(&e, gpa(0), EPT_R) < 0);
	assert_true(ept_set_perm_4k(&e, gpa(4 * MIB), 0) < 0);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

/* The APIC-access page: a device page mapped at the guest's APIC base beside its RAM,
 * moved when the guest relocates the base, removed in x2APIC mode. */
static void test_unmap_device_page(void **state)
{
	struct ept e;
	hpa_t h;
	unsigned perm;

	ept_init(&e, &ops);
	ept_map(&e, gpa(0), hpa(32 * MIB), EPT_PAGE_2M, EPT_RWX);
	assert_int_equal(ept_map(&e, gpa(0xfee00000), hpa(0x77000), EPT_PAGE_4K, EPT_R | EPT_W), 0);
	assert_true(ept_translate(&e, gpa(0xfee00080), &h, &perm));
	assert_int_equal(h.v, 0x77080);
	assert_int_equal(ept_unmap_4k(&e, gpa(0xfee00000)), 0);
	assert_false(ept_translate(&e, gpa(0xfee00000), &h, &perm));
	/* mapped again elsewhere, and back: no table leaks, no stale leaf */
	assert_int_equal(ept_map(&e, gpa(0xfed00000), hpa(0x77000), EPT_PAGE_4K, EPT_R | EPT_W), 0);
	assert_int_equal(ept_unmap_4k(&e, gpa(0xfed00000)), 0);
	assert_int_equal(ept_map(&e, gpa(0xfee00000), hpa(0x77000), EPT_PAGE_4K, EPT_R | EPT_W), 0);
	assert_true(ept_translate(&e, gpa(0xfee00000), &h, &perm));
	/* nothing there, or RAM in a 2 MiB page: refused, RAM untouched */
	assert_true(ept_unmap_4k(&e, gpa(0xfec00000)) < 0);
	assert_true(ept_unmap_4k(&e, gpa(0x1000)) < 0);
	assert_true(ept_translate(&e, gpa(0x1000), &h, &perm));
	assert_int_equal(h.v, 32 * MIB + 0x1000);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

static void test_eptp(void **state)
{
	struct ept e;

	ept_init(&e, &ops);
	assert_int_equal(ept_pointer(&e, false), e.root | 0x1e);
	assert_int_equal(ept_pointer(&e, true), e.root | 0x5e);
	ept_destroy(&e);
}

static void test_tables_freed(void **state)
{
	struct ept e;

	ept_init(&e, &ops);
	/* 4K pages spread over the address space need many tables; all are freed */
	for (uint64_t g = 0; g < 64; g++)
		assert_int_equal(ept_map(&e, gpa(g << 30), hpa(g << 12), EPT_PAGE_4K, EPT_R), 0);
	assert_int_equal(e.table_pages, 1 + 1 + 64 * 2);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

static uint64_t marked[64];
static int nmarked;

static void mark(void *ctx, uint64_t pfn)
{
	marked[nmarked++] = pfn;
}

static uint64_t *leaf(struct ept *e, uint64_t g)
{
	uint64_t *t = virt(e->root);

	for (int l = 3; l > 0; l--)
		t = virt(t[(g >> (12 + 9 * l)) & 511] & ~0xfffull);
	return &t[(g >> 12) & 511];
}

/* What dirty tracking does: split, take W away, give it back page by page; scan and
 * clear the dirty flags the CPU sets. */
static void test_dirty_tracking_ops(void **state)
{
	struct ept e;
	hpa_t h;
	unsigned perm;

	ept_init(&e, &ops);
	ept_map(&e, gpa(0), hpa(32 * MIB), EPT_PAGE_2M, EPT_RWX);
	ept_map(&e, gpa(2 * MIB), hpa(8 * MIB), EPT_PAGE_2M, EPT_RWX);
	assert_int_equal(ept_split_all(&e), 0);
	assert_int_equal(e.table_pages, 3 + 2);
	ept_set_write_all(&e, false);
	for (uint64_t g = 0; g < 4 * MIB; g += 4096) {
		assert_true(ept_translate(&e, gpa(g), &h, &perm));
		assert_int_equal(perm, EPT_R | EPT_X);
	}
	assert_int_equal(ept_set_write(&e, gpa(2 * MIB + 0x3000), true), 0);
	assert_true(ept_translate(&e, gpa(2 * MIB + 0x3000), &h, &perm));
	assert_int_equal(perm, EPT_RWX);
	assert_int_equal(h.v, 8 * MIB + 0x3000);
	assert_true(ept_set_write(&e, gpa(64 * MIB), true) < 0);
	/* the CPU sets dirty flags (bit 9) on two leaves */
	*leaf(&e, 0x5000) |= 1 << 9;
	*leaf(&e, 3 * MIB) |= 1 << 9;
	assert_true(ept_test_clear_dirty(&e, gpa(0x5000)));
	assert_false(ept_test_clear_dirty(&e, gpa(0x5000)));
	*leaf(&e, 0x5000) |= 1 << 9;
	nmarked = 0;
	assert_int_equal(ept_collect_dirty(&e, mark, NULL), 2);
	assert_int_equal(nmarked, 2);
	assert_int_equal(marked[0], 5);
	assert_int_equal(marked[1], (3 * MIB) >> 12);
	assert_int_equal(ept_collect_dirty(&e, mark, NULL), 0);
	*leaf(&e, 0x7000) |= 1 << 9;
	ept_clear_dirty_all(&e);
	assert_int_equal(ept_collect_dirty(&e, mark, NULL), 0);
	ept_set_write_all(&e, true);
	assert_true(ept_translate(&e, gpa(0x1000), &h, &perm));
	assert_int_equal(perm, EPT_RWX);
	ept_destroy(&e);
	assert_int_equal(live_pages, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_translate_4k),
		cmocka_unit_test(test_map_2m_and_entry_bits),
		cmocka_unit_test(test_rejects_bad_requests),
		cmocka_unit_test(test_split_keeps_mapping),
		cmocka_unit_test(test_unmap_device_page),
		cmocka_unit_test(test_eptp),
		cmocka_unit_test(test_tables_freed),
		cmocka_unit_test(test_dirty_tracking_ops),
	};
	return cmocka_run_group_tests_name("ept", tests, NULL, NULL);
}
