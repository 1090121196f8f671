/* The target's guards against peers that hold the key but misbehave (migrate/guard.c):
 * the pace a reservation must keep, the per-peer budget of reservations that came to
 * nothing, and which slot a new connection takes. Times are arguments. */
#include "migrate/guard.h"
#include "tests/unit/stubs.h"

#define IP_A 0x0a000201u
#define IP_B 0x0a000202u

/* A window that saw its minimum gives way to the next, which must see it again. */
static void test_pace_kept(void **state)
{
	struct guard_pace p;
	uint64_t units = 99;

	guard_pace_start(&p, 1000, 10000, 3);
	for (int i = 0; i < 3; i++)
		guard_pace_note(&p);
	assert_false(guard_pace_short(&p, 10999, &units)); /* the window has not ended */
	assert_false(guard_pace_short(&p, 11000, &units)); /* ended, met: the next begins */
	assert_int_equal(units, 99);
	guard_pace_note(&p);
	guard_pace_note(&p);
	assert_false(guard_pace_short(&p, 20999, &units));
	assert_true(guard_pace_short(&p, 21000, &units));  /* 2 of 3: short */
	assert_int_equal(units, 2);
	assert_true(guard_pace_short(&p, 90000, &units));  /* and it stays short */
}

/* Nothing noted: short as soon as the first window ends, however busy the socket was
 * (bytes are not advances). */
static void test_pace_trickle(void **state)
{
	struct guard_pace p;
	uint64_t units = 99;

	guard_pace_start(&p, 0, 30000, 1);
	for (uint64_t t = 0; t < 30000; t += 1000)
		assert_false(guard_pace_short(&p, t, &units));
	assert_true(guard_pace_short(&p, 30000, &units));
	assert_int_equal(units, 0);
	/* a stage that starts again (the next stage) starts a new first window */
	guard_pace_start(&p, 30000, 30000, 1);
	assert_false(guard_pace_short(&p, 59999, &units));
}

/* A failed reservation costs its memory, at least the floor. */
static void test_cost(void **state)
{
	assert_int_equal(guard_cost_mib(2), GUARD_FLOOR_MIB);
	assert_int_equal(guard_cost_mib(GUARD_FLOOR_MIB), GUARD_FLOOR_MIB);
	assert_int_equal(guard_cost_mib(1024), 1024);
}

/* A HELLO/ABORT loop of small VMs: the burst's worth pass, then one per floor's refill
 * time; another peer is not held back by it. */
static void test_budget_loop(void **state)
{
	static struct guard_peers g;
	uint64_t now = 5000, per = GUARD_FLOOR_MIB * 1000 / GUARD_REFILL_MIB_S, n = 0;

	while (!guard_peers_wait(&g, IP_A, 2, now) && n < 1000) {
		guard_peers_charge(&g, IP_A, 2, now);
		n++;
	}
	assert_int_equal(n, GUARD_BURST_MIB / GUARD_FLOOR_MIB);
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, now), per);
	assert_int_equal(guard_peers_wait(&g, IP_B, 2, now), 0);
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, now + per - 1), 1);
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, now + per), 0);
	guard_peers_charge(&g, IP_A, 2, now + per);
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, now + per), per);
	/* a long quiet time fills the budget, never past the burst */
	now += 1000000;
	n = 0;
	while (!guard_peers_wait(&g, IP_A, 2, now) && n < 1000) {
		guard_peers_charge(&g, IP_A, 2, now);
		n++;
	}
	assert_int_equal(n, GUARD_BURST_MIB / GUARD_FLOOR_MIB);
}

/* The ms the refill takes to grow mib MiB back. */
#define MS(mib) ((uint64_t)(mib) * 1000 / GUARD_REFILL_MIB_S)

/* Waiting only (reservations that completed) costs nothing; a VM bigger than the burst
 * still comes to a peer with a full budget, and if it comes to nothing the peer owes
 * the rest: one HELLO/ABORT of a huge VM costs what as many 1 GiB ones would, so the
 * memory a loop makes tern zero stays at the refill's rate whatever the VM's size. */
static void test_budget_big(void **state)
{
	static struct guard_peers g;

	for (int i = 0; i < 100; i++)
		assert_int_equal(guard_peers_wait(&g, IP_A, 1024, 0), 0);
	assert_int_equal(guard_peers_wait(&g, IP_A, 4 * GUARD_BURST_MIB, 0), 0);
	guard_peers_charge(&g, IP_A, 4 * GUARD_BURST_MIB, 0);
	/* 3 GiB owed: the next reservation waits for them and its own floor */
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, 0),
			 MS(3 * GUARD_BURST_MIB + GUARD_FLOOR_MIB));
	assert_int_equal(guard_peers_wait(&g, IP_A, 4 * GUARD_BURST_MIB, 0),
			 MS(4 * GUARD_BURST_MIB));
	/* paid back at the refill's rate, then full again, and no fuller */
	uint64_t back = MS(4 * GUARD_BURST_MIB);
	assert_int_equal(guard_peers_wait(&g, IP_A, 4 * GUARD_BURST_MIB, back - 1), 1);
	assert_int_equal(guard_peers_wait(&g, IP_A, 4 * GUARD_BURST_MIB, back), 0);
	assert_int_equal(guard_peers_wait(&g, IP_A, 4 * GUARD_BURST_MIB, 10 * back), 0);
	guard_peers_charge(&g, IP_A, GUARD_BURST_MIB, 10 * back);
	assert_int_equal(guard_peers_wait(&g, IP_A, 2, 10 * back),
			 MS(GUARD_FLOOR_MIB));
	/* a debt stops growing at a day's refill, and the largest VM does not wrap it */
	static struct guard_peers h;
	for (int i = 0; i < 1000; i++)
		guard_peers_charge(&h, IP_A, UINT64_MAX / 2, 0);
	assert_int_equal(guard_peers_wait(&h, IP_A, 2, 0),
			 86400000 + MS(GUARD_FLOOR_MIB));
}

