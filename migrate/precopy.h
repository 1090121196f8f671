/* The pre-copy model, pure (tested hosted): how a migration's iterative copy goes on
 * from where it stands, given the rates the source measures. One loop serves the
 * prediction before a migration starts (the policy's choice, the line printed beside the
 * result) and the source's running estimate of the time left (`info migrate`'s
 * remaining-time-ms, the progress lines), so both count bytes and rates as the source
 * measures them. No state, no I/O; integer arithmetic only (tern runs without SSE or
 * x87). */
#ifndef TERN_MIGRATE_PRECOPY_H
#define TERN_MIGRATE_PRECOPY_H

#include "hv/types.h"
#include "migrate/converge.h"

#define PRECOPY_PAGE 4096ULL
/* A page and a zero-page marker as they cross (migrate/wire.h: a 16-byte header, the
 * address and kind, then the data): the bytes the target acknowledges, which is what the
 * source's measured bandwidth counts. Pages and markers go with Nagle on
 * (migrate/stream.c), so markers share frames and cost their bytes, not a frame each. */
#define PRECOPY_PAGE_BYTES (16ULL + 12 + PRECOPY_PAGE)
#define PRECOPY_MARKER (16ULL + 12)
/* What the pause sends besides pages: the nine device records and the vCPU state with
 * its XSAVE area (README, "What the platform adds to the pause": 1,469 + 1,784 bytes). */
#define PRECOPY_STATE_BYTES 3253ULL
/* How fast the pause's digest reads RAM with full-digest on: measured under Bochs (~8 MiB
 * per 100 ms). Without it the pause reads no RAM for the digest. */
#define PRECOPY_DIGEST_BPS (80ULL * 1000 * 1000)
#define PRECOPY_MAX_ROUNDS 30          /* as MIGRATE_MAX_ROUNDS in migrate/migrate.h */
#define PRECOPY_MAX_PAGES (1ULL << 28) /* 1 TiB: keeps pages x 4124 x 10^6 in 64 bits */
#define PRECOPY_NEVER UINT64_MAX       /* total/downtime when there is no bandwidth */
/* The stop rule takes the pause only when its estimate is within this share of the
 * limit. The estimate counts bytes, state and round trips, not the target's own work
 * between the last record and its answer to the commit: on a Bochs LAN the pause
 * measured 0.93-1.46 x the estimate at the stop (README, "The stop rule"), and the
 * limit is a promise to the guest, not a target to hit on average. */
#define PRECOPY_AIM_PCT 75

struct precopy_in {
	uint64_t mem_pages;         /* the VM's RAM; round 1 sends it all */
	/* pages/s the guest writes, unthrottled, besides its hot pages: with wss_pages
	 * measured, writes (some to a page written before); else distinct pages
	 * (precopy_write_rate() converts) */
	uint64_t dirty_rate;
	/* ... and while a migration copies it, unthrottled (the round-1 rate); 0: unknown,
	 * taken as dirty_rate. Lower where the sender's work slows the guest (under Bochs
	 * it is emulated instructions taken from the guest): a throttle of p % then leaves
	 * min(copy_rate, dirty_rate x (100 - p) %), biting only once it withholds more than
	 * the migration already takes. */
	uint64_t copy_rate;
	/* The writable working set, as the guest's sample measured it: its writes fall at
	 * random on this many pages, so a round of t s at a write rate r dirties
	 * W (1 - e^(-r t / W)) distinct ones, never more than W. Not measured (0, or not
	 * below the RAM): every write a new page, r t up to the RAM. */
	uint64_t wss_pages;
	/* Pages it rewrites all the time (its stack, its bookkeeping): dirty in every round
	 * whatever its length, on top of the set above (precopy_sets()). */
	uint64_t hot_pages;
	uint64_t bandwidth;         /* bytes/s the target acknowledges; 0: cannot migrate */
	uint32_t rtt_ms;
	uint32_t downtime_limit_ms; /* the migration's stop rule (migrate/send.c) */
	uint64_t digest_bps;        /* bytes of RAM the pause's digest covers per s; 0: free */
	uint64_t zero_pages;        /* all-zero pages at the start: round 1 sends markers */
	struct converge_params converge; /* auto-converge as the migration runs it; 0: off */
	uint32_t max_rounds;        /* iterative rounds before the stop; 0: PRECOPY_MAX_ROUNDS */
	/* A round ends when its last page is queued, not acknowledged: the bytes then still
	 * unacknowledged (at most the sender's buffer, TCP_SND_BUF) go on into the next
	 * round, or cross before the pause (precopy_drain_pages()), or the pause waits for
	 * them; tern's stop rule counts them. */
	uint64_t inflight_bytes;
};

