/* Shared between the migration engine's files (not a public interface). */
#ifndef TERN_MIGRATE_SEND_H
#define TERN_MIGRATE_SEND_H

#include "migrate/converge.h"
#include "migrate/migrate.h"
#include "migrate/precopy.h"
#include "migrate/wire.h"

struct mig_params {
	uint64_t downtime_limit_ms;
	uint64_t max_bandwidth_bps; /* bytes/s, 0 = unlimited */
	bool full_digest;           /* fold the whole RAM into the digest at the pause */
	struct converge_params converge; /* auto-converge, throttle-initial, -increment */
	uint64_t max_rounds;        /* iterative rounds before the stop is forced */
	bool xbzrle;                /* resent pages as deltas (migrate/xbzrle.h) */
	/* For tests of the failure paths: when this host's side of a migration reaches the
	 * stage, it cuts the connection (a TCP reset, no goodbye), once. MIG_NONE: never. */
	enum mig_stage cut_at;
	/* For tests of the target's pace rule (migrate/guard.h): every stage's window, in
	 * ms, instead of its own; 0: their own. */
	uint64_t x_pace_window_ms;
};

/* Why the iterative copy stopped, for the completion line */
enum mig_stop_why {
	MIG_STOP_CONVERGED,     /* the pause fits the downtime limit */
	MIG_STOP_ROUND_LIMIT,   /* max-rounds */
	MIG_STOP_NOT_SHRINKING, /* rounds stopped shrinking, auto-converge off or spent */
};

/* The outgoing migration, and after it the figures of the last one. */
struct mig_out {
	enum mig_stage stage, failed_at;
	int vm_id, target_vm_id;
	char vm_name[32];
	uint32_t ip;
	uint16_t port;
	bool paused_by_us;
	uint32_t load_check;       /* see mig_send_start() */
	bool full_digest;          /* as the HELLO told the target, whatever the parameter
				    * says by the time of the pause */
	bool xbzrle;               /* likewise: FEAT_XBZRLE was asked for */
	/* pages that went as deltas, the bytes that saved (page minus delta), and the
	 * source's cycles encoding every resent page, paid or not */
	uint64_t xbzrle_pages, xbzrle_saved, xbzrle_tsc;
	uint32_t round;
	const uint32_t *list;      /* rounds after the first: the staged pages */
	uint64_t next, round_total, round_sent, final_pages;
	bool round_told;           /* the target heard of this round's end */
	bool digest_begun;         /* stop-and-copy: memory is in the digest */
	unsigned records_sent;     /* stop-and-copy: device records sent so far */
	unsigned vcpus_sent;       /* stop-and-copy: application processors' states sent */
	/* what the platform adds to the pause: the records' bytes on the wire, the source's
	 * cycles taking and encoding them, and the vCPU state's bytes */
	uint64_t device_bytes, device_tsc, cpu_state_bytes;
	uint64_t pages_sent, zero_pages, remaining;
	struct converge_flat flat; /* the shrink rule's books (migrate/converge.h) */
	uint64_t dirty_rate, expected_downtime_ms;
	/* The model's rates (precopy_in.dirty_rate: writes a second, given wss): the last
	 * unthrottled round's, and round 1's (the longest window, read by the policy) */
	uint64_t copy_rate;
	uint64_t round1_rate;
	/* The working set the model takes: the policy's sample of the guest, then, from
	 * round 2 on, the capture and recapture of each round's pages against the last
	 * round's (precopy_wss()); the RAM when neither could tell. */
	uint64_t wss;
	uint32_t throttle_pct;     /* auto-converge's hold on the guest's CPU now, 0: none */
	uint32_t throttle_peak;    /* the most it reached */
	enum mig_stop_why stop_why;
	uint64_t bandwidth;        /* bytes/s acknowledged, at the last round's end */
	uint64_t start_ms, iterate_start_ms, round_start_ms, pause_ms;
	uint64_t pause_run_tsc;     /* the VM's run_tsc at the pause: it must not move */
	uint64_t pause_tsc;
	/* How long before the pause the guest had last run (a throttle's sit-out, a slice
	 * of tern's loop, its own HLT): its clock sees that too as part of the pause. */
	uint64_t pause_lead_ms;
	/* where the pause goes: its bytes queued (state_ms, stream.sent then: state_end),
	 * acknowledged (wire_ms), the target's answer (commit_ms), activation */
	uint64_t state_ms, state_end, wire_ms, commit_ms;
	/* The stop was decided with bytes still in flight, which cross before the pause
	 * (send.c drain_pays()): since when, how many, and how long that took */
	bool draining;
	uint64_t drain_start_ms, drain_bytes, drain_ms;
	uint64_t pause_inflight;      /* bytes still unacknowledged at the pause */
	uint64_t downtime_ms, total_ms;
	uint64_t handshake_us;        /* the TLS handshake's duration; 0: a plain stream */
	/* Where the iterative copy's time goes: its length and the bytes the target had
	 * acknowledged by its end (goodput = the one over the other), and how long the
	 * sender had pages to send but no room in lwIP's send buffer. */
	uint64_t iterate_ms, iterate_acked;
	uint64_t blocked_us, blocked_since_us;
	char error[160];
	bool predicted;             /* the model's view, printed beside the result */
	struct precopy_out prediction;
	/* The model's inputs at the start (what the policy's sampling and the last
	 * migration to this peer measured), for the estimate's zero pages and round trip;
	 * and the pause it predicted (at the start, else with the first measured rates,
	 * predicted_after_ms into the migration; PRECOPY_NEVER: none). */
	struct precopy_in model_in;
	uint64_t predicted_downtime_ms, predicted_after_ms;
	/* The progress lines, one a second of the iterative copy: when the next is due,
	 * and the counts at the last, for the rates over the second since */
	uint64_t next_progress_ms, progress_ms, progress_pages, progress_acked;
	uint64_t pages_per_s;       /* pages queued per second, over the last second */
};

extern struct mig_params mig_params;

/* For x-cut-at: whether this side, entering stage s, must cut its connection now
 * (once: the parameter resets itself). */
bool mig_cut_due(enum mig_stage s);
/* Bytes per second the target acknowledged: live while a migration copies, else as it
 * was at the end of the last one. */
uint64_t mig_send_bandwidth(void);
/* The time left until activation, by the model from the rates measured so far
 * (migrate/precopy.h): PRECOPY_NEVER while none are (no bandwidth yet), 0 once done. */
uint64_t mig_send_remaining_ms(void);
extern struct mig_out mig_out;


#endif
