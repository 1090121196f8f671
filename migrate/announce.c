#include "hv/error.h"
#include "hv/lib/string.h"
#include "migrate/announce.h"

static const uint8_t magic[4] = { 'T', 'R', 'N', 'H' };
static const uint8_t magic_challenge[4] = { 'T', 'R', 'N', 'Q' };
static const uint8_t magic_answer[4] = { 'T', 'R', 'N', 'A' };

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	return get(p, 4) | (uint64_t)get(p + 4, 4) << 32;
}

void announce_encode(const struct announce *a, uint8_t out[ANNOUNCE_BODY_LEN])
{
	memset(out, 0, ANNOUNCE_BODY_LEN);
	memcpy(out, magic, 4);
	out[4] = ANNOUNCE_VERSION;
	put(out + 6, a->port, 2);
	put(out + 8, a->ip, 4);
	put(out + 12, a->load, 2);
	put(out + 14, a->vms, 2);
	put(out + 16, a->free_mib, 4);
	put(out + 20, a->seq, 4);
	put(out + 24, a->load_high, 2);
	put(out + 26, a->margin, 2);
	put(out + 28, a->capacity, 2);
	put(out + 30, a->flags, 2);
}

bool announce_decode(const uint8_t *buf, size_t len, uint32_t src_ip, struct announce *a)
{
	if (len != ANNOUNCE_BODY_LEN || memcmp(buf, magic, 4) != 0 || buf[4] != ANNOUNCE_VERSION ||
	    buf[5])
		return false;
	a->port = (uint16_t)get(buf + 6, 2);
	a->ip = get(buf + 8, 4);
	a->load = (uint16_t)get(buf + 12, 2);
	a->vms = (uint16_t)get(buf + 14, 2);
	a->free_mib = get(buf + 16, 4);
	a->seq = get(buf + 20, 4);
	a->load_high = (uint16_t)get(buf + 24, 2);
	a->margin = (uint16_t)get(buf + 26, 2);
	a->capacity = (uint16_t)get(buf + 28, 2);
	a->flags = (uint16_t)get(buf + 30, 2);
	if ((a->flags & ~ANNOUNCE_RECEIVING) || !a->load_high || a->load_high > ANNOUNCE_LOAD_MAX ||
	    a->margin > ANNOUNCE_LOAD_MAX || a->capacity < 100 ||
	    a->capacity > ANNOUNCE_LOAD_MAX)
		return false;
	/* a host speaks for itself only */
	return a->port && a->load <= ANNOUNCE_LOAD_MAX && a->ip == src_ip && a->ip &&
	       a->ip != 0xffffffffu;
}

size_t announce_seal(const struct announce *a, uint64_t counter, const struct tls_key *key,
		     uint8_t out[ANNOUNCE_LEN])
{
	announce_encode(a, out);
	put(out + ANNOUNCE_BODY_LEN, counter, 8);
	if (!key)
		return ANNOUNCE_UNSIGNED_LEN;
	if (tls_mac_sign(key, counter, out, ANNOUNCE_BODY_LEN, out + ANNOUNCE_UNSIGNED_LEN))
		return 0;
	return ANNOUNCE_LEN;
}

uint64_t announce_next_counter(uint64_t last, uint64_t unix_secs)
{
	return MAX(last + 1, unix_secs << 16);
}

static struct announce_sender *sender_find(struct announce_auth *auth, uint32_t ip)
{
	for (int i = 0; i < ANNOUNCE_SENDERS_MAX; i++)
		if (auth->senders[i].ip == ip)
			return &auth->senders[i];
	return NULL;
}

/* A slot for a sender whose announcement was just accepted: its own, a free one, or the
 * one heard from longest ago. */
static struct announce_sender *sender_slot(struct announce_auth *auth, uint32_t ip)
{
	struct announce_sender *s = sender_find(auth, ip), *oldest = &auth->senders[0];

	if (s)
		return s;
	for (int i = 0; i < ANNOUNCE_SENDERS_MAX; i++) {
		s = &auth->senders[i];
		if (!s->ip)
			return s;
		if (s->heard_ms < oldest->heard_ms)
			oldest = s;
	}
	return oldest;
}

static enum announce_verdict verify(struct announce_auth *auth, const uint8_t *buf,
				    uint32_t src_ip, uint64_t now_ms)
{
	struct announce_sender *s = sender_find(auth, src_ip);
	uint64_t counter = get64(buf + ANNOUNCE_BODY_LEN), last = s ? s->last : 0;
	int e = tls_mac_verify(auth->key, counter, buf, ANNOUNCE_BODY_LEN,
			       buf + ANNOUNCE_UNSIGNED_LEN, &last);

	if (e == -E_EXIST)
		return ANNOUNCE_REPLAYED;
	if (e)
		return ANNOUNCE_FORGED;
	if (!s) {
		s = sender_slot(auth, src_ip);
		*s = (struct announce_sender){ .ip = src_ip };
	}
	s->last = last;
	s->heard_ms = now_ms;
	return s->proven ? ANNOUNCE_OK : ANNOUNCE_UNPROVEN;
}

static enum announce_verdict judge(struct announce_auth *auth, const uint8_t *buf, size_t len,
				   uint32_t src_ip, uint64_t now_ms, struct announce *a)
{
	if ((len != ANNOUNCE_LEN && len != ANNOUNCE_UNSIGNED_LEN) ||
	    !announce_decode(buf, ANNOUNCE_BODY_LEN, src_ip, a))
		return ANNOUNCE_MALFORMED;
	if (!auth->key)
		return ANNOUNCE_OK;
	if (len == ANNOUNCE_UNSIGNED_LEN)
		return ANNOUNCE_UNSIGNED;
	return verify(auth, buf, src_ip, now_ms);
}

