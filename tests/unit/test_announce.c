#include <string.h>
#include "hv/error.h"
#include "migrate/announce.h"
#include "tls/tls.h"
#include "tests/unit/stubs.h"

static unsigned char arena[128 * 1024] __attribute__((aligned(16)));
static struct tls_key key, other; /* the LAN's discovery key, and another cluster's */

/* 370%: the load counts runnable vCPUs, so it passes 100 (hv/load.h) */
static const struct announce sample = { 0x0a000002, 4444, 370, 3, 420, 9, 150, 25, 100,
					  ANNOUNCE_RECEIVING };

static void test_round_trip(void **state)
{
	uint8_t b[ANNOUNCE_BODY_LEN];
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
	uint8_t b[ANNOUNCE_BODY_LEN];
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
	/* version 3, the last without a counter and MAC, is refused */
	announce_encode(&sample, b);
	b[4] = 3;
	assert_false(announce_decode(b, sizeof(b), sample.ip, &a));
	/* a version 2 announcement, 24 bytes, is refused */
	announce_encode(&sample, b);
	b[4] = 2;
	assert_false(announce_decode(b, 24, sample.ip, &a));
	assert_false(announce_decode(b, sizeof(b), sample.ip, &a));
}

static void test_malformed(void **state)
{
	uint8_t b[ANNOUNCE_BODY_LEN + 1], c[ANNOUNCE_BODY_LEN + 1];
	struct announce a, x;

	announce_encode(&sample, b);
	assert_false(announce_decode(b, ANNOUNCE_BODY_LEN - 1, 0x0a000002, &a)); /* short */
	assert_false(announce_decode(b, ANNOUNCE_BODY_LEN + 1, 0x0a000002, &a)); /* long */
	assert_false(announce_decode(b, ANNOUNCE_BODY_LEN, 0x0a000003, &a));     /* not its own */
	for (int i = 0; i < 6; i++) {                                      /* magic, version */
		memcpy(c, b, ANNOUNCE_BODY_LEN);
		c[i] ^= 0x40;
		assert_false(announce_decode(c, ANNOUNCE_BODY_LEN, 0x0a000002, &a));
	}
	x = sample;
	x.load = ANNOUNCE_LOAD_MAX;
	announce_encode(&x, c);
	assert_true(announce_decode(c, ANNOUNCE_BODY_LEN, 0x0a000002, &a));
	assert_int_equal(a.load, ANNOUNCE_LOAD_MAX);
	x.load = ANNOUNCE_LOAD_MAX + 1;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_BODY_LEN, 0x0a000002, &a));
	memcpy(c, b, ANNOUNCE_BODY_LEN); /* version 1, whose load was one byte */
	c[4] = 1;
	assert_false(announce_decode(c, ANNOUNCE_BODY_LEN, 0x0a000002, &a));
	x = sample;
	x.port = 0;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_BODY_LEN, 0x0a000002, &a));
	x = sample;
	x.ip = 0xffffffff;
	announce_encode(&x, c);
	assert_false(announce_decode(c, ANNOUNCE_BODY_LEN, 0xffffffff, &a));
}

/* A host heard again after it expired keeps the link figure measured to its address
 * (under Bochs an idle host's clock outruns a busy peer's, which then expires between
 * two of its announcements), and only that: its round trip is measured again. A new
 * host takes a free slot without a link figure before one that has one. */
