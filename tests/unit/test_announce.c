#include <string.h>
#include "migrate/announce.h"
#include "tests/unit/stubs.h"

/* 370%: the load counts runnable vCPUs, so it passes 100 (hv/load.h) */
static const struct announce sample = { 0x0a000002, 4444, 370, 3, 420, 9, 150, 25, 100,
					  ANNOUNCE_RECEIVING };

static void test_round_trip(void **state)
{
	uint8_t b[ANNOUNCE_LEN];
	struct announce a;

	announce_encode(&sample, b);
	assert_memory_equal(b, "TRNH", 4);
	assert_true(announce_decode(b, sizeof(b), 0x0a000002, &a));
	assert_int_equal(a.ip, sample.ip);
	assert_int_equal(a.port, sample.port);
	assert_int_equal(a.load, sample.load);
	assert_int_equal(a.vms, sample.vms);
	assert_int_equal(a.free_mib, sample.free_mib);
	assert_int_equal(a.seq, sample.seq);
	assert_int_equal(a.load_high, sample.load_high);
	assert_int_equal(a.margin, sample.margin);
	assert_int_equal(a.capacity, sample.capacity);
	assert_int_equal(a.flags, ANNOUNCE_RECEIVING);
	assert_int_equal(b[24] | b[25] << 8, 150);
}

/* The policy's settings ride along; out of range, or an unknown flag set, the
 * announcement is refused. */
static void test_settings(void **state)
{
	static const struct { uint16_t high, margin, cap; bool ok; } c[] = {
		{ 1, 0, 100, true },
		{ ANNOUNCE_LOAD_MAX, ANNOUNCE_LOAD_MAX, ANNOUNCE_LOAD_MAX, true },
		{ 0, 25, 100, false }, { ANNOUNCE_LOAD_MAX + 1, 25, 100, false },
		{ 85, ANNOUNCE_LOAD_MAX + 1, 100, false }, { 85, 25, 99, false },
		{ 85, 25, ANNOUNCE_LOAD_MAX + 1, false },
	};
	uint8_t b[ANNOUNCE_LEN];
	struct announce a, x = sample;

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		x.load_high = c[i].high;
		x.margin = c[i].margin;
		x.capacity = c[i].cap;
		announce_encode(&x, b);
		assert_int_equal(announce_decode(b, sizeof(b), sample.ip, &a), c[i].ok);
	}
	announce_encode(&sample, b);
	b[30] |= 2; /* a flag not defined */
	assert_false(announce_decode(b, sizeof(b), sample.ip, &a));
	b[30] = 0;
	b[31] = 1;
	assert_false(announce_decode(b, sizeof(b), sample.ip, &a));
	b[31] = 0;
	assert_true(announce_decode(b, sizeof(b), sample.ip, &a));
	assert_int_equal(a.flags, 0);
	/* a version 2 announcement, 24 bytes, is refused */
	announce_encode(&sample, b);
	b[4] = 2;
	assert_false(announce_decode(b, 24, sample.ip, &a));
	assert_false(announce_decode(b, sizeof(b), sample.ip, &a));
}

static void test_malformed(void **state)
{
	uint8_t b[ANNOUNCE_LEN + 1], c[ANNOUNCE_LEN + 1];
	struct announce a, x;

	announce_encode(&sample, b);
	assert_false(announce_decode(b, ANNOUNCE_LEN - 1, 0x0a000002, &a)); /* short */
	assert_false(announce_decode(b, ANNOUNCE_LEN + 1, 0x0a000002, &a)); /* long */
	assert_false(announce_decode(b, ANNOUNCE_LEN, 0x0a000003, &a));     /* not its own */
	for (int i = 0; i < 6; i++) {                                      /* magic, version */
		memcpy(c, b, ANNOUNCE_LEN);
		c[i] ^= 0x40;
		assert_false(announce_decode(c, ANNOUNCE_LEN, 0x0a000002, &a));
	}
	x = sample;
	x.load = ANNOUNCE_LOAD_MAX;
	announce_encode(&x, c);
	assert_true(announce_decode(c, ANNOUNCE_LEN, 0x0a000002, &a));
	assert_int_equal(a.load, ANNOUNCE_LOAD_MAX);
	x.load = ANNOUNCE_LOAD_MAX + 1;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_LEN, 0x0a000002, &a));
	memcpy(c, b, ANNOUNCE_LEN); /* version 1, whose load was one byte */
	c[4] = 1;
	assert_false(announce_decode(c, ANNOUNCE_LEN, 0x0a000002, &a));
	x = sample;
	x.port = 0;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_LEN, 0x0a000002, &a));
	x = sample;
	x.ip = 0xffffffff;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_LEN, 0xffffffff, &a));
}

static void test_peer_table(void **state)
{
	struct peer t[PEERS_MAX] = { 0 };
	struct announce a = sample;

	peers_heard(t, &a, 1000);
	a.load = 50;
	peers_heard(t, &a, 3000); /* the same host again: updated, not added */
	assert_non_null(peers_find(t, sample.ip));
	assert_int_equal(peers_find(t, sample.ip)->a.load, 50);
	int used = 0;
	for (int i = 0; i < PEERS_MAX; i++)
		used += t[i].used;
	assert_int_equal(used, 1);
	assert_int_equal(peers_expire(t, 3000 + ANNOUNCE_TIMEOUT_MS), 0);
	assert_int_equal(peers_expire(t, 3001 + ANNOUNCE_TIMEOUT_MS), 1);
	assert_null(peers_find(t, sample.ip));
	/* a full table makes room by forgetting the peer heard longest ago */
	for (uint32_t i = 0; i < PEERS_MAX + 1; i++) {
		a.ip = 0x0a000100 + i;
		peers_heard(t, &a, 10000 + i);
	}
	assert_null(peers_find(t, 0x0a000100));
	assert_non_null(peers_find(t, 0x0a000100 + PEERS_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_peer_table),
	};
	return cmocka_run_group_tests_name("announce", tests, NULL, NULL);
}
