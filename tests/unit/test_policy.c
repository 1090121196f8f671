#include <string.h>
#include "migrate/policy.h"
#include "tests/unit/stubs.h"

#define MB 1000000ULL
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static struct precopy_out run(uint64_t mem, uint64_t rate, uint64_t wss, uint64_t bw)
{
	struct precopy_in in = { mem, rate, wss, bw, 0, 300, 0, 0 };
	struct precopy_out o;

	precopy_predict(&in, &o);
	return o;
}

/* Nothing dirtied: round 1 sends it all, the final round nothing. */
static void test_no_dirtying(void **state)
{
	struct precopy_out o = run(2048, 0, 2048, 4096 * 1000);

	assert_int_equal(o.rounds, 2);
	assert_true(o.converged);
	assert_int_equal(o.pages_sent, 2048);
	assert_int_equal(o.total_ms, 2048);
	assert_int_equal(o.downtime_ms, 0);
}

/* The guest dirties faster than the link: rounds stay the size of the VM; after rounds
 * 3, 4 and 5 did not shrink, tern stops anyway (send.c should_stop). */
static void test_dirty_beats_bandwidth(void **state)
{
	struct precopy_out o = run(1024, 2000, 1024, 4096 * 1000);

	assert_false(o.converged);
	assert_int_equal(o.rounds, 5 + 1);
	assert_int_equal(o.pages_sent, 6 * 1024);
	assert_int_equal(o.downtime_ms, 1024);
}

/* Rounds that shrink by 0.1% each never get under the limit: 30 rounds and the final. */
static void test_round_limit(void **state)
{
	struct precopy_out o = run(1 << 20, 999, 1 << 20, 4096 * 1000);

	assert_false(o.converged);
	assert_int_equal(o.rounds, PRECOPY_MAX_ROUNDS + 1);
}

static void test_zero_bandwidth(void **state)
{
	struct precopy_out o = run(2048, 10, 100, 0);

	assert_false(o.converged);
	assert_int_equal(o.rounds, 0);
	assert_true(o.total_ms == PRECOPY_NEVER && o.downtime_ms == PRECOPY_NEVER);
}

/* A round dirties no more than the working set, whatever the rate; and no more than
 * the RAM, whatever the working set claims. */
static void test_wss_caps(void **state)
{
	struct precopy_out o = run(4096, 1000000, 64, 100 * MB);

	assert_true(o.converged);
	assert_int_equal(o.rounds, 2);
	assert_int_equal(o.pages_sent, 4096 + 64);
	o = run(16, 1000000, 1 << 30, 4096);
	assert_int_equal(o.pages_sent, (o.rounds) * 16);
}

/* The pause: the last pages, the digest of the whole RAM, two RTTs; setup two more. */
static void test_pause_costs(void **state)
{
	struct precopy_in in = { 2048, 0, 0, 4096 * 1000, 5, 300, 2048 * 4096 * 10, 0 };
	struct precopy_out o;

	precopy_predict(&in, &o);
	assert_int_equal(o.downtime_ms, 10 + 100);
	assert_int_equal(o.total_ms, 10 + 2048 + 10 + 100);
	/* huge VM, fast dirtying: no overflow, still bounded */
	in = (struct precopy_in){ 1ULL << 40, 1ULL << 50, 1ULL << 40, 1, 0, 300, 1, 0 };
	precopy_predict(&in, &o);
	assert_false(o.converged);
	assert_true(o.rounds <= PRECOPY_MAX_ROUNDS + 1);
}

/* All-zero pages go as markers in round 1 (migrate/send.c): each costs PRECOPY_MARKER
 * bytes of link time, not a page. Pages dirtied later are taken as data. */
