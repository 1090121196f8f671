/* The migration policy's pure part (issue 9): the choice of which VM to move where when
 * this host is overloaded, by the pre-copy model's predictions (migrate/precopy.h). No
 * state, no I/O: tern feeds it its measurements, the unit tests and
 * tests/bench/policy_sim.c feed it theirs. Integer arithmetic only (tern runs without
 * SSE or x87). */
#ifndef TERN_MIGRATE_POLICY_H
#define TERN_MIGRATE_POLICY_H

#include "hv/types.h"
#include "migrate/precopy.h"

struct policy_params {
	uint32_t load_high;       /* points of this host's capacity, default 85: when its
				   * load's share (below) reaches it, the host is overloaded */
	uint32_t load_window_s;   /* load must stay high this long, default 10 */
	uint32_t cooldown_s;      /* a VM that moved, a peer that received: default 60 */
	uint32_t downtime_max_ms; /* skip VMs predicted to pause longer, default 300 */
	uint32_t mem_reserve_mib; /* a target keeps this much free, default 64 */
	uint32_t stop_limit_ms;   /* the migration's own downtime-limit, default 300 */
	uint64_t digest_bps;      /* this host's digest speed, for the model */
	uint32_t margin_pct;      /* balance-margin, default 25: a quarter of one CPU */
	uint32_t capacity_pct;    /* 100 x this host's CPUs that run guests */
	struct converge_params converge; /* the migration's auto-converge, for the model */
	uint32_t max_rounds;      /* the migration's max-rounds; 0: PRECOPY_MAX_ROUNDS */
	uint64_t inflight_bytes;  /* the sender's buffer (precopy_in) */
};

#define POLICY_DEFAULTS { 85, 10, 60, 300, 64, 300, 0, 25, 100, { false, 0, 0 }, 0, 0 }

/* What a host announces of itself, and all that the balance rule reads of either end. */
struct policy_end {
	uint32_t load_pct;     /* runnable vCPUs in % of one CPU over its load window */
	uint32_t load_high;    /* its load-high */
	uint32_t margin_pct;   /* its balance-margin */
	uint32_t capacity_pct; /* 100 x its CPUs (0 is taken as 100) */
};

struct policy_vm {
	uint32_t id;
	uint32_t mem_mib;
	uint64_t dirty_rate;    /* pages/s */
	uint64_t wss_pages;
	uint32_t load_pct;      /* the load it makes (hv/load.h: % of the time runnable), which
				 * is what it takes away here and adds to a target */
	uint64_t since_move_ms; /* since it last arrived here; UINT64_MAX: never moved */
	uint64_t zero_pages;    /* all-zero pages, estimated when its dirty rate was sampled */
	uint64_t backoff_ms;    /* left of its back-off after a failed move; 0: none */
	uint64_t copy_rate;     /* pages/s it is expected to dirty while a migration copies
				 * it (precopy_in.copy_rate); 0: unknown, taken as dirty_rate */
	uint64_t hot_pages;     /* rewritten all the time (precopy_in.hot_pages) */
};

struct policy_peer {
	uint32_t ip;
	struct policy_end end;  /* as it last announced itself */
	uint32_t free_mib;
	uint32_t vms;
	uint64_t link_bps;      /* bytes/s, measured to it */
	uint32_t rtt_ms;
	uint64_t age_ms;        /* since last heard (discovery drops the silent ones) */
	uint64_t since_sent_ms; /* since it last received a VM from us; UINT64_MAX: never */
	uint64_t backoff_ms;    /* left of its back-off after a failed move; 0: none */
	bool receiving;         /* it announced a migration coming in: it takes one at a time */
};

struct policy_host {
	uint32_t load_pct;     /* runnable vCPUs in % of one CPU (may pass 100), averaged over
				* the window by the caller: what this host announces */
	uint64_t high_for_ms;  /* how long the load has stayed at or above load-high */
	const struct policy_vm *vms;
	size_t nvms;
	const struct policy_peer *peers;
	size_t npeers;
};

/* Why nothing moves; with several obstacles, the one met furthest along (a VM that
 * found a peer with room but is too dirty says "too dirty", not "cooldown"). Balance is
 * judged first: "no move evens the load" means there is none to wait for. */
