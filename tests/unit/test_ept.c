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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_translate_4k),
		cmocka_unit_test(test_map_2m_and_entry_bits),
		cmocka_unit_test(test_rejects_bad_requests),
		cmocka_unit_test(test_split_keeps_mapping),
		cmocka_unit_test(test_eptp),
		cmocka_unit_test(test_tables_freed),
	};
	return cmocka_run_group_tests_name("ept", tests, NULL, NULL);
}
