#include "hv/lib/string.h"
#include "migrate/announce.h"

static const uint8_t magic[4] = { 'T', 'R', 'N', 'H' };

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

void announce_encode(const struct announce *a, uint8_t out[ANNOUNCE_LEN])
{
	memset(out, 0, ANNOUNCE_LEN);
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
	if (len != ANNOUNCE_LEN || memcmp(buf, magic, 4) != 0 || buf[4] != ANNOUNCE_VERSION ||
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

struct peer *peers_find(struct peer *t, uint32_t ip)
{
	for (int i = 0; i < PEERS_MAX; i++)
		if (t[i].used && t[i].a.ip == ip)
			return &t[i];
	return NULL;
}

void peers_heard(struct peer *t, const struct announce *a, uint64_t now_ms)
{
	struct peer *p = peers_find(t, a->ip), *oldest = NULL;

	for (int i = 0; !p && i < PEERS_MAX; i++) {
		if (!t[i].used) {
			p = &t[i];
			*p = (struct peer){ .used = true };
		} else if (!oldest || t[i].heard_ms < oldest->heard_ms) {
			oldest = &t[i];
		}
	}
	if (!p) { /* full: the one heard longest ago makes room */
		p = oldest;
		*p = (struct peer){ .used = true };
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
