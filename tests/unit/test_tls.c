/* tls/: the cluster key, derived keys and MACs against values computed with Python's hmac and
 * hashlib; TLS sessions between a client and a server in this process over in-memory pipes,
 * including a wrong key and records altered, dropped and replayed on the way. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv/error.h"
#include "tls/tls.h"
#include "tls/tls_int.h"
#include "tests/unit/stubs.h"

#define ARENA_SIZE (512 * 1024)
static unsigned char arena[ARENA_SIZE] __attribute__((aligned(16)));

static const char key_hex[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";

/* --- a one-way pipe of limited capacity, so that senders meet backpressure ------------------ */
struct pipe {
	uint8_t buf[256 * 1024];
	size_t len, cap;
	int closed;
};

struct end {
	struct pipe *out, *in;
};

static int pipe_send(void *ctx, const void *buf, size_t len)
{
	struct pipe *p = ((struct end *)ctx)->out;
	size_t n = len < p->cap - p->len ? len : p->cap - p->len;

	if (!n)
		return -E_BUSY;
	memcpy(p->buf + p->len, buf, n);
	p->len += n;
	return (int)n;
}

static int pipe_recv(void *ctx, void *buf, size_t len)
{
	struct pipe *p = ((struct end *)ctx)->in;
	size_t n = len < p->len ? len : p->len;

	if (!n)
		return p->closed ? 0 : -E_BUSY;
	memcpy(buf, p->buf, n);
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
	return (int)n;
}

struct link {
	struct pipe c2s, s2c;
	struct end cend, send;
	struct tls_session *client, *server;
};

static struct link *link_new(const struct tls_key *ckey, const struct tls_key *skey, size_t cap)
{
	struct link *l = calloc(1, sizeof(*l));

	l->c2s.cap = l->s2c.cap = cap;
	l->cend = (struct end){ &l->c2s, &l->s2c };
	l->send = (struct end){ &l->s2c, &l->c2s };
	l->client = tls_session_new(TLS_CLIENT, ckey,
				    &(struct tls_io){ pipe_send, pipe_recv, &l->cend });
	l->server = tls_session_new(TLS_SERVER, skey,
				    &(struct tls_io){ pipe_send, pipe_recv, &l->send });
	assert_non_null(l->client);
	assert_non_null(l->server);
	return l;
}

static void link_free(struct link *l)
{
	tls_session_free(l->client);
	tls_session_free(l->server);
	free(l);
}

/* Steps both ends until neither waits; a bounded number of rounds. */
static void handshake(struct link *l, int *rc, int *rs)
{
	*rc = *rs = -E_BUSY;
	for (int i = 0; i < 100 && (*rc == -E_BUSY || *rs == -E_BUSY); i++) {
		if (*rc == -E_BUSY)
			*rc = tls_session_handshake(l->client);
		if (*rs == -E_BUSY)
			*rs = tls_session_handshake(l->server);
	}
}

static void migration_key(struct tls_key *k)
{
	struct tls_key cluster;

	assert_int_equal(tls_key_parse(&cluster, key_hex), 0);
	assert_int_equal(tls_key_derive(&cluster, TLS_LABEL_MIGRATION, k), 0);
}

static struct link *connected(size_t cap)
{
	struct tls_key k;
	struct link *l;
	int rc, rs;

	migration_key(&k);
	l = link_new(&k, &k, cap);
	handshake(l, &rc, &rs);
	assert_int_equal(rc, 0);
	assert_int_equal(rs, 0);
	return l;
}

/* Sends all of buf from one end while the other drains it, both polled in turn. */
static void transfer(struct tls_session *from, struct tls_session *to, const uint8_t *buf,
		     size_t len, uint8_t *got)
{
	size_t sent = 0, recvd = 0;

	for (int i = 0; i < 10000 && recvd < len; i++) {
		if (sent < len) {
			int n = tls_session_send(from, buf + sent, len - sent);

			assert_true(n > 0 || n == -E_BUSY);
			if (n > 0)
				sent += (size_t)n;
		}
		int n = tls_session_recv(to, got + recvd, len - recvd);

		assert_true(n > 0 || n == -E_BUSY);
		if (n > 0)
			recvd += (size_t)n;
	}
	assert_int_equal(recvd, len);
}

static size_t record_len(const struct pipe *p, size_t at)
{
	return 5 + ((size_t)p->buf[at + 3] << 8 | p->buf[at + 4]); /* RFC 5246, 6.2.1 */
}

