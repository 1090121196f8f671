/* Host discovery: every host broadcasts who it is and how loaded it is, and keeps a
 * table of the others. The announcement, little-endian: a 32-byte body
 *   "TRNH" | version u8 | reserved u8 | migration port u16 | ip u32 | load % u16 |
 *   VMs u16 | free MiB u32 | sequence u32 | load-high % u16 | margin % u16 |
 *   capacity % u16 | flags u16
 * then a counter u64 and, from a host that holds the cluster key, a MAC of 32 bytes:
 * HMAC-SHA256 under a key derived from the cluster key (tls/tls.h tls_mac_sign, label
 * TLS_LABEL_DISCOVERY) of the counter and the body. 72 bytes signed, 40 unsigned (a host
 * with insecure-migration=on). The counter grows with each announcement and across the
 * sender's reboots (its wall clock in its high bits), and a receiver keeps the highest it
 * accepted of each sender, so a recorded announcement cannot be played again.
 * Version 4 adds the counter and the MAC (issue 16). Version 3 added the figures the
 * policy's balance rule reads of a host besides its load (migrate/policy.h policy_judge):
 * its load-high, its balance-margin and its capacity (100 x CPUs), so that a source and a
 * target judge a move alike; and a flag that it is taking in a VM (it takes one at a
 * time), so that sources ask another meanwhile. Versions 1 to 3 are refused. The load is
 * runnable vCPUs in % of one CPU (hv/load.h), so it passes 100.
 * The codec is pure and tested hosted; a malformed, unsigned, forged or replayed
 * announcement is counted, not used. */
#ifndef TERN_MIGRATE_ANNOUNCE_H
#define TERN_MIGRATE_ANNOUNCE_H

#include "hv/types.h"
#include "tls/tls.h"

#define ANNOUNCE_PORT 4445
#define ANNOUNCE_BODY_LEN 32
#define ANNOUNCE_UNSIGNED_LEN (ANNOUNCE_BODY_LEN + 8)
#define ANNOUNCE_LEN (ANNOUNCE_UNSIGNED_LEN + TLS_MAC_LEN) /* signed: the longest */
#define ANNOUNCE_VERSION 4
#define ANNOUNCE_LOAD_MAX 10000 /* 100 vCPUs always runnable: more is not believed */
#define ANNOUNCE_PERIOD_MS 2000
#define ANNOUNCE_TIMEOUT_MS 10000 /* five periods unheard: the peer is gone */
#define PEERS_MAX 16
#define ANNOUNCE_RECEIVING (1u << 0) /* flags: a migration is coming in */
#define ANNOUNCE_NONCE_LEN 16 /* a challenge's (announce_challenge) */

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

/* The body alone. */
void announce_encode(const struct announce *a, uint8_t out[ANNOUNCE_BODY_LEN]);
/* False for anything but a well-formed body sent from src_ip. */
bool announce_decode(const uint8_t *buf, size_t len, uint32_t src_ip, struct announce *a);

/* The whole announcement: body, counter and, with key (the discovery key), the MAC.
 * Returns its length (ANNOUNCE_LEN, or ANNOUNCE_UNSIGNED_LEN without key), 0 on failure. */
size_t announce_seal(const struct announce *a, uint64_t counter, const struct tls_key *key,
		     uint8_t out[ANNOUNCE_LEN]);

/* The counter after last for an announcement sent at Unix time unix_secs: 2^16 a second, so
 * it still grows after the sender's reboot as long as its clock does. */
uint64_t announce_next_counter(uint64_t last, uint64_t unix_secs);

/* What a receiver made of an announcement. */
enum announce_verdict {
	ANNOUNCE_OK,
	ANNOUNCE_MALFORMED, /* not a well-formed version 4 announcement of its sender */
	ANNOUNCE_UNSIGNED,  /* well-formed, without a MAC, to a host that holds a key */
	ANNOUNCE_FORGED,    /* its MAC is wrong: another key, or altered */
	ANNOUNCE_REPLAYED,  /* a counter not above the last accepted from that sender */
	ANNOUNCE_UNPROVEN,  /* signed and new, from a sender that has not answered this host's
			     * challenge yet: held back (announce_challenge) */
	ANNOUNCE_VERDICTS,
};

/* The highest counter accepted from each sender. Kept apart from the peer table, and
 * longer: a peer that fell silent and was forgotten must not be brought back by a
 * recording of its last words. Only announcements that carry a good MAC take a slot, so
 * only key holders can make the table forget one (the one heard from longest ago). */
#define ANNOUNCE_SENDERS_MAX 64
struct announce_sender {
	uint32_t ip; /* 0: free */
	uint64_t last, heard_ms;
	bool proven;          /* answered this host's challenge since its boot */
	uint64_t asked_ms;    /* when the challenge in flight went; 0: none */
	uint8_t nonce[ANNOUNCE_NONCE_LEN]; /* that challenge's */
};