enum policy_why {
	POLICY_MIGRATE,
	POLICY_NOT_OVERLOADED,
	POLICY_NOT_LONG_ENOUGH,
	POLICY_NO_PEER,
	POLICY_UNEVEN,       /* no move would leave its target below this host by the margin */
	POLICY_COOLDOWN,     /* every move that evens the load waits for a cooldown */
	POLICY_BACKING_OFF,  /* ... or for a back-off after a failed move */
	POLICY_PEER_BUSY,    /* ... or for its peer to finish taking in another VM */
	POLICY_NO_FIT,       /* no peer has the memory (or there is no VM) */
	POLICY_TOO_DIRTY,    /* every placement would pause longer than downtime-max */
};

/* The balance rule, one function for both ends: the source chooses with it, the target
 * judges a policy's request with it, each from the figures both announce. A move of a
 * VM making vm_pct of load, from src to dst, is one to make when
 *   - src is overloaded: its load's share of its capacity is at or above its own
 *     load-high, and
 *   - the VM makes some load, and after the move dst's share of its capacity, plus the
 *     margin (the larger of the two ends'), stays at or below src's share now, and
 *     strictly below it: the larger of the two loads falls.
 * Shares are load x 100 / capacity, in points of a host's capacity: with one CPU, the
 * load itself, so the default margin of 25 is a quarter of the CPU. dst's load-high
 * plays no part: it says when dst itself is overloaded, not whether a move helps.
 * With equal capacities no sequence of such moves can cycle: each lowers the sum of the
 * squared loads by at least 2 x vm_pct x margin, so a VM never comes straight back.
 * Returns POLICY_MIGRATE, POLICY_NOT_OVERLOADED or POLICY_UNEVEN, and says why in text
 * (may be NULL). */
enum policy_why policy_judge(const struct policy_end *src, const struct policy_end *dst,
			     uint32_t vm_pct, char *text, size_t size);

/* A load as a share of e's capacity, in points (rounded down): the load itself on one
 * CPU, half of it on two. */
uint32_t policy_share(uint32_t load_pct, const struct policy_end *e);
/* Whether e's share of its capacity is at or above its load-high. */
bool policy_overloaded(const struct policy_end *e);

struct policy_decision {
	enum policy_why why;
	size_t vm, peer;           /* indices into the host's arrays, when why == MIGRATE */
	uint32_t vm_id, peer_ip;
	struct precopy_out pred;
	uint32_t target_load_pct;  /* the peer's load with the VM's share added */
	uint32_t target_free_mib;  /* the peer's free memory once it holds the VM */
	char text[192];            /* the line the monitor prints */
};

/* Fills d and returns d->why. Deterministic: equal candidates go to the lowest VM id,
 * then the lowest peer ip. */
enum policy_why policy_choose(const struct policy_params *p, const struct policy_host *h,
			      struct policy_decision *d);
const char *policy_why_str(enum policy_why why);

/* --- back-off after a failed move --- */

/* One per peer and per VM. A failure backs it off for the load window, each further one
 * twice as long, up to the cooldown (or the window, if that is longer); a success
 * clears it, and so does a quiet spell as long as that cap after the last back-off. */
struct policy_backoff {
	uint32_t fails;
	uint64_t until_ms;
};

/* Returns the back-off now started, in ms. */
uint64_t policy_backoff_fail(const struct policy_params *p, struct policy_backoff *b,
			     uint64_t now_ms);
uint64_t policy_backoff_left(const struct policy_backoff *b, uint64_t now_ms);
/* Forgets the failures once the back-off has been over for the cap. */
void policy_backoff_age(const struct policy_params *p, struct policy_backoff *b,
			uint64_t now_ms);

/* Whatever its peers answer, a host starts at most POLICY_ATTEMPTS reservations in any
 * POLICY_ATTEMPTS_MS: the times of the last ones, oldest first; 0: none. */
#define POLICY_ATTEMPTS 5
#define POLICY_ATTEMPTS_MS 60000ULL
struct policy_attempts {
	uint64_t at_ms[POLICY_ATTEMPTS];
};

/* 0 when an attempt may start now, else the ms until one may. */
uint64_t policy_attempt_wait(const struct policy_attempts *a, uint64_t now_ms);
void policy_attempt_note(struct policy_attempts *a, uint64_t now_ms);

#endif