struct precopy_out {
	uint32_t rounds;       /* with the final (stop-and-copy) round, as tern prints it */
	uint64_t total_ms;     /* predict: connect to activation; estimate: now to activation */
	uint64_t downtime_ms;  /* pause to activation */
	uint64_t pages_sent;   /* by the rounds from the one under way on */
	bool converged;        /* stopped because the pause fit the limit */
	uint32_t throttle_pct; /* auto-converge's throttle at the pause */
};

/* A whole migration, before it starts. */
void precopy_predict(const struct precopy_in *in, struct precopy_out *out);

/* Where a migration stands, as its source measures it. */
struct precopy_now {
	uint32_t round;         /* the round under way, from 1 */
	uint64_t round_pages;   /* pages it sends */
	uint64_t left_bytes;    /* of its bytes, those the target has not acknowledged yet */
	uint64_t round_ms;      /* since it began */
	uint64_t dirtied;       /* distinct pages dirtied since it began */
	struct converge_flat flat; /* the shrink rule's books, up to the last round */
	uint32_t throttle_pct;  /* auto-converge's throttle now */
	bool paused;            /* the round under way is the stop-and-copy */
};

/* The rest of a migration from now: its rounds as the model runs them from the rates in
 * `in`, with this round's measured progress. total_ms is the time left until
 * activation, downtime_ms the pause expected (for a paused migration: what is left of
 * it). */
void precopy_estimate(const struct precopy_in *in, const struct precopy_now *now,
		      struct precopy_out *out);

/* The pause the model expects for `bytes` still to cross (the last pages and what the
 * sender's buffer holds): those and the device state at in->bandwidth, two round trips,
 * and the whole RAM's digest when in->digest_bps is set. PRECOPY_NEVER without a
 * bandwidth. */
uint64_t precopy_pause_us(const struct precopy_in *in, uint64_t bytes);

/* Pages a guest dirties while `carry` unacknowledged bytes cross at in->bandwidth, under
 * a throttle of throttle_pct %, when they cost fewer bytes than the carry: then the
 * source lets the carry cross before it pauses the guest, and the pause sends those
 * pages instead of waiting for the carry. PRECOPY_NEVER when the wait does not pay (a
 * guest dirtying as fast as the link), or there is no carry or bandwidth. */
uint64_t precopy_drain_pages(const struct precopy_in *in, uint32_t throttle_pct, uint64_t carry);

/* The bytes a pause must wait for at the end of a round that leaves `pending` pages dirty
 * and `carry` bytes unacknowledged: the pages and the carry, or the pages and those
 * dirtied while the carry crosses when that pays (precopy_drain_pages()). */
uint64_t precopy_pause_bytes(const struct precopy_in *in, uint32_t throttle_pct,
			     uint64_t pending, uint64_t carry);

/* The stop rule's test: whether a pause of pause_us is within PRECOPY_AIM_PCT of the
 * limit (migrate/send.c should_stop() and the model's rounds use the same). */
bool precopy_pause_fits(const struct precopy_in *in, uint64_t pause_us);

/* The write rate (precopy_in.dirty_rate) of a guest that dirtied `distinct` pages in ms
 * milliseconds, given its working set (wss_pages: not measured when 0 or not below
 * mem_pages, and then the distinct pages are the writes). */
uint64_t precopy_write_rate(uint64_t distinct, uint64_t wss_pages, uint64_t mem_pages,
			    uint64_t ms);

/* Distinct pages a guest writing `rate` pages/s (as precopy_write_rate) dirties in us
 * microseconds. */
uint64_t precopy_dirtied(uint64_t rate, uint64_t wss_pages, uint64_t mem_pages, uint64_t us);

/* The working set by capture and recapture: a guest that dirtied a pages in one window
 * and b in the next, o of them in both, hot of them the pages it rewrites all the time,
 * writes the rest at random on about (a - hot)(b - hot) / (o - hot) pages. 0 (not
 * measured) while o - hot is under PRECOPY_WSS_MIN_OVERLAP: too few pages written twice
 * to tell a set from ever new pages. */
#define PRECOPY_WSS_MIN_OVERLAP 16
uint64_t precopy_wss(uint64_t a, uint64_t b, uint64_t o, uint64_t hot);

/* What three windows of equal length tell: n[i] pages dirtied in each, o12 and o23 in
 * both of two following ones, all3 in all three. Pages a guest rewrites all the time
 * are in all three; its writes at random on a set of W pages put a share u of it in
 * each window, u^2 in two, u^3 in three; solved for the two parts (see precopy.c). */
struct precopy_sets {
	uint64_t hot_pages;
	uint64_t wss_pages; /* 0: not told (precopy_wss()) */
};
void precopy_sets(const uint64_t n[3], uint64_t o12, uint64_t o23, uint64_t all3,
		  struct precopy_sets *out);

/* The bytes round 1 puts on the wire for `pages` pages of which `zero` are all-zero. */
uint64_t precopy_bytes(uint64_t pages, uint64_t zero);

#endif