struct announce_auth {
	const struct tls_key *key; /* the discovery key; NULL believes unsigned ones too */
	struct announce_sender senders[ANNOUNCE_SENDERS_MAX];
	uint64_t count[ANNOUNCE_VERDICTS];
	uint64_t challenges, proofs, bad_answers; /* sent; answers taken; answers refused */
};

/* Checks buf (len bytes from src_ip, at now_ms) and counts the verdict; *a is the
 * announcement when ANNOUNCE_OK. With a key, only a signed announcement with a new counter
 * is OK; without one, signed and unsigned are taken alike (the MAC is not checked). */
enum announce_verdict announce_open(struct announce_auth *auth, const uint8_t *buf, size_t len,
				    uint32_t src_ip, uint64_t now_ms, struct announce *a);

/* A sender is believed only once it has answered a challenge since this host's boot: the
 * counters kept of each sender are lost when this host reboots, and a recording of a host
 * now gone would otherwise be taken once more. Both go unicast to ANNOUNCE_PORT. The
 * challenge, 24 bytes: "TRNQ" | version u8 | 3 reserved | nonce (16 random bytes). The
 * answer, 60: "TRNA" | version u8 | 3 reserved | the nonce | ip u32, the answerer's own
 * address (so that no other key holder's answer can be passed on for it) | MAC of the
 * first 28 bytes (tls_mac_sign under the discovery key, counter ANNOUNCE_ANSWER_COUNTER:
 * the nonce makes it fresh). */
#define ANNOUNCE_CHALLENGE_LEN 24
#define ANNOUNCE_ANSWER_LEN (28 + TLS_MAC_LEN)
#define ANNOUNCE_ANSWER_COUNTER 1

/* What a datagram to ANNOUNCE_PORT is, by its magic; anything else is judged as an
 * announcement (and found malformed). */
enum announce_kind {
	ANNOUNCE_KIND_ANNOUNCEMENT,
	ANNOUNCE_KIND_CHALLENGE,
	ANNOUNCE_KIND_ANSWER,
};
enum announce_kind announce_kind(const uint8_t *buf, size_t len);

/* After ANNOUNCE_UNPROVEN from ip: whether to challenge it now (no challenge in flight,
 * or the last unanswered for ANNOUNCE_PERIOD_MS); if so, the challenge with the caller's
 * random nonce is in out, and is the one in flight. */
bool announce_challenge(struct announce_auth *auth, uint32_t ip, uint64_t now_ms,
			const uint8_t nonce[ANNOUNCE_NONCE_LEN],
			uint8_t out[ANNOUNCE_CHALLENGE_LEN]);
/* This host's answer (as own_ip, under key) to the challenge in buf: its length, or 0 when
 * buf is not a well-formed challenge. */
size_t announce_answer(const uint8_t *buf, size_t len, uint32_t own_ip,
		       const struct tls_key *key, uint8_t out[ANNOUNCE_ANSWER_LEN]);
/* An answer from src_ip: true when it answers the challenge in flight to src_ip, speaks for
 * src_ip and carries a good MAC: the sender is proven. Counted either way. */
bool announce_proof(struct announce_auth *auth, const uint8_t *buf, size_t len,
		    uint32_t src_ip);

/* A round trip's sample includes the wait for tern's loop at both ends, and one taken
 * while a host was busy can be many times the others (about 180 ms, seen in CI, where
 * the link answers in 4-10 ms). The pause that the model and the stop rule charge two
 * round trips for sees the link, so the least of the last few samples (~40 s of them)
 * stands for it, as TCP's min-RTT filters do. */
#define PEER_RTT_KEEP 4

struct peer {
	struct announce a;
	uint64_t heard_ms;
	/* last measured transfer speed to it, bytes/s; 0: not yet. Kept for its address
	 * when the peer expires (peers_heard) */
	uint64_t link_bps;
	/* the round trip: the least of the last PEER_RTT_KEEP samples; 0: not yet */
	uint32_t rtt_us;
	uint32_t rtt_kept[PEER_RTT_KEEP]; /* the samples; 0: none yet */
	uint8_t rtt_next;   /* the slot the next sample takes */
	/* the ICMP echo that measures rtt_us (migrate/discovery.c) */
	uint16_t probe_seq; /* of the echo in flight; 0: none */
	uint64_t probe_sent_us, next_probe_ms;
	bool used;
};

/* The peer table: pure too (time is passed in). */
void peers_heard(struct peer *t, const struct announce *a, uint64_t now_ms);
/* Drops peers silent for longer than the timeout (their slots keep the address and
 * link figure until a new host needs the room); returns how many went. */
unsigned peers_expire(struct peer *t, uint64_t now_ms);
struct peer *peers_find(struct peer *t, uint32_t ip);
/* A round trip of us microseconds (at least 1) measured to p: p->rtt_us becomes the
 * least of the last PEER_RTT_KEEP. */
void peer_rtt_sample(struct peer *p, uint32_t us);

#endif