/* --- sessions -------------------------------------------------------------------------------- */

static void test_handshake_and_data(void **state)
{
	static uint8_t big[100000], got[100000];
	static const char secret[] = "guest memory page: not for the wire in clear";
	struct link *l = connected(8192); /* less than a record: sends meet backpressure */
	char buf[64];

	assert_string_equal(tls_session_why(l->client), "");
	assert_string_equal(tls_session_why(l->server), "");
	assert_string_equal(tls_session_suite(l->client),
			    "TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256");
	assert_string_equal(tls_session_suite(l->server),
			    "TLS-ECDHE-PSK-WITH-CHACHA20-POLY1305-SHA256");

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	transfer(l->client, l->server, big, sizeof(big), got);
	assert_memory_equal(big, got, sizeof(big));
	transfer(l->server, l->client, (const uint8_t *)"ack", 3, (uint8_t *)buf);
	assert_memory_equal(buf, "ack", 3);

	/* On the wire the bytes are encrypted. */
	assert_int_equal(tls_session_send(l->client, secret, sizeof(secret)), sizeof(secret));
	assert_null(memmem(l->c2s.buf, l->c2s.len, "guest memory", 12));
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), sizeof(secret));
	assert_string_equal(buf, secret);

	/* A part-read record: the rest is pending, no transport needed. */
	assert_int_equal(tls_session_send(l->server, "0123456789", 10), 10);
	assert_int_equal(tls_session_recv(l->client, buf, 4), 4);
	assert_int_equal(tls_session_pending(l->client), 6);
	assert_int_equal(tls_session_recv(l->client, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "456789", 6);

	/* close_notify: the peer sees a clean end, not an error. */
	assert_int_equal(tls_session_close(l->client), 0);
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), 0);
	assert_string_equal(tls_session_why(l->server), "");
	link_free(l);
}

static void test_wrong_key_refused_both_sides(void **state)
{
	struct tls_key good, bad;
	struct link *l;
	int rc, rs;

	migration_key(&good);
	bad = good;
	bad.b[31] ^= 1;
	l = link_new(&good, &bad, 1 << 17);
	handshake(l, &rc, &rs);
	assert_int_equal(rc, -E_AUTH);
	assert_int_equal(rs, -E_AUTH);
	/* The server finds the client's Finished unauthenticated; the client hears why. */
	assert_string_equal(tls_session_why(l->server),
			    "the peer holds another key (its Finished failed authentication)");
	assert_string_equal(tls_session_why(l->client),
			    "the peer refused the handshake (alert bad_record_mac: it holds "
			    "another key, or none)");
	/* Broken stays broken: no data moves afterwards. */
	assert_int_equal(tls_session_send(l->client, "x", 1), -E_AUTH);
	assert_int_equal(tls_session_recv(l->server, &rc, 1), -E_AUTH);
	link_free(l);
}

static void test_peer_gone_during_handshake(void **state)
{
	struct tls_key k;
	struct link *l;
	int rc, rs;

	migration_key(&k);
	l = link_new(&k, &k, 1 << 17);
	assert_int_equal(tls_session_handshake(l->client), -E_BUSY); /* ClientHello sent */
	l->s2c.closed = 1;
	l->c2s.len = 0;
	handshake(l, &rc, &rs);
	assert_int_equal(rc, -E_IO);
	assert_string_equal(tls_session_why(l->client),
			    "the connection closed during the handshake");
	link_free(l);
}

static void test_flipped_bit_detected(void **state)
{
	struct link *l = connected(1 << 17);
	char buf[64];

	assert_int_equal(tls_session_send(l->client, "page data", 9), 9);
	l->c2s.buf[l->c2s.len - 20] ^= 0x10; /* in the ciphertext */
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), -E_AUTH);
	assert_string_equal(tls_session_why(l->server), "a record failed authentication: altered, "
			    "dropped or replayed on the wire");
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), -E_AUTH);
	link_free(l);
}

static void test_dropped_record_detected(void **state)
{
	struct link *l = connected(1 << 17);
	size_t first;
	char buf[64];

	assert_int_equal(tls_session_send(l->client, "one", 3), 3);
	first = l->c2s.len;
	assert_int_equal(tls_session_send(l->client, "two", 3), 3);
	assert_int_equal(record_len(&l->c2s, 0), first);
	memmove(l->c2s.buf, l->c2s.buf + first, l->c2s.len - first);
	l->c2s.len -= first;
	/* The record is intact, but sealed under a sequence number the server is not at. */
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), -E_AUTH);
	link_free(l);
}

