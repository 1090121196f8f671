/* What a migration's target holds against peers that hold the key but misbehave, pure
 * (tested hosted; times are arguments):
 *  - the pace rule: a reservation is released unless the migration itself advances
 *    (pages, records, the messages that end a stage) at a minimum pace; bytes trickling
 *    in count for nothing;
 *  - a per-peer budget of reservations that came to nothing, so no peer can make tern
 *    zero gigabytes for a few hundred bytes sent in a HELLO/ABORT loop;
 *  - which slot of the migrations coming in a new connection takes, so that no one
 *    address holds them all. */
#ifndef TERN_MIGRATE_GUARD_H
#define TERN_MIGRATE_GUARD_H

#include "hv/types.h"

/* --- the pace rule ------------------------------------------------------------------ */

struct guard_pace {
	uint64_t window_ms;     /* the window's length */
	uint64_t min_units;     /* advances each window must see */
	uint64_t start_ms;      /* of the current window */
	uint64_t units;         /* advances in it so far */
};

/* A stage begins at now (its first window with it): at least min_units advances in
 * every window_ms from here on. */
void guard_pace_start(struct guard_pace *p, uint64_t now, uint64_t window_ms,
		      uint64_t min_units);
/* The migration advanced: a page stored, a record decoded, a stage's message. */
void guard_pace_note(struct guard_pace *p);
/* Whether it fell short: true when a window has ended with fewer than min_units (*units
 * then says how many it saw); a window that was met gives way to the next one. */
bool guard_pace_short(struct guard_pace *p, uint64_t now, uint64_t *units);

/* --- the per-peer budget -------------------------------------------------------------- */

#define GUARD_PEERS 16          /* peers remembered; the least restricted one gives way */
#define GUARD_BURST_MIB 1024    /* a peer's budget when full */
#define GUARD_REFILL_MIB_S 16   /* the budget grows back this fast */
#define GUARD_FLOOR_MIB 32      /* a failed reservation costs at least this much */
#define GUARD_MAX_MIB (1ULL << 24) /* ... and at most this (16 TiB) */

struct guard_peers {
	struct {
		uint32_t ip;      /* 0: free */
		int64_t milli;    /* budget left, in 1/1000 MiB (the refill is exact per ms);
				   * below 0 a debt: a reservation bigger than the burst that
				   * came to nothing is paid for in full */
		uint64_t at_ms;   /* when milli was last brought up to date */
	} slot[GUARD_PEERS];
};

/* What a reservation of mem_mib that comes to nothing costs: the memory tern zeroes,
 * with a floor for the work any reservation takes. */
uint64_t guard_cost_mib(uint64_t mem_mib);
/* 0 when ip may reserve mem_mib now, else the ms until its budget allows it. */
uint64_t guard_peers_wait(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now);
/* A reservation of mem_mib by ip came to nothing (refused later, aborted, timed out):
 * its whole cost comes off ip's budget, into debt if it was bigger than what was left.
 * A migration that completes costs nothing. */
void guard_peers_charge(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now);

/* --- the slots of the migrations coming in ---------------------------------------------- */

/* A connection that has not reserved (handshake, HELLO) after this long may lose its slot
 * to a new one when all are taken: a keyed source's handshake and HELLO took 0.4-1 s of
 * tern's clock under Bochs. */
#define GUARD_UNPROVEN_MS 5000

/* What the choice sees of a slot. */
struct guard_slot {
	bool active;            /* holds a connection, proven or not */
	bool unproven;          /* has not reserved yet (handshake, or silent before HELLO) */
	uint32_t ip;            /* the peer's address, when active */
	uint64_t opened_ms;     /* when its connection came */
};

enum guard_admit {
	GUARD_FREE,             /* a free slot */
	GUARD_REPLACE_SAME,     /* one its own address left unproven: a source opens one
				 * migration at a time, so that one is stale */
	GUARD_REPLACE_STALE,    /* the oldest unproven one, open GUARD_UNPROVEN_MS or more */
	GUARD_REFUSE_ADDRESS,   /* the address holds all but one slot already */
	GUARD_REFUSE_FULL,      /* every slot is busy with real work */
};

/* The slot of n that a new connection from ip takes at now, as the index (-1 when
 * refused) and why in *how. One address holds at most n - 1 slots, so one always stays
 * for another host: a source sends one migration at a time, and a keyed peer that
 * reserves everything (then trickles just enough) would lock every other host out. */
int guard_admit(const struct guard_slot *slots, int n, uint32_t ip, uint64_t now,
		enum guard_admit *how);

#endif