enum announce_verdict announce_open(struct announce_auth *auth, const uint8_t *buf, size_t len,
				    uint32_t src_ip, uint64_t now_ms, struct announce *a)
{
	enum announce_verdict v = judge(auth, buf, len, src_ip, now_ms, a);

	auth->count[v]++;
	return v;
}

enum announce_kind announce_kind(const uint8_t *buf, size_t len)
{
	if (len >= 4 && memcmp(buf, magic_challenge, 4) == 0)
		return ANNOUNCE_KIND_CHALLENGE;
	if (len >= 4 && memcmp(buf, magic_answer, 4) == 0)
		return ANNOUNCE_KIND_ANSWER;
	return ANNOUNCE_KIND_ANNOUNCEMENT;
}

bool announce_challenge(struct announce_auth *auth, uint32_t ip, uint64_t now_ms,
			const uint8_t nonce[ANNOUNCE_NONCE_LEN],
			uint8_t out[ANNOUNCE_CHALLENGE_LEN])
{
	struct announce_sender *s = sender_find(auth, ip);

	if (!s || s->proven || (s->asked_ms && now_ms - s->asked_ms < ANNOUNCE_PERIOD_MS))
		return false;
	s->asked_ms = now_ms ? now_ms : 1;
	memcpy(s->nonce, nonce, ANNOUNCE_NONCE_LEN);
	memset(out, 0, ANNOUNCE_CHALLENGE_LEN);
	memcpy(out, magic_challenge, 4);
	out[4] = ANNOUNCE_VERSION;
	memcpy(out + 8, nonce, ANNOUNCE_NONCE_LEN);
	auth->challenges++;
	return true;
}

/* The answer's signed part for nonce and ip. */
static void answer_body(const uint8_t *nonce, uint32_t ip, uint8_t out[28])
{
	memset(out, 0, 28);
	memcpy(out, magic_answer, 4);
	out[4] = ANNOUNCE_VERSION;
	memcpy(out + 8, nonce, ANNOUNCE_NONCE_LEN);
	put(out + 24, ip, 4);
}

size_t announce_answer(const uint8_t *buf, size_t len, uint32_t own_ip,
		       const struct tls_key *key, uint8_t out[ANNOUNCE_ANSWER_LEN])
{
	if (!key || len != ANNOUNCE_CHALLENGE_LEN || memcmp(buf, magic_challenge, 4) != 0 ||
	    buf[4] != ANNOUNCE_VERSION || buf[5] || buf[6] || buf[7])
		return 0;
	answer_body(buf + 8, own_ip, out);
	if (tls_mac_sign(key, ANNOUNCE_ANSWER_COUNTER, out, 28, out + 28))
		return 0;
	return ANNOUNCE_ANSWER_LEN;
}

bool announce_proof(struct announce_auth *auth, const uint8_t *buf, size_t len,
		    uint32_t src_ip)
{
	struct announce_sender *s = sender_find(auth, src_ip);
	uint8_t want[28];
	uint64_t floor = 0;

	if (!auth->key || !s || !s->asked_ms || len != ANNOUNCE_ANSWER_LEN) {
		auth->bad_answers++;
		return false;
	}
	/* what the sender must have signed: our nonce, its own address */
	answer_body(s->nonce, src_ip, want);
	if (memcmp(buf, want, 28) != 0 ||
	    tls_mac_verify(auth->key, ANNOUNCE_ANSWER_COUNTER, want, 28, buf + 28, &floor)) {
		auth->bad_answers++;
		return false;
	}
	s->proven = true;
	s->asked_ms = 0;
	auth->proofs++;
	return true;
}

struct peer *peers_find(struct peer *t, uint32_t ip)
{
	for (int i = 0; i < PEERS_MAX; i++)
		if (t[i].used && t[i].a.ip == ip)
			return &t[i];
	return NULL;
}

void peer_rtt_sample(struct peer *p, uint32_t us)
{
	p->rtt_kept[p->rtt_next] = us ? us : 1;
	p->rtt_next = (p->rtt_next + 1) % PEER_RTT_KEEP;
	p->rtt_us = UINT32_MAX;
	for (unsigned i = 0; i < PEER_RTT_KEEP; i++)
		if (p->rtt_kept[i]) /* 0: a slot not yet filled */
			p->rtt_us = MIN(p->rtt_us, p->rtt_kept[i]);
}

/* A host heard again after it expired gets its old slot back with the link figure its
 * last migration measured (the path to an address outlives a silence); the rest of what
 * was known of it is measured afresh. A new host takes a free slot, one without a link
 * figure first, else the one heard longest ago. */
void peers_heard(struct peer *t, const struct announce *a, uint64_t now_ms)
{
	struct peer *p = peers_find(t, a->ip), *oldest = NULL, *free = NULL, *known = NULL;

	for (int i = 0; !p && i < PEERS_MAX; i++) {
		struct peer *s = &t[i];

		if (s->used) {
			if (!oldest || s->heard_ms < oldest->heard_ms)
				oldest = s;
		} else if (s->a.ip == a->ip) {
			known = s;
		} else if (!free || (free->link_bps && !s->link_bps)) {
			free = s;
		}
	}
	if (!p) {
		p = known ? known : free ? free : oldest;
		*p = (struct peer){ .used = true, .link_bps = known ? known->link_bps : 0 };
	}
	p->a = *a;
	p->heard_ms = now_ms;
}

unsigned peers_expire(struct peer *t, uint64_t now_ms)
{
	unsigned n = 0;

	for (int i = 0; i < PEERS_MAX; i++) {
		if (t[i].used && now_ms - t[i].heard_ms > ANNOUNCE_TIMEOUT_MS) {
			t[i].used = false;
			n++;
		}
	}
	return n;
}