static void test_zero_pages(void **state)
{
	struct precopy_in in = { 2048, 0, 0, 4096 * 1000, 0, 300, 0, 1536 };
	struct precopy_out o;

	precopy_predict(&in, &o);
	/* 512 data pages: 512 ms; 1536 markers x 1460 bytes at 4.096 MB/s: 547.5 ms */
	assert_int_equal(o.total_ms, 512 + 548);
	assert_int_equal(o.pages_sent, 2048); /* markers count as pages, as tern prints */
	in.zero_pages = 0;
	precopy_predict(&in, &o);
	assert_int_equal(o.total_ms, 2048);
	in.zero_pages = 1ULL << 40; /* more than the VM has: all of it, no more */
	precopy_predict(&in, &o);
	assert_int_equal(o.total_ms, 2048 * PRECOPY_MARKER * 1000 / (4096 * 1000));
	/* with dirtying, round 2 sends what round 1 dirtied at a page each: the markers
	 * shorten round 1, so fewer pages are dirtied during it */
	in = (struct precopy_in){ 2048, 100, 2048, 4096 * 1000, 0, 0, 0, 0 };
	struct precopy_out full, zeroed;
	precopy_predict(&in, &full);
	in.zero_pages = 1536;
	precopy_predict(&in, &zeroed);
	assert_true(zeroed.total_ms < full.total_ms);
	assert_true(zeroed.pages_sent < full.pages_sent);
	assert_true(zeroed.downtime_ms <= full.downtime_ms);
}

/* README "Figures: migration" (Bochs + OVMF, netperf 1.75 MB/s on average, the digest
 * kept page by page so the pause reads no RAM, memtouch's heartbeat ~1 s): tern took
 * 4/8/5/4 rounds, 6990/15166/17122/19859 ms total, 35/205/135/178 ms downtime. With the
 * untouched MiB as zero pages (markers) the model gives 2/6/3/3 rounds,
 * 2576/6816/6718/10725 ms and 94/223/129/206 ms: pauses within 0.96-1.16x but for the
 * smallest (94 against 35 ms), totals 0.37-0.54x: the migrations moved their data at
 * 0.4-0.7 MB/s where netperf measured 1.75 (per-page messages, a guest running beside
 * them), which is why the policy takes a peer's speed from the last migration to it
 * when it has one. Held here to those bounds, so a change to the model that drifts
 * from the measurements shows. */
static void test_readme_figures(void **state)
{
	static const struct {
		uint64_t mib, touched, rate, total, down;
		uint32_t rounds;
	} c[] = { { 8, 2, 16, 6990, 35, 4 }, { 8, 3, 256, 15166, 205, 8 },
		  { 16, 6, 64, 17122, 135, 5 }, { 32, 6, 64, 19859, 178, 4 } };

	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct precopy_in in = { c[i].mib * 256, c[i].rate, c[i].touched * 256,
					 1750000, 1, 300, 0, (c[i].mib - c[i].touched) * 256 };
		struct precopy_out o;

		precopy_predict(&in, &o);
		assert_true(o.converged);
		assert_true(o.rounds * 2 >= c[i].rounds && o.rounds <= c[i].rounds);
		assert_true(o.downtime_ms * 5 >= c[i].down * 4 && o.downtime_ms <= c[i].down * 3);
		assert_true(o.total_ms * 3 >= c[i].total && o.total_ms * 5 <= c[i].total * 3);
	}
}

/* --- the choice --- */

static const struct policy_params defaults = POLICY_DEFAULTS;
static struct policy_vm vms[4];
static struct policy_peer peers[4];
static struct policy_host host;
static struct policy_decision d;

/* An overloaded host (95% for 20 s) with one small clean VM and one idle peer on a
 * fast link. */
static int setup(void **state)
{
	memset(vms, 0, sizeof(vms));
	memset(peers, 0, sizeof(peers));
	vms[0] = (struct policy_vm){ 1, 64, 10, 100, 30, UINT64_MAX, 0 };
	peers[0] = (struct policy_peer){ IP(10, 0, 0, 2), 20, 1024, 1, 100 * MB, 1, 500,
					 UINT64_MAX };
	host = (struct policy_host){ 95, 20000, vms, 1, peers, 1 };
	return 0;
}

static enum policy_why choose(void)
{
	return policy_choose(&defaults, &host, &d);
}