/* More peers than slots: a new one takes the slot with most budget left, so the peers
 * that spent theirs stay limited. */
static void test_budget_slots(void **state)
{
	static struct guard_peers g;
	uint32_t bad = 0x0a000100;

	for (uint32_t i = 0; i < GUARD_PEERS - 1; i++)
		guard_peers_charge(&g, bad + i, GUARD_BURST_MIB, 0);
	for (uint32_t i = 0; i < 4 * GUARD_PEERS; i++)
		assert_int_equal(guard_peers_wait(&g, 0x0b000000 + i, 2, 0), 0);
	for (uint32_t i = 0; i < GUARD_PEERS - 1; i++)
		assert_true(guard_peers_wait(&g, bad + i, 2, 0) > 0);
}

/* Slots as recv.c has them: n = 4. */
#define NS 4
#define PROVEN(ip_, at) { true, false, ip_, at }
#define UNPROVEN(ip_, at) { true, true, ip_, at }
#define FREE { false, false, 0, 0 }

static int admit(const struct guard_slot s[NS], uint32_t ip, uint64_t now,
		 enum guard_admit want)
{
	enum guard_admit how = (enum guard_admit)-1;
	int i = guard_admit(s, NS, ip, now, &how);

	assert_int_equal(how, want);
	return i;
}

/* The first free slot; an address's own unproven connection is replaced even with free
 * slots left (its source opens one at a time). */
static void test_admit_free_and_same(void **state)
{
	const struct guard_slot none[NS] = { FREE, FREE, FREE, FREE };
	const struct guard_slot some[NS] = { PROVEN(IP_A, 0), FREE, UNPROVEN(IP_B, 900), FREE };

	assert_int_equal(admit(none, IP_A, 0, GUARD_FREE), 0);
	assert_int_equal(admit(some, IP_A, 1000, GUARD_FREE), 1);
	assert_int_equal(admit(some, IP_B, 1000, GUARD_REPLACE_SAME), 2);
}

/* One address holds at most three of the four: the fourth is another host's, whether
 * free, or unproven and stale; other addresses still get it. Its own unproven one is
 * still replaced, which keeps its count where it was. */
static void test_admit_per_address(void **state)
{
	const struct guard_slot three[NS] = { PROVEN(IP_A, 0), UNPROVEN(IP_A, 0),
					      PROVEN(IP_A, 0), FREE };
	const struct guard_slot stale[NS] = { PROVEN(IP_A, 0), PROVEN(IP_A, 0),
					      UNPROVEN(IP_B, 0), PROVEN(IP_A, 0) };
	const struct guard_slot two[NS] = { PROVEN(IP_A, 0), PROVEN(IP_A, 0), FREE, FREE };
	const struct guard_slot full_a[NS] = { PROVEN(IP_A, 0), PROVEN(IP_A, 0),
					       PROVEN(IP_A, 0), FREE };

	assert_int_equal(admit(three, IP_A, 100000, GUARD_REPLACE_SAME), 1);
	assert_int_equal(admit(three, IP_B, 100000, GUARD_FREE), 3);
	assert_int_equal(admit(stale, IP_A, 100000, GUARD_REFUSE_ADDRESS), -1);
	assert_int_equal(admit(stale, 0x0a000203u, 100000, GUARD_REPLACE_STALE), 2);
	assert_int_equal(admit(two, IP_A, 0, GUARD_FREE), 2);
	assert_int_equal(admit(full_a, IP_A, 0, GUARD_REFUSE_ADDRESS), -1);
}

/* All four busy: the oldest unproven one open 5 s or more gives way; none, refused. */
static void test_admit_full(void **state)
{
	const struct guard_slot s[NS] = { PROVEN(IP_A, 0), UNPROVEN(0x0a000203u, 2000),
					  UNPROVEN(0x0a000204u, 1000), PROVEN(IP_B, 0) };
	const struct guard_slot busy[NS] = { PROVEN(IP_A, 0), PROVEN(0x0a000203u, 0),
					     PROVEN(0x0a000204u, 0), PROVEN(IP_B, 0) };

	assert_int_equal(admit(s, 0x0a000205u, 1000 + GUARD_UNPROVEN_MS - 1, GUARD_REFUSE_FULL),
			 -1);
	assert_int_equal(admit(s, 0x0a000205u, 1000 + GUARD_UNPROVEN_MS, GUARD_REPLACE_STALE),
			 2);
	assert_int_equal(admit(s, 0x0a000205u, 2000 + GUARD_UNPROVEN_MS, GUARD_REPLACE_STALE),
			 2);
	assert_int_equal(admit(busy, 0x0a000205u, 1000000, GUARD_REFUSE_FULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_kept),
		cmocka_unit_test(test_pace_trickle),
		cmocka_unit_test(test_cost),
		cmocka_unit_test(test_budget_loop),
		cmocka_unit_test(test_budget_big),
		cmocka_unit_test(test_budget_slots),
		cmocka_unit_test(test_admit_free_and_same),
		cmocka_unit_test(test_admit_per_address),
		cmocka_unit_test(test_admit_full),
	};
	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