static void test_replayed_record_detected(void **state)
{
	struct link *l = connected(1 << 17);
	uint8_t copy[256];
	size_t first;
	char buf[64];

	assert_int_equal(tls_session_send(l->client, "one", 3), 3);
	first = l->c2s.len;
	memcpy(copy, l->c2s.buf, first);
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), 3);
	memcpy(l->c2s.buf, copy, first);
	l->c2s.len = first;
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), -E_AUTH);
	link_free(l);
}

/* What a record adds is what tls_session_expansion() says: a sender that makes room for
 * len + expansion bytes has its record taken whole (migrate/stream.c relies on it). */
static void test_expansion(void **state)
{
	static uint8_t page[4124];
	struct link *l = connected(1 << 17);

	assert_int_equal(tls_session_expansion(l->client), 5 + 16); /* RFC 7905, 2 */
	assert_int_equal(tls_session_send(l->client, page, sizeof(page)), sizeof(page));
	assert_int_equal(l->c2s.len, sizeof(page) + tls_session_expansion(l->client));
	assert_int_equal(record_len(&l->c2s, 0), l->c2s.len);
	link_free(l);
}

/* A record sealed while the transport was full goes out with tls_session_flush(), without
 * the caller sending its bytes again; the peer gets them once. */
static void test_flush_held_record(void **state)
{
	struct link *l = connected(1 << 17);
	char buf[16];

	l->c2s.cap = l->c2s.len; /* the transport takes nothing now */
	assert_int_equal(tls_session_send(l->client, "held", 4), -E_BUSY);
	assert_int_equal(tls_session_flush(l->client), -E_BUSY);
	l->c2s.cap = sizeof(l->c2s.buf);
	assert_int_equal(tls_session_flush(l->client), 0);
	assert_int_equal(tls_session_flush(l->client), 0); /* nothing held: nothing to do */
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "held", 4);
	assert_int_equal(tls_session_recv(l->server, buf, sizeof(buf)), -E_BUSY);
	link_free(l);
}

/* A peer that speaks the plain migration protocol (a host with insecure-migration=on) is
 * named as such on either side. */
static void test_plain_peer_named(void **state)
{
	static const uint8_t plain[] = "TRNM\x04\x00\x09\x00\x78\x00\x00\x00" "abcdbad magic";
	struct tls_key k;
	struct link *l;

	migration_key(&k);
	l = link_new(&k, &k, 1 << 17);
	memcpy(l->c2s.buf, plain, sizeof(plain)); /* to the server, instead of a ClientHello */
	l->c2s.len = sizeof(plain);
	assert_int_equal(tls_session_handshake(l->server), -E_FORMAT);
	assert_non_null(strstr(tls_session_why(l->server), "the peer does not speak TLS"));

	assert_int_equal(tls_session_handshake(l->client), -E_BUSY); /* ClientHello sent */
	memcpy(l->s2c.buf, plain, sizeof(plain)); /* the plain target's ABORT */
	l->s2c.len = sizeof(plain);
	assert_int_equal(tls_session_handshake(l->client), -E_FORMAT);
	assert_non_null(strstr(tls_session_why(l->client), "the peer does not speak TLS"));
	link_free(l);
}

/* Ephemeral keys and fresh randoms: the same plaintext under the same PSK is sealed
 * differently in two sessions. */
static void test_sessions_differ(void **state)
{
	struct link *a = connected(1 << 17), *b = connected(1 << 17);

	assert_int_equal(tls_session_send(a->client, "same words", 10), 10);
	assert_int_equal(tls_session_send(b->client, "same words", 10), 10);
	assert_int_equal(a->c2s.len, b->c2s.len);
	assert_memory_not_equal(a->c2s.buf + 5, b->c2s.buf + 5, a->c2s.len - 5);
	link_free(a);
	link_free(b);
}

/* The arena runs out: session creation says so (NULL) instead of failing later, and freeing
 * gives everything back. */