static void test_expired_peer_keeps_its_link_figure(void **state)
{
	struct peer t[PEERS_MAX] = { 0 };
	struct announce a = sample, b = sample;

	b.ip = sample.ip + 1;
	peers_heard(t, &a, 1000);
	peers_find(t, a.ip)->link_bps = 1180000;
	peer_rtt_sample(peers_find(t, a.ip), 9000);
	assert_int_equal(peers_expire(t, 1001 + ANNOUNCE_TIMEOUT_MS), 1);
	assert_null(peers_find(t, a.ip));
	peers_heard(t, &b, 20000); /* a new host: not into the expired one's slot */
	assert_int_equal(peers_find(t, b.ip)->link_bps, 0);
	peers_heard(t, &a, 20001);
	struct peer *p = peers_find(t, a.ip);
	assert_non_null(p);
	assert_int_equal(p->link_bps, 1180000);
	assert_int_equal(p->rtt_us, 0);
	assert_int_equal(p->heard_ms, 20001);
	assert_ptr_not_equal(p, peers_find(t, b.ip));
	/* when only slots with a link figure are free, a new host takes one */
	for (uint32_t i = 0; i < PEERS_MAX; i++) {
		a.ip = 0x0a000200 + i;
		peers_heard(t, &a, 30000);
		peers_find(t, a.ip)->link_bps = 1;
	}
	assert_int_equal(peers_expire(t, 30001 + ANNOUNCE_TIMEOUT_MS), PEERS_MAX);
	a.ip = 0x0a000300;
	peers_heard(t, &a, 50000);
	assert_non_null(peers_find(t, a.ip));
	assert_int_equal(peers_find(t, a.ip)->link_bps, 0);
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
	/* the table is full: the peer heard longest ago makes room */
	for (uint32_t i = 0; i < PEERS_MAX + 1; i++) {
		a.ip = 0x0a000100 + i;
		peers_heard(t, &a, 10000 + i);
	}
	assert_null(peers_find(t, 0x0a000100));
	assert_non_null(peers_find(t, 0x0a000100 + PEERS_MAX));
}

/* One slow answer (a host busy for a moment) must not stand for the link until the next
 * probe: the peer's round trip is the least of the last PEER_RTT_KEEP. */
static void test_peer_rtt_is_the_least_of_the_last_few(void **state)
{
	struct peer p = { .used = true };
	unsigned i;

	peer_rtt_sample(&p, 155000);
	assert_int_equal(p.rtt_us, 155000);       /* one sample: it is all there is */
	peer_rtt_sample(&p, 4000);
	assert_int_equal(p.rtt_us, 4000);
	peer_rtt_sample(&p, 181000);
	assert_int_equal(p.rtt_us, 4000);         /* an outlier after it changes nothing */
	for (i = 0; i < PEER_RTT_KEEP - 2; i++)
		peer_rtt_sample(&p, 9000);
	assert_int_equal(p.rtt_us, 4000);         /* still among the last PEER_RTT_KEEP */
	peer_rtt_sample(&p, 9000);
	assert_int_equal(p.rtt_us, 9000);         /* now older than them */
	for (i = 0; i < PEER_RTT_KEEP; i++)
		peer_rtt_sample(&p, 30000);
	assert_int_equal(p.rtt_us, 30000);        /* a link that got slower is believed */
	peer_rtt_sample(&p, 0);
	assert_int_equal(p.rtt_us, 1);            /* 0 means "none": a sample is at least 1 */
}

/* --- version 4: counter and MAC --------------------------------------------------------- */

static struct announce_auth *keyed(void)
{
	static struct announce_auth auth;

	memset(&auth, 0, sizeof(auth));
	auth.key = &key;
	return &auth;
}

static enum announce_verdict open_sample(struct announce_auth *auth, uint64_t counter,
					 const struct tls_key *k, struct announce *a)
{
	uint8_t b[ANNOUNCE_LEN];
	size_t len = announce_seal(&sample, counter, k, b);

	assert_int_equal(len, k ? ANNOUNCE_LEN : ANNOUNCE_UNSIGNED_LEN);
	return announce_open(auth, b, len, sample.ip, 1000, a);
}

/* ip answers the challenge auth sends it, as a host with k would. */
static bool answer_challenge(struct announce_auth *auth, uint32_t ip, const struct tls_key *k,
			     uint64_t now)
{
	uint8_t nonce[ANNOUNCE_NONCE_LEN], q[ANNOUNCE_CHALLENGE_LEN], r[ANNOUNCE_ANSWER_LEN];

	memset(nonce, (int)(now * 7 + ip), sizeof(nonce));
	assert_true(announce_challenge(auth, ip, now, nonce, q));
	assert_int_equal(announce_answer(q, sizeof(q), ip, k, r), ANNOUNCE_ANSWER_LEN);
	return announce_proof(auth, r, sizeof(r), ip);
}

