/* The pre-copy model (migrate/precopy.h).
 *
 * Round 1 sends every page, the all-zero ones as markers; each later round sends what
 * the guest dirtied during the one before, all taken as data. A round of B bytes at a
 * goodput of G bytes/s lasts B / G s, during which the guest dirties rate x duration
 * distinct pages, or, with its working set W measured, W (1 - e^(-rate x duration / W))
 * of them (writes falling at random on W pages, as the sample's capture and recapture
 * took them: precopy_sets()), and its hot pages on top; auto-converge's throttle of p % leaves it (100 - p) % of the
 * CPU, and so of its rate (a guest whose writes are paced by its CPU, as memtouch's
 * are), but never more than it dirties under the migration unthrottled (copy_rate). A
 * round ends when its last page is queued: what lwIP still holds goes on into the next
 * round, or into the pause unless letting it cross first while the guest runs costs
 * fewer bytes than it holds (precopy_drain_pages()). The stop rule is migrate/send.c
 * should_stop(), line for line: stop when the pause for the pages left and the bytes
 * still unacknowledged, or those dirtied while they cross (with its fixed part, below)
 * fits PRECOPY_AIM_PCT of the limit, at max-rounds, or after 3
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

/* Fixed point with 32 fraction bits (tern has no floating point): e^-x and its inverse
 * for the working set's saturation. Past X_MAX, e^-x is under 2^-32: all of a set is
 * written. */
#define Q32 (1ULL << 32)
#define X_MAX (23 * Q32)
#define E_INV 1580030169ULL /* e^-1 */

static uint64_t mul_q32(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 32);
}

static uint64_t exp_neg_q32(uint64_t x)
{
	uint64_t whole = x >> 32, f = x & (Q32 - 1), term = Q32, pos = Q32, neg = 0;

	if (x >= X_MAX)
		return 0;
	/* e^-f by its series: for f < 1 the terms shrink below 2^-32 by the 14th */
	for (uint64_t k = 1; k < 16 && term; k++) {
		term = mul_q32(term, f) / k;
		if (k & 1)
			neg += term;
		else
			pos += term;
	}
	for (uint64_t r = pos - neg;; r = mul_q32(r, E_INV))
		if (!whole--)
			return r;
}