static void test_arena_exhaustion_and_reuse(void **state)
{
	struct tls_session *s[64];
	const struct tls_io io = { pipe_send, pipe_recv, NULL };
	struct tls_key k;
	size_t n = 0;

	migration_key(&k);
	while (n < ARRAY_SIZE(s)) {
		s[n] = tls_session_new(TLS_SERVER, &k, &io);
		if (!s[n])
			break;
		n++;
	}
	assert_true(n >= 2 && n < ARRAY_SIZE(s));
	for (size_t i = 0; i < n; i++)
		tls_session_free(s[i]);
	for (int round = 0; round < 3 * (int)n; round++) {
		struct link *l = connected(1 << 17);

		link_free(l);
	}
}

static void test_init_once(void **state)
{
	assert_int_equal(tls_init(arena, sizeof(arena)), -E_BUSY);
}

/* The kernel's view of the CPU's flags is an independent reading of CPUID. */
static void test_entropy_hw_matches_cpu(void **state)
{
	static char info[1 << 16];
	FILE *f = fopen("/proc/cpuinfo", "r");
	size_t n;

	if (!f)
		skip();
	n = fread(info, 1, sizeof(info) - 1, f);
	fclose(f);
	info[n] = 0;
	assert_int_equal(tls_entropy_hw(), strstr(info, " rdrand") || strstr(info, " rdseed"));
}

/* Two fresh accumulators fed by a source that repeated itself would give the same block; with
 * the hardware source and without it (TSC jitter alone must then satisfy mbedTLS's strong
 * threshold), they do not. */
static void entropy_block(bool hw, unsigned char out[MBEDTLS_ENTROPY_BLOCK_SIZE])
{
	mbedtls_entropy_context e;

	mbedtls_entropy_init(&e);
	assert_int_equal(tls_entropy_sources(&e, hw), 0);
	assert_int_equal(mbedtls_entropy_func(&e, out, MBEDTLS_ENTROPY_BLOCK_SIZE), 0);
	mbedtls_entropy_free(&e);
}

static void test_entropy_sources(void **state)
{
	unsigned char a[MBEDTLS_ENTROPY_BLOCK_SIZE], b[MBEDTLS_ENTROPY_BLOCK_SIZE];

	entropy_block(false, a);
	entropy_block(false, b);
	assert_memory_not_equal(a, b, sizeof(a));
	if (!tls_entropy_hw())
		return;
	entropy_block(true, a);
	entropy_block(true, b);
	assert_memory_not_equal(a, b, sizeof(a));
}

/* --- keys and MACs ------------------------------------------------------------------------- */

static void test_key_parse(void **state)
{
	struct tls_key k, sentinel;
	char s[80];

	assert_int_equal(tls_key_parse(&k, key_hex), 0);
	for (int i = 0; i < TLS_KEY_LEN; i++)
		assert_int_equal(k.b[i], i);

	memset(&sentinel, 0xa5, sizeof(sentinel));
	k = sentinel;
	assert_int_equal(tls_key_parse(&k, ""), -E_RANGE);
	memcpy(s, key_hex, 63);
	s[63] = 0;
	assert_int_equal(tls_key_parse(&k, s), -E_RANGE);
	strcpy(s, key_hex);
	strcat(s, "0");
	assert_int_equal(tls_key_parse(&k, s), -E_RANGE);
	strcpy(s, key_hex);
	s[10] = 'g';
	assert_int_equal(tls_key_parse(&k, s), -E_INVAL);
	s[10] = ' ';
	assert_int_equal(tls_key_parse(&k, s), -E_INVAL);
	assert_int_equal(tls_key_parse(&k, "0x0102"), -E_INVAL);
	assert_memory_equal(&k, &sentinel, sizeof(k));

	tls_key_wipe(&k);
	memset(&sentinel, 0, sizeof(sentinel));
	assert_memory_equal(&k, &sentinel, sizeof(k));
}

/* HKDF-SHA256 (RFC 5869) and HMAC-SHA256 as Python's hmac/hashlib compute them. */
static const uint8_t discovery_key[TLS_KEY_LEN] = {
	0x0c, 0x5d, 0xcd, 0x53, 0x16, 0x6e, 0x75, 0xb6, 0x83, 0xd8, 0x59, 0x2d, 0xc1, 0x3d, 0x70,
	0xc3, 0x1c, 0x37, 0x0f, 0x81, 0xc5, 0x08, 0x4b, 0x2d, 0x4c, 0x78, 0x7a, 0x4d, 0xbc, 0x48,
	0xf8, 0x5b,
};
static const char announcement[] = "tern host 10.0.2.15 idle";
static const uint8_t announcement_mac5[TLS_MAC_LEN] = {
	0x71, 0x3d, 0xfa, 0xa9, 0xa0, 0x8d, 0x5a, 0x4e, 0x35, 0x52, 0x02, 0x1f, 0xb7, 0x04, 0xab,
	0x60, 0xe5, 0xb0, 0x89, 0x84, 0x95, 0x00, 0xef, 0x15, 0x6c, 0x82, 0x40, 0xab, 0x83, 0xd2,
	0x1e, 0xca,
};

