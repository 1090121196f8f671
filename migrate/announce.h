/* Host discovery: every host broadcasts who it is and how loaded it is, and keeps a
 * table of the others. The announcement, 32 bytes, little-endian:
 *   "TRNH" | version u8 | reserved u8 | migration port u16 | ip u32 | load % u16 |
 *   VMs u16 | free MiB u32 | sequence u32 | load-high % u16 | margin % u16 |
 *   capacity % u16 | flags u16
 * Version 3 adds the figures the policy's balance rule reads of a host besides its load
 * (migrate/policy.h policy_judge): its load-high, its balance-margin and its capacity
 * (100 x CPUs), so that a source and a target judge a move alike; and a flag that it is
 * taking in a VM (it takes one at a time), so that sources ask another meanwhile.
 * Version 2 (24 bytes, without them) and 1 (a one-byte load) are refused. The load is
 * runnable vCPUs in % of one CPU (hv/load.h), so it passes 100.
 * The codec is pure and tested hosted; a malformed announcement is counted, not used. */
#ifndef TERN_MIGRATE_ANNOUNCE_H
#define TERN_MIGRATE_ANNOUNCE_H

#include "hv/types.h"

#define ANNOUNCE_PORT 4445
#define ANNOUNCE_LEN 32
#define ANNOUNCE_VERSION 3
#define ANNOUNCE_LOAD_MAX 10000 /* 100 vCPUs always runnable: more is not believed */
#define ANNOUNCE_PERIOD_MS 2000
#define ANNOUNCE_TIMEOUT_MS 10000 /* five periods unheard: the peer is gone */
#define PEERS_MAX 16
#define ANNOUNCE_RECEIVING (1u << 0) /* flags: a migration is coming in */

struct announce {
	uint32_t ip;         /* host order */
	uint16_t port;       /* where it takes migrations */
	uint16_t load;       /* percent of one CPU, runnable vCPUs (hv/load.h) */
	uint16_t vms;
	uint32_t free_mib;
	uint32_t seq;
	uint16_t load_high;  /* its policy's load-high, % of one CPU */
	uint16_t margin;     /* its balance-margin, points of its capacity */
	uint16_t capacity;   /* 100 x its CPUs */
	uint16_t flags;      /* ANNOUNCE_RECEIVING; other bits: refused */
};

void announce_encode(const struct announce *a, uint8_t out[ANNOUNCE_LEN]);
/* False for anything but a well-formed announcement sent from src_ip. */
bool announce_decode(const uint8_t *buf, size_t len, uint32_t src_ip, struct announce *a);

struct peer {
	struct announce a;
	uint64_t heard_ms;
	uint64_t link_bps;  /* last measured transfer speed to it, bytes/s; 0: not yet */
	uint32_t rtt_us;    /* last measured round trip; 0: not yet */
	/* the ICMP echo that measures rtt_us (migrate/discovery.c) */
	uint16_t probe_seq; /* of the echo in flight; 0: none */
	uint64_t probe_sent_us, next_probe_ms;
	bool used;
};

/* The peer table: pure too (time is passed in). */
void peers_heard(struct peer *t, const struct announce *a, uint64_t now_ms);
/* Drops peers silent for longer than the timeout; returns how many went. */
unsigned peers_expire(struct peer *t, uint64_t now_ms);
struct peer *peers_find(struct peer *t, uint32_t ip);

#endif
