/* The pre-copy model (migrate/precopy.h).
 *
 * Round 1 sends every page, the all-zero ones as markers; each later round sends what
 * the guest dirtied during the one before, all taken as data. A round of B bytes at a
 * goodput of G bytes/s lasts B / G s, during which the guest dirties min(wss, rate x
 * duration) distinct pages; auto-converge's throttle of p % leaves it (100 - p) % of the
 * CPU, and so of its rate (a guest whose writes are paced by its CPU, as memtouch's
 * are), but never more than it dirties under the migration unthrottled (copy_rate). A
 * round ends when its last page is queued: what lwIP still holds goes on into the next
 * round, or the pause. The stop rule is migrate/send.c should_stop(), line for line:
 * stop when the pause for the pages left and the bytes still unacknowledged (with its
 * fixed part, below) fits PRECOPY_AIM_PCT of the limit, at max-rounds, or after 3
 * rounds without a new least with auto-converge off or at its highest throttle
 * (converge_gave_out()); with it on, a round that did not halve the work raises the
 * throttle (converge_throttle(), the rule tern runs). The pause costs the last pages'
 * and the device state's transfer, 2 RTTs (commit answer, activation and its answer)
 * and, with full-digest on only, the digest of the whole RAM; setup costs 2 RTTs more
 * (connect, reservation).
 */
#include "hv/lib/string.h"
#include "migrate/precopy.h"

#define US 1000000ULL

static uint64_t xfer_us(uint64_t bytes, uint64_t bw)
{
	return bytes * US / bw;
}

/* Sums of round times: a 1 TiB VM over a 1 byte/s link would wrap them. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* The guest's dirty rate under a throttle of pct % while it is being migrated. */
static uint64_t throttled_rate(const struct precopy_in *in, uint32_t pct)
{
	uint64_t rate = MIN(in->dirty_rate, 1ULL << 40);
	uint64_t copy = in->copy_rate ? MIN(in->copy_rate, 1ULL << 40) : rate;

	return MIN(copy, rate * (100 - MIN(pct, 100)) / 100);
}

/* Distinct pages dirtied in us microseconds, without overflowing on long rounds. */
static uint64_t dirtied(uint64_t rate, uint64_t wss, uint64_t us)
{
	uint64_t s = us / US;

	if (!rate || !wss)
		return 0;
	if (s >= wss / rate + 1)
		return wss;
	return MIN(wss, s * rate + (us % US) * rate / US);
}

uint64_t precopy_bytes(uint64_t pages, uint64_t zero)
{
	pages = MIN(pages, PRECOPY_MAX_PAGES);
	zero = MIN(zero, pages);
	return (pages - zero) * PRECOPY_PAGE_BYTES + zero * PRECOPY_MARKER;
}

uint64_t precopy_pause_us(const struct precopy_in *in, uint64_t bytes)
{
	uint64_t mem = MIN(in->mem_pages, PRECOPY_MAX_PAGES), us;

	if (!in->bandwidth)
		return PRECOPY_NEVER;
	bytes = MIN(bytes, PRECOPY_MAX_PAGES * PRECOPY_PAGE_BYTES);
	us = 2ULL * in->rtt_ms * 1000 + xfer_us(bytes + PRECOPY_STATE_BYTES, in->bandwidth);
	if (in->digest_bps)
		us = sat_add(us, mem * PRECOPY_PAGE * US / in->digest_bps);
	return us;
}

bool precopy_pause_fits(const struct precopy_in *in, uint64_t pause_us)
{
	/* limit ms x AIM % = limit x AIM x 10 us */
	return pause_us <= (uint64_t)in->downtime_limit_ms * PRECOPY_AIM_PCT * 10;
}

/* Whether tern stops the iterative copy at the end of round s, with pending pages left
 * and carry bytes still unacknowledged (send.c should_stop(), line for line). */
static bool stops(const struct precopy_in *in, const struct precopy_now *s, uint64_t pending,
		  uint64_t carry, struct precopy_out *out)
{
	uint32_t max = in->max_rounds ? in->max_rounds : PRECOPY_MAX_ROUNDS;

	out->converged = precopy_pause_fits(in, precopy_pause_us(in, pending * PRECOPY_PAGE_BYTES +
								 carry));
	return out->converged || s->round >= max || converge_gave_out(&in->converge, &s->flat);
}

void precopy_estimate(const struct precopy_in *in, const struct precopy_now *now,
		      struct precopy_out *out)
{
	uint64_t bw = in->bandwidth, mem = MIN(in->mem_pages, PRECOPY_MAX_PAGES);
	uint64_t wss = MIN(in->wss_pages, mem);
	uint64_t max_bytes = PRECOPY_MAX_PAGES * PRECOPY_PAGE_BYTES, us = 0, t;
	struct precopy_now s = *now;

	memset(out, 0, sizeof(*out));
	if (!bw) {
		out->total_ms = out->downtime_ms = PRECOPY_NEVER;
		return;
	}
	s.left_bytes = MIN(s.left_bytes, max_bytes);
	s.round_pages = MIN(s.round_pages, mem);
	while (!s.paused) {
		/* a round without pages ends once what it carried is across (tern's loop
		 * turns meanwhile) */
		uint64_t pending, carry = s.round_pages ? MIN(in->inflight_bytes, s.left_bytes) : 0;

		t = xfer_us(s.left_bytes - carry, bw);
		us = sat_add(us, t);
		out->pages_sent += s.round_pages;
		pending = MIN(wss, MIN(s.dirtied, mem) +
				   dirtied(throttled_rate(in, s.throttle_pct), wss, t));
		converge_note_round(&s.flat, s.round, s.throttle_pct, pending);
		if (stops(in, &s, pending, carry, out)) {
			s.paused = true;
		} else {
			s.throttle_pct = converge_throttle(&in->converge, s.throttle_pct,
							   s.round_pages, pending);
			s.dirtied = 0;
		}
		/* the next round sends what this one dirtied: written, so taken as data */
		s.round++;
		s.round_pages = pending;
		s.left_bytes = carry + pending * PRECOPY_PAGE_BYTES;
	}
	/* stop-and-copy: the guest is paused, nothing more is dirtied */
	t = precopy_pause_us(in, s.left_bytes);
	out->rounds = s.round;
	out->pages_sent += s.round_pages;
	out->throttle_pct = s.throttle_pct;
	us = sat_add(us, t);
	out->downtime_ms = DIV_UP(t, 1000);
	out->total_ms = DIV_UP(us, 1000);
}

void precopy_predict(const struct precopy_in *in, struct precopy_out *out)
{
	uint64_t mem = MIN(in->mem_pages, PRECOPY_MAX_PAGES);
	struct precopy_now now = {
		.round = 1,
		.round_pages = mem,
		.left_bytes = precopy_bytes(mem, in->zero_pages),
	};
	uint64_t setup_ms = 2ULL * in->rtt_ms;

	precopy_estimate(in, &now, out);
	if (out->total_ms != PRECOPY_NEVER) {
		out->total_ms = sat_add(out->total_ms, setup_ms);
	} else {
		out->rounds = 0;
	}
}