static void test_key_derive(void **state)
{
	struct tls_key cluster, disc, mig;

	assert_int_equal(tls_key_parse(&cluster, key_hex), 0);
	assert_int_equal(tls_key_derive(&cluster, TLS_LABEL_DISCOVERY, &disc), 0);
	assert_memory_equal(disc.b, discovery_key, TLS_KEY_LEN);
	assert_int_equal(tls_key_derive(&cluster, TLS_LABEL_MIGRATION, &mig), 0);
	assert_memory_not_equal(mig.b, disc.b, TLS_KEY_LEN);
	assert_memory_not_equal(mig.b, cluster.b, TLS_KEY_LEN);
}

static void test_mac(void **state)
{
	const size_t len = sizeof(announcement) - 1;
	struct tls_key cluster, disc, other;
	uint8_t mac[TLS_MAC_LEN], forged[TLS_MAC_LEN];
	uint64_t last = 0;

	assert_int_equal(tls_key_parse(&cluster, key_hex), 0);
	assert_int_equal(tls_key_derive(&cluster, TLS_LABEL_DISCOVERY, &disc), 0);
	assert_int_equal(tls_mac_sign(&disc, 5, announcement, len, mac), 0);
	assert_memory_equal(mac, announcement_mac5, TLS_MAC_LEN);

	/* Forged: a flipped bit in the MAC, another key, another message, another counter. */
	memcpy(forged, mac, sizeof(forged));
	forged[17] ^= 0x40;
	assert_int_equal(tls_mac_verify(&disc, 5, announcement, len, forged, &last), -E_AUTH);
	other = disc;
	other.b[0] ^= 1;
	assert_int_equal(tls_mac_verify(&other, 5, announcement, len, mac, &last), -E_AUTH);
	assert_int_equal(tls_mac_verify(&disc, 5, "tern host 10.0.2.16 idle", len, mac, &last),
			 -E_AUTH);
	assert_int_equal(tls_mac_verify(&disc, 6, announcement, len, mac, &last), -E_AUTH);
	/* Unsigned. */
	assert_int_equal(tls_mac_verify(&disc, 5, announcement, len, NULL, &last), -E_NOENT);
	assert_int_equal(last, 0); /* nothing rejected moved the counter */

	assert_int_equal(tls_mac_verify(&disc, 5, announcement, len, mac, &last), 0);
	assert_int_equal(last, 5);
	/* Replayed, and older than the last accepted. */
	assert_int_equal(tls_mac_verify(&disc, 5, announcement, len, mac, &last), -E_EXIST);
	assert_int_equal(tls_mac_sign(&disc, 4, announcement, len, mac), 0);
	assert_int_equal(tls_mac_verify(&disc, 4, announcement, len, mac, &last), -E_EXIST);
	assert_int_equal(last, 5);
	assert_int_equal(tls_mac_sign(&disc, 9, announcement, len, mac), 0);
	assert_int_equal(tls_mac_verify(&disc, 9, announcement, len, mac, &last), 0);
	assert_int_equal(last, 9);
}

static int setup(void **state)
{
	return tls_init(arena, sizeof(arena));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_once),
		cmocka_unit_test(test_entropy_hw_matches_cpu),
		cmocka_unit_test(test_entropy_sources),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_key_derive),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_wrong_key_refused_both_sides),
		cmocka_unit_test(test_peer_gone_during_handshake),
		cmocka_unit_test(test_flipped_bit_detected),
		cmocka_unit_test(test_dropped_record_detected),
		cmocka_unit_test(test_replayed_record_detected),
		cmocka_unit_test(test_sessions_differ),
		cmocka_unit_test(test_expansion),
		cmocka_unit_test(test_flush_held_record),
		cmocka_unit_test(test_plain_peer_named),
		cmocka_unit_test(test_arena_exhaustion_and_reuse),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