static void test_signed_round_trip(void **state)
{
	struct announce_auth *auth = keyed();
	uint8_t b[ANNOUNCE_LEN];
	struct announce a;

	assert_int_equal(announce_seal(&sample, 0x0102030405060708ull, &key, b), ANNOUNCE_LEN);
	assert_int_equal(b[ANNOUNCE_BODY_LEN], 0x08); /* the counter, little-endian */
	assert_int_equal(b[ANNOUNCE_BODY_LEN + 7], 0x01);
	assert_int_equal(b[4], 4);
	/* held back until its sender answers a challenge, its counter kept meanwhile */
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, sample.ip, 5, &a),
			 ANNOUNCE_UNPROVEN);
	assert_int_equal(auth->senders[0].ip, sample.ip);
	assert_int_equal(auth->senders[0].last, 0x0102030405060708ull);
	assert_true(answer_challenge(auth, sample.ip, &key, 6));
	announce_seal(&sample, 0x0102030405060709ull, &key, b);
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, sample.ip, 7, &a), ANNOUNCE_OK);
	assert_int_equal(a.load, sample.load);
	assert_int_equal(a.capacity, sample.capacity);
	assert_int_equal(auth->count[ANNOUNCE_OK], 1);
	assert_int_equal(auth->count[ANNOUNCE_UNPROVEN], 1);
	assert_int_equal(auth->senders[0].last, 0x0102030405060709ull);
}

/* A host with a key takes signed announcements only; one with insecure-migration=on
 * (no key) takes both, and sends unsigned ones. */
static void test_unsigned(void **state)
{
	struct announce_auth *auth = keyed(), insecure = { 0 };
	struct announce a;

	assert_int_equal(open_sample(auth, 7, NULL, &a), ANNOUNCE_UNSIGNED);
	assert_int_equal(auth->count[ANNOUNCE_UNSIGNED], 1);
	assert_int_equal(auth->senders[0].ip, 0); /* nothing rejected takes a slot */
	assert_int_equal(open_sample(&insecure, 7, NULL, &a), ANNOUNCE_OK);
	assert_int_equal(open_sample(&insecure, 7, &key, &a), ANNOUNCE_OK);
	assert_int_equal(insecure.count[ANNOUNCE_OK], 2);
}

static void test_forged(void **state)
{
	struct announce_auth *auth = keyed();
	uint8_t b[ANNOUNCE_LEN], c[ANNOUNCE_LEN];
	struct announce a;

	assert_int_equal(open_sample(auth, 7, &other, &a), ANNOUNCE_FORGED);
	/* altered on the way: the body (still well-formed), the counter, the MAC */
	static const size_t at[] = { 12, 28, ANNOUNCE_BODY_LEN + 1, ANNOUNCE_UNSIGNED_LEN,
				     ANNOUNCE_LEN - 1 };
	announce_seal(&sample, 7, &key, b);
	for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
		memcpy(c, b, sizeof(c));
		c[at[i]] ^= 1;
		assert_int_equal(announce_open(auth, c, ANNOUNCE_LEN, sample.ip, 1, &a),
				 ANNOUNCE_FORGED);
	}
	assert_int_equal(auth->count[ANNOUNCE_FORGED], 1 + ARRAY_SIZE(at));
	assert_int_equal(auth->senders[0].ip, 0);
	/* the genuine one still goes through: nothing forged moved the counter */
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, sample.ip, 1, &a),
			 ANNOUNCE_UNPROVEN);
}

static void test_replayed(void **state)
{
	struct announce_auth *auth = keyed();
	struct announce a, x = sample;
	uint8_t b[ANNOUNCE_LEN];

	assert_int_equal(open_sample(auth, 100, &key, &a), ANNOUNCE_UNPROVEN);
	assert_true(answer_challenge(auth, sample.ip, &key, 1000));
	assert_int_equal(open_sample(auth, 100, &key, &a), ANNOUNCE_REPLAYED);
	assert_int_equal(open_sample(auth, 99, &key, &a), ANNOUNCE_REPLAYED);
	assert_int_equal(open_sample(auth, 101, &key, &a), ANNOUNCE_OK);
	assert_int_equal(auth->count[ANNOUNCE_REPLAYED], 2);
	/* each sender has its own counter */
	x.ip = 0x0a000003;
	announce_seal(&x, 5, &key, b);
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, x.ip, 1, &a), ANNOUNCE_UNPROVEN);
	assert_int_equal(open_sample(auth, 101, &key, &a), ANNOUNCE_REPLAYED);
}