static void test_migrates(void **state)
{
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.vm_id, 1);
	assert_int_equal(d.peer_ip, IP(10, 0, 0, 2));
	assert_int_equal(d.target_load_pct, 50);
	assert_int_equal(d.target_free_mib, 1024 - 64);
	assert_true(d.pred.converged);
	assert_string_equal(d.text, "migrating vm1 to 10.0.0.2: load 95% > 85% for 20 s; "
				    "predicted downtime 3 ms, total 676 ms; target load 50%, "
				    "free 960 MiB");
}

static void test_not_overloaded(void **state)
{
	host.load_pct = 84;
	assert_int_equal(choose(), POLICY_NOT_OVERLOADED);
	host.load_pct = 85;
	host.high_for_ms = 9999;
	assert_int_equal(choose(), POLICY_NOT_LONG_ENOUGH);
	assert_string_equal(d.text, "not for long enough: load 85% >= 85% for 9 s of 10");
	host.high_for_ms = 10000;
	assert_int_equal(choose(), POLICY_MIGRATE);
}

static void test_no_peer(void **state)
{
	host.npeers = 0;
	assert_int_equal(choose(), POLICY_NO_PEER);
	host.npeers = 1;
	host.nvms = 0;
	assert_int_equal(choose(), POLICY_NO_FIT);
}

/* A peer that the VM's share would take to load-high is no target. */
static void test_peers_loaded(void **state)
{
	peers[1] = peers[0];
	peers[1].ip++;
	peers[0].load_pct = 55; /* 55 + 30 = 85: would be overloaded */
	peers[1].load_pct = 90;
	host.npeers = 2;
	assert_int_equal(choose(), POLICY_PEERS_LOADED);
	peers[0].load_pct = 54;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.peer_ip, peers[0].ip);
}

/* Loads count runnable vCPUs (hv/load.h), so they pass 100: three always-runnable VMs
 * make 300%, each adds its 100% to a target, and a peer already running one VM (100%)
 * takes another only while 200% stays under load-high. */
static void test_loads_past_100(void **state)
{
	struct policy_params p = defaults;

	p.load_high = 250;
	for (uint32_t i = 0; i < 3; i++)
		vms[i] = (struct policy_vm){ i + 1, 4, 10, 100, 100, UINT64_MAX, 0 };
	host.nvms = 3;
	host.load_pct = 300;
	peers[0].load_pct = 100;
	assert_int_equal(policy_choose(&p, &host, &d), POLICY_MIGRATE);
	assert_int_equal(d.target_load_pct, 200);
	peers[0].load_pct = 150; /* 150 + 100 = 250: would be overloaded */
	assert_int_equal(policy_choose(&p, &host, &d), POLICY_PEERS_LOADED);
	host.load_pct = 249; /* what is left once one VM has gone: under load-high */
	assert_int_equal(policy_choose(&p, &host, &d), POLICY_NOT_OVERLOADED);
}

/* The target keeps mem-reserve free; a VM too big for every peer leaves the others. */
static void test_too_big(void **state)
{
	vms[0].mem_mib = 1024 - 64 + 1;
	assert_int_equal(choose(), POLICY_NO_FIT);
	vms[0].mem_mib = 1024 - 64;
	assert_int_equal(choose(), POLICY_MIGRATE);
	vms[0].mem_mib = 4096;
	vms[1] = (struct policy_vm){ 2, 32, 10, 100, 5, UINT64_MAX, 0 };
	host.nvms = 2;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.vm_id, 2);
}

/* A guest dirtying faster than the link pauses too long: refused, with the figure. */
static void test_too_dirty(void **state)
{
	peers[0].link_bps = 1480000;
	vms[0].dirty_rate = 100000;
	vms[0].wss_pages = 64 * 256;
	assert_int_equal(choose(), POLICY_TOO_DIRTY);
	assert_non_null(strstr(d.text, "> 300 ms"));
	/* the obstacle met furthest along is the one reported */
	vms[1] = (struct policy_vm){ 2, 32, 10, 100, 5, 1000, 0 };
	host.nvms = 2;
	assert_int_equal(choose(), POLICY_TOO_DIRTY);
	/* a faster peer with less headroom takes it */
	peers[1] = peers[0];
	peers[1].ip = IP(10, 0, 0, 9);
	peers[1].load_pct = 50;
	peers[1].link_bps = 1000 * MB;
	host.npeers = 2;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.peer_ip, IP(10, 0, 0, 9));
}

