#include <stdlib.h>
#include <string.h>
#include "hv/error.h"
#include "migrate/xbzrle.h"
#include "tests/unit/stubs.h"

static uint8_t old[XBZ_PAGE], new[XBZ_PAGE], work[XBZ_PAGE], delta[2 * XBZ_PAGE];
static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng = rng * 1664525 + 1013904223;
	return rng >> 8;
}

static void random_page(uint8_t *p)
{
	for (size_t i = 0; i < XBZ_PAGE; i++)
		p[i] = (uint8_t)rnd();
}

/* Encodes new against old with room for everything, applies it to a copy of old, and
 * checks the copy is new; returns the delta's length. */
static int round_trip(void)
{
	int n = xbz_encode(old, new, delta, sizeof(delta));

	assert_true(n >= 0);
	memcpy(work, old, XBZ_PAGE);
	assert_int_equal(xbz_decode(work, delta, (size_t)n), 0);
	assert_memory_equal(work, new, XBZ_PAGE);
	return n;
}

static void test_unchanged_is_empty(void **st)
{
	random_page(old);
	memcpy(new, old, XBZ_PAGE);
	assert_int_equal(round_trip(), 0);
}

/* A few words written, as a real workload does: the delta is a few bytes a word. */
static void test_sparse(void **st)
{
	for (int trial = 0; trial < 200; trial++) {
		int words = 1 + (int)(rnd() % 16);
		random_page(old);
		memcpy(new, old, XBZ_PAGE);
		for (int w = 0; w < words; w++) {
			size_t at = (rnd() % (XBZ_PAGE / 4)) * 4;
			uint32_t v = rnd() | 1u << 31; /* differs in its top byte at least */
			memcpy(new + at, &v, 4);
		}
		assert_true(round_trip() <= words * (4 + 4));
	}
}

/* Changes at the very first and last bytes: the boundaries of the page. */
static void test_edges(void **st)
{
	random_page(old);
	memcpy(new, old, XBZ_PAGE);
	new[0] ^= 1;
	new[XBZ_PAGE - 1] ^= 0x80;
	assert_int_equal(round_trip(), 3 + 4); /* skip 4094 takes two bytes */
	memcpy(new, old, XBZ_PAGE);
	new[XBZ_PAGE - 1] ^= 1;
	assert_int_equal(round_trip(), 2 + 1 + 1);
}

/* A page rewritten whole: the delta is longer than the page, and max says no. */
static void test_random_does_not_pay(void **st)
{
	for (int trial = 0; trial < 20; trial++) {
		random_page(old);
		random_page(new);
		int n = round_trip();
		assert_true(n > XBZ_PAGE / 2);
		assert_int_equal(xbz_encode(old, new, delta, XBZ_PAGE / 2), XBZ_NO_GAIN);
		assert_int_equal(xbz_encode(old, new, delta, (size_t)n), n);
		assert_int_equal(xbz_encode(old, new, delta, (size_t)n - 1), XBZ_NO_GAIN);
	}
}

/* Random change patterns of every density round-trip. */
static void test_mixed(void **st)
{
	for (int trial = 0; trial < 500; trial++) {
		uint32_t density = rnd() % 64;
		random_page(old);
		for (size_t i = 0; i < XBZ_PAGE; i++)
			new[i] = rnd() % 64 < density ? (uint8_t)rnd() : old[i];
		round_trip();
	}
}

/* Refused: page untouched, -E_FORMAT. */
static void refused(const uint8_t *d, size_t len)
{
	random_page(old);
	memcpy(work, old, XBZ_PAGE);
	assert_int_equal(xbz_decode(work, d, len), -E_FORMAT);
	assert_memory_equal(work, old, XBZ_PAGE);
}

static void test_malformed(void **st)
{
	/* truncated varints, and a literal shorter than its length */
	refused((const uint8_t[]){ 0x80 }, 1);
	refused((const uint8_t[]){ 0x00 }, 1);
	refused((const uint8_t[]){ 0x00, 0x80 }, 2);
	refused((const uint8_t[]){ 0x00, 0x04, 1, 2, 3 }, 5);
	/* a third varint byte, and a non-minimal one */
	refused((const uint8_t[]){ 0x80, 0x80, 0x01, 0x01, 9 }, 5);
	refused((const uint8_t[]){ 0x85, 0x00, 0x01, 9 }, 4);
	/* an empty literal (it would let a delta spin without progress) */
	refused((const uint8_t[]){ 0x05, 0x00 }, 2);
	/* past the page's end: skip alone, skip plus length, and over two pairs */
	refused((const uint8_t[]){ 0x81, 0x20, 0x01, 9 }, 4);       /* skip 4097 */
	refused((const uint8_t[]){ 0xff, 0x1f, 0x02, 9, 9 }, 5);    /* 4095 + 2 */
	refused((const uint8_t[]){ 0x80, 0x20, 0x01, 9 }, 4);       /* 4096 + 1 */
	refused((const uint8_t[]){ 0xfe, 0x1f, 0x01, 9, 0x00, 0x01, 9, 0x00, 0x01, 9 }, 10);
	/* a good pair then a bad one: nothing of the good one is written either */
	refused((const uint8_t[]){ 0x00, 0x01, 0xaa, 0x00 }, 4);
}

static void test_last_byte_accepted(void **st)
{
	const uint8_t d[] = { 0xff, 0x1f, 0x01, 0x5a }; /* skip 4095, one byte */

	memset(work, 0, XBZ_PAGE);
	assert_int_equal(xbz_decode(work, d, sizeof(d)), 0);
	assert_int_equal(work[XBZ_PAGE - 1], 0x5a);
	assert_int_equal(work[XBZ_PAGE - 2], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged_is_empty),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_random_does_not_pay),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_last_byte_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