/* A full table forgets the sender heard from longest ago, and only it. */
static void test_senders_table(void **state)
{
	struct announce_auth *auth = keyed();
	struct announce a, x = sample;
	uint8_t b[ANNOUNCE_LEN];

	for (uint32_t i = 0; i <= ANNOUNCE_SENDERS_MAX; i++) {
		x.ip = 0x0a000100 + i;
		announce_seal(&x, 50, &key, b);
		assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, x.ip, 100 + i, &a),
				 ANNOUNCE_UNPROVEN);
	}
	for (uint32_t i = 1; i <= ANNOUNCE_SENDERS_MAX; i++) {
		x.ip = 0x0a000100 + i;
		announce_seal(&x, 50, &key, b);
		assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, x.ip, 1000, &a),
				 ANNOUNCE_REPLAYED);
	}
	/* the one forgotten: a recording of it is held back like any new sender's, and
	 * must answer a challenge before it is believed */
	x.ip = 0x0a000100;
	announce_seal(&x, 50, &key, b);
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, x.ip, 1000, &a),
			 ANNOUNCE_UNPROVEN);
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, x.ip, 1000, &a), ANNOUNCE_REPLAYED);
}

/* After this host's reboot (a fresh table) a recording of a host now gone is new to it:
 * it is held back however many announcements of it are played, and challenged once per
 * period; only an answer to the nonce in flight, for the sender's own address, under the
 * key proves it. */
static void test_challenge(void **state)
{
	struct announce_auth *auth = keyed();
	uint8_t n1[ANNOUNCE_NONCE_LEN], n2[ANNOUNCE_NONCE_LEN], q1[ANNOUNCE_CHALLENGE_LEN],
		q2[ANNOUNCE_CHALLENGE_LEN], r[ANNOUNCE_ANSWER_LEN], bad[ANNOUNCE_CHALLENGE_LEN];
	struct announce a;

	memset(n1, 0x11, sizeof(n1));
	memset(n2, 0x22, sizeof(n2));
	/* nobody is challenged before it has sent a good announcement */
	assert_false(announce_challenge(auth, sample.ip, 1000, n1, q1));
	for (uint64_t c = 100; c < 110; c++)
		assert_int_equal(open_sample(auth, c, &key, &a), ANNOUNCE_UNPROVEN);
	assert_true(announce_challenge(auth, sample.ip, 1000, n1, q1));
	assert_memory_equal(q1, "TRNQ\x04\0\0\0", 8);
	assert_memory_equal(q1 + 8, n1, ANNOUNCE_NONCE_LEN);
	/* one in flight a period */
	assert_false(announce_challenge(auth, sample.ip, 1000 + ANNOUNCE_PERIOD_MS - 1, n2, q2));
	assert_true(announce_challenge(auth, sample.ip, 1000 + ANNOUNCE_PERIOD_MS, n2, q2));
	assert_int_equal(auth->challenges, 2);
	/* the answer to the first nonce is stale now */
	assert_int_equal(announce_answer(q1, sizeof(q1), sample.ip, &key, r), ANNOUNCE_ANSWER_LEN);
	assert_false(announce_proof(auth, r, sizeof(r), sample.ip));
	/* under another key; for another address (another key holder's, passed on) */
	announce_answer(q2, sizeof(q2), sample.ip, &other, r);
	assert_false(announce_proof(auth, r, sizeof(r), sample.ip));
	announce_answer(q2, sizeof(q2), 0x0a000009, &key, r);
	assert_false(announce_proof(auth, r, sizeof(r), sample.ip));
	/* from an address that was not asked; cut short */
	announce_answer(q2, sizeof(q2), 0x0a000009, &key, r);
	assert_false(announce_proof(auth, r, sizeof(r), 0x0a000009));
	announce_answer(q2, sizeof(q2), sample.ip, &key, r);
	assert_false(announce_proof(auth, r, sizeof(r) - 1, sample.ip));
	assert_int_equal(auth->bad_answers, 5);
	assert_int_equal(open_sample(auth, 110, &key, &a), ANNOUNCE_UNPROVEN);
	/* the right one */
	assert_true(announce_proof(auth, r, sizeof(r), sample.ip));
	assert_int_equal(auth->proofs, 1);
	assert_false(announce_proof(auth, r, sizeof(r), sample.ip)); /* played again */
	assert_int_equal(open_sample(auth, 111, &key, &a), ANNOUNCE_OK);
	assert_false(announce_challenge(auth, sample.ip, 99999, n1, q1)); /* proven for good */
	/* what is no challenge gets no answer; nor does any without a key */
	assert_int_equal(announce_answer(q2, sizeof(q2), sample.ip, NULL, r), 0);
	assert_int_equal(announce_answer(q2, sizeof(q2) - 1, sample.ip, &key, r), 0);
	for (size_t at = 0; at < 8; at++) {
		memcpy(bad, q2, sizeof(bad));
		bad[at] ^= 0x40;
		assert_int_equal(announce_answer(bad, sizeof(bad), sample.ip, &key, r), 0);
	}
}