/* Equal candidates: lowest VM id, lowest peer ip, whatever the order given. */
static void test_ties(void **state)
{
	vms[1] = vms[0];
	vms[0].id = 7;
	vms[1].id = 3;
	peers[1] = peers[0];
	peers[0].ip = IP(10, 0, 0, 5);
	peers[1].ip = IP(10, 0, 0, 4);
	host.nvms = host.npeers = 2;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.vm_id, 3);
	assert_int_equal(d.peer_ip, IP(10, 0, 0, 4));
	assert_int_equal(d.vm, 1);
	assert_int_equal(d.peer, 1);
	/* more headroom beats a lower ip */
	peers[0].load_pct = 10;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.peer_ip, IP(10, 0, 0, 5));
}

/* The VM relieving most load per ms of downtime: twice the share for far more than
 * twice the downtime loses; for the same downtime the bigger share wins. */
static void test_load_per_downtime(void **state)
{
	peers[0].link_bps = 10 * MB;
	vms[0] = (struct policy_vm){ 1, 64, 1000, 16384, 40, UINT64_MAX, 0 };
	vms[1] = (struct policy_vm){ 2, 8, 0, 0, 20, UINT64_MAX, 0 };
	host.nvms = 2;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.vm_id, 2);
	assert_int_equal(d.pred.downtime_ms, 2);
	vms[0].dirty_rate = 0;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.vm_id, 1);
}

/* Hysteresis: a VM that just arrived stays, a peer that just received is not chosen,
 * for the cooldown; then both are free again. */
static void test_cooldown(void **state)
{
	vms[0].since_move_ms = 59999;
	assert_int_equal(choose(), POLICY_COOLDOWN);
	vms[0].since_move_ms = 60000;
	assert_int_equal(choose(), POLICY_MIGRATE);
	peers[0].since_sent_ms = 0;
	assert_int_equal(choose(), POLICY_COOLDOWN);
	assert_string_equal(d.text, "all in cooldown: every VM or peer moved within 60 s");
	peers[1] = peers[0];
	peers[1].ip++;
	peers[1].load_pct = 80;
	peers[1].since_sent_ms = UINT64_MAX;
	host.npeers = 2;
	assert_int_equal(choose(), POLICY_PEERS_LOADED);
	peers[1].load_pct = 30;
	assert_int_equal(choose(), POLICY_MIGRATE);
	assert_int_equal(d.peer, 1);
}

static void test_why_str(void **state)
{
	assert_string_equal(policy_why_str(POLICY_TOO_DIRTY), "every VM too dirty");
	assert_string_equal(policy_why_str((enum policy_why)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_dirtying),
		cmocka_unit_test(test_dirty_beats_bandwidth),
		cmocka_unit_test(test_round_limit),
		cmocka_unit_test(test_zero_bandwidth),
		cmocka_unit_test(test_wss_caps),
		cmocka_unit_test(test_pause_costs),
		cmocka_unit_test(test_zero_pages),
		cmocka_unit_test(test_readme_figures),
		cmocka_unit_test_setup(test_migrates, setup),
		cmocka_unit_test_setup(test_not_overloaded, setup),
		cmocka_unit_test_setup(test_no_peer, setup),
		cmocka_unit_test_setup(test_peers_loaded, setup),
		cmocka_unit_test_setup(test_loads_past_100, setup),
		cmocka_unit_test_setup(test_too_big, setup),
		cmocka_unit_test_setup(test_too_dirty, setup),
		cmocka_unit_test_setup(test_ties, setup),
		cmocka_unit_test_setup(test_load_per_downtime, setup),
		cmocka_unit_test_setup(test_cooldown, setup),
		cmocka_unit_test(test_why_str),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