/* x with e^-x = 1 - y, for y in Q32 under 1 (bisection: called once per estimate) */
static uint64_t ln_unseen_q32(uint64_t y)
{
	uint64_t lo = 0, hi = X_MAX, want = Q32 - y;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (exp_neg_q32(mid) > want)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

static bool wss_measured(uint64_t wss, uint64_t mem)
{
	return wss && wss < mem;
}

/* n / d in Q32, for n < 23 d (no 128-bit division here: that is libgcc's) */
static uint64_t div_q32(uint64_t n, uint64_t d)
{
	return (n / d << 32) + (n % d << 32) / d;
}

uint64_t precopy_write_rate(uint64_t distinct, uint64_t wss, uint64_t mem, uint64_t ms)
{
	uint64_t x;

	if (!ms)
		return 0;
	distinct = MIN(distinct, PRECOPY_MAX_PAGES);
	if (!wss_measured(wss, mem))
		return distinct * 1000 / ms;
	x = distinct >= wss ? X_MAX : ln_unseen_q32(div_q32(distinct, wss));
	/* x W / t, with x's fraction cut to 16 bits: x W x 1000 stays within 2^59 */
	return ((x >> 16) * wss * 1000 / ms) >> 16;
}

uint64_t precopy_dirtied(uint64_t rate, uint64_t wss, uint64_t mem, uint64_t us)
{
	uint64_t s = us / US, cap, writes;
	bool set;

	mem = MIN(mem, PRECOPY_MAX_PAGES);
	rate = MIN(rate, 1ULL << 40);
	if (!rate || !mem)
		return 0;
	/* writes past cap change nothing: every page of the RAM, or all of a set */
	set = wss_measured(wss, mem);
	cap = set ? 23 * wss : mem;
	writes = s >= cap / rate + 1 ? cap : MIN(cap, s * rate + (us % US) * rate / US);
	if (!set)
		return writes;
	if (writes >= cap)
		return wss;
	return wss - mul_q32(wss, exp_neg_q32(div_q32(writes, wss)));
}

uint64_t precopy_wss(uint64_t a, uint64_t b, uint64_t o, uint64_t hot)
{
	a = MIN(a, PRECOPY_MAX_PAGES);
	b = MIN(b, PRECOPY_MAX_PAGES);
	if (o < hot + PRECOPY_WSS_MIN_OVERLAP || a < o || b < o)
		return 0;
	return (a - hot) * (b - hot) / (o - hot);
}

/* With h hot pages and c = n - h of the set in a window (a share u of it): two windows
 * share o = h + c u, three t = h + c u^2. So (o - h)^2 = (n - h)(t - h), which gives
 * h = (n t - o^2) / (n + t - 2 o), then W = c / u = (n - h)^2 / (o - h). The
 * denominator is c (1 - u)^2: where a window covers much of the set, the counts' noise
 * swamps it (a set rewritten within a window looks hot), and h is taken as 0 unless it
 * is at least n / 4 (u at most a half); either way a round of a second or more dirties
 * about the same pages. Counts are noisy, so h stays within [0, t]. */
void precopy_sets(const uint64_t n[3], uint64_t o12, uint64_t o23, uint64_t all3,
		  struct precopy_sets *out)
{
	int64_t m = (int64_t)(MIN(n[0], PRECOPY_MAX_PAGES) + MIN(n[1], PRECOPY_MAX_PAGES) +
			      MIN(n[2], PRECOPY_MAX_PAGES)) / 3;
	int64_t o = (int64_t)(MIN(o12, PRECOPY_MAX_PAGES) + MIN(o23, PRECOPY_MAX_PAGES)) / 2;
	int64_t t = (int64_t)MIN(all3, PRECOPY_MAX_PAGES), den = m + t - 2 * o, h = 0;

	if (den > 0 && 4 * den >= m)
		h = MAX(MIN((m * t - o * o) / den, t), 0);
	out->hot_pages = (uint64_t)h;
	out->wss_pages = precopy_wss((uint64_t)m, (uint64_t)m, (uint64_t)o, (uint64_t)h);
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

uint64_t precopy_drain_pages(const struct precopy_in *in, uint32_t throttle_pct, uint64_t carry)
{
	uint64_t pages;

	if (!in->bandwidth || !carry)
		return PRECOPY_NEVER;
	carry = MIN(carry, PRECOPY_MAX_PAGES * PRECOPY_PAGE_BYTES);
	pages = precopy_dirtied(throttled_rate(in, throttle_pct), in->wss_pages,
				MIN(in->mem_pages, PRECOPY_MAX_PAGES), xfer_us(carry, in->bandwidth));
	return pages * PRECOPY_PAGE_BYTES < carry ? pages : PRECOPY_NEVER;
}

/* The pending pages and those dirtied during a drain: some may be the same, never more
 * than the RAM or a measured set */
static uint64_t with_drained(const struct precopy_in *in, uint64_t pending, uint64_t drained)
{
	uint64_t mem = MIN(in->mem_pages, PRECOPY_MAX_PAGES), cap = mem;

	pending = MIN(pending, mem);
	if (wss_measured(in->wss_pages, mem))
		cap = MAX(MIN(in->wss_pages + in->hot_pages, mem), pending);
	return MIN(cap, pending + MIN(drained, mem));
}

uint64_t precopy_pause_bytes(const struct precopy_in *in, uint32_t throttle_pct,
			     uint64_t pending, uint64_t carry)
{
	uint64_t drained = precopy_drain_pages(in, throttle_pct, carry);

	if (drained == PRECOPY_NEVER)
		return MIN(pending, PRECOPY_MAX_PAGES) * PRECOPY_PAGE_BYTES +
		       MIN(carry, PRECOPY_MAX_PAGES * PRECOPY_PAGE_BYTES);
	return with_drained(in, pending, drained) * PRECOPY_PAGE_BYTES;
}

/* Whether tern stops the iterative copy at the end of round s, with pending pages left
 * and carry bytes still unacknowledged (send.c should_stop(), line for line). */
static bool stops(const struct precopy_in *in, const struct precopy_now *s, uint64_t pending,
		  uint64_t carry, struct precopy_out *out)
{
	uint32_t max = in->max_rounds ? in->max_rounds : PRECOPY_MAX_ROUNDS;
	uint64_t bytes = precopy_pause_bytes(in, s->throttle_pct, pending, carry);

	out->converged = precopy_pause_fits(in, precopy_pause_us(in, bytes));
	return out->converged || s->round >= max || converge_gave_out(&in->converge, &s->flat);
}

void precopy_estimate(const struct precopy_in *in, const struct precopy_now *now,
		      struct precopy_out *out)
{
	uint64_t bw = in->bandwidth, mem = MIN(in->mem_pages, PRECOPY_MAX_PAGES);
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
		/* what this round dirtied so far, and at its rate for the rest of it (pages
		 * written twice in the round counted twice: a little high for a small set) */
		pending = MIN(mem, MAX(MIN(s.dirtied, mem), MIN(in->hot_pages, mem)) +
				   precopy_dirtied(throttled_rate(in, s.throttle_pct),
						   in->wss_pages, mem, t));
		if (wss_measured(in->wss_pages, mem))
			pending = MIN(pending, in->wss_pages + in->hot_pages);
		converge_note_round(&s.flat, s.round, s.throttle_pct, pending);
		if (stops(in, &s, pending, carry, out)) {
			uint64_t drained = precopy_drain_pages(in, s.throttle_pct, carry);
			s.paused = true;
			/* the carry crosses before the pause while the guest dirties on */
			if (drained != PRECOPY_NEVER) {
				us = sat_add(us, xfer_us(carry, bw));
				pending = with_drained(in, pending, drained);
				carry = 0;
			}
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