static void test_malformed_v4(void **state)
{
	struct announce_auth *auth = keyed();
	uint8_t b[ANNOUNCE_LEN + 1];
	struct announce a;
	uint64_t n = 2; /* the two after the loop */

	memset(b, 0, sizeof(b));
	announce_seal(&sample, 9, &key, b);
	for (size_t len = 0; len <= ANNOUNCE_LEN + 1; len++) {
		if (len == ANNOUNCE_LEN || len == ANNOUNCE_UNSIGNED_LEN)
			continue;
		assert_int_equal(announce_open(auth, b, len, sample.ip, 1, &a),
				 ANNOUNCE_MALFORMED);
		n++;
	}
	/* signed, but speaking for another host */
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, sample.ip + 1, 1, &a),
			 ANNOUNCE_MALFORMED);
	/* a version 3 body under a good MAC is still version 3 */
	b[4] = 3;
	tls_mac_sign(&key, 9, b, ANNOUNCE_BODY_LEN, b + ANNOUNCE_UNSIGNED_LEN);
	assert_int_equal(announce_open(auth, b, ANNOUNCE_LEN, sample.ip, 1, &a),
			 ANNOUNCE_MALFORMED);
	assert_int_equal(auth->count[ANNOUNCE_MALFORMED], n);
	assert_int_equal(auth->count[ANNOUNCE_OK], 0);
}

/* The counter goes on from the wall clock: a rebooted sender starts above what it sent
 * before, as long as its clock went on; within a second, it counts. */
static void test_counter(void **state)
{
	const uint64_t t = 1764547200; /* 2025-12-01 */
	uint64_t c = announce_next_counter(0, t), before;

	assert_int_equal(c, t << 16);
	assert_int_equal(announce_next_counter(c, t), c + 1);
	for (int i = 0; i < 1000; i++)
		c = announce_next_counter(c, t);
	before = c;
	assert_true(announce_next_counter(0, t + 1) > before); /* rebooted a second later */
	assert_int_equal(announce_next_counter(c, t - 100), before + 1); /* clock stepped back */
}

static int setup(void **state)
{
	struct tls_key cluster;

	if (tls_init(arena, sizeof(arena)) ||
	    tls_key_parse(&cluster, "00112233445566778899aabbccddeeff"
				    "00112233445566778899aabbccddeeff") ||
	    tls_key_derive(&cluster, TLS_LABEL_DISCOVERY, &key))
		return -1;
	cluster.b[31] ^= 1;
	return tls_key_derive(&cluster, TLS_LABEL_DISCOVERY, &other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signed_round_trip),
		cmocka_unit_test(test_unsigned),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_replayed),
		cmocka_unit_test(test_senders_table),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_malformed_v4),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_peer_table),
		cmocka_unit_test(test_expired_peer_keeps_its_link_figure),
		cmocka_unit_test(test_peer_rtt_is_the_least_of_the_last_few),
	};
	return cmocka_run_group_tests_name("announce", tests, setup, NULL);
}
