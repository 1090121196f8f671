/* The target's pace rule, per-peer budget and slot admission (migrate/guard.h). */
#include "migrate/guard.h"

void guard_pace_start(struct guard_pace *p, uint64_t now, uint64_t window_ms,
		      uint64_t min_units)
{
	*p = (struct guard_pace){ window_ms, min_units, now, 0 };
}

void guard_pace_note(struct guard_pace *p)
{
	p->units++;
}

bool guard_pace_short(struct guard_pace *p, uint64_t now, uint64_t *units)
{
	if (now - p->start_ms < p->window_ms)
		return false;
	if (p->units < p->min_units) {
		*units = p->units;
		return true;
	}
	p->start_ms = now;
	p->units = 0;
	return false;
}

#define BURST ((int64_t)GUARD_BURST_MIB * 1000) /* in 1/1000 MiB */
/* The most a peer can owe: a day of refill, so loops of failed reservations add up to a
 * wait, never to an overflow. */
#define DEBT_MAX ((int64_t)GUARD_REFILL_MIB_S * 1000 * 86400)

uint64_t guard_cost_mib(uint64_t mem_mib)
{
	return mem_mib > GUARD_FLOOR_MIB ? mem_mib : GUARD_FLOOR_MIB;
}

/* The budget grown back to now, capped at the burst. Time that ran backwards (it does
 * not, but a caller's clock might) adds nothing. */
static void refill(int64_t *milli, uint64_t *at_ms, uint64_t now)
{
	uint64_t gained;

	if (now <= *at_ms)
		return;
	gained = (now - *at_ms) * GUARD_REFILL_MIB_S; /* MiB/s is 1/1000 MiB per ms */
	/* what the burst lacks, at most a debt's worth more: never wraps */
	*milli = gained >= (uint64_t)(BURST - *milli) ? BURST : *milli + (int64_t)gained;
	*at_ms = now;
}

/* ip's slot, brought up to date; a peer not remembered takes a free slot or the one with
 * most budget left (which knows least against its peer), starting full. */
static unsigned slot_of(struct guard_peers *g, uint32_t ip, uint64_t now)
{
	unsigned best = 0;

	for (unsigned i = 0; i < GUARD_PEERS; i++) {
		if (g->slot[i].ip == ip && ip) {
			refill(&g->slot[i].milli, &g->slot[i].at_ms, now);
			return i;
		}
		if (g->slot[i].ip)
			refill(&g->slot[i].milli, &g->slot[i].at_ms, now);
		else
			g->slot[i].milli = BURST + 1; /* free beats any remembered peer */
		if (g->slot[i].milli > g->slot[best].milli)
			best = i;
	}
	g->slot[best].ip = ip;
	g->slot[best].milli = BURST;
	g->slot[best].at_ms = now;
	return best;
}

/* A reservation's cost in 1/1000 MiB, at most GUARD_MAX_MIB's: keeps debts in range. */
static int64_t cost_milli(uint64_t mem_mib)
{
	uint64_t mib = guard_cost_mib(mem_mib);

	return (int64_t)(mib < GUARD_MAX_MIB ? mib : GUARD_MAX_MIB) * 1000;
}

uint64_t guard_peers_wait(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now)
{
	int64_t need = cost_milli(mem_mib), milli;

	/* a VM bigger than the whole burst can still come, to a peer whose budget is full;
	 * if it comes to nothing the peer owes the rest (guard_peers_charge) */
	if (need > BURST)
		need = BURST;
	milli = g->slot[slot_of(g, ip, now)].milli;
	if (milli >= need)
		return 0;
	return ((uint64_t)(need - milli) + GUARD_REFILL_MIB_S - 1) / GUARD_REFILL_MIB_S;
}

void guard_peers_charge(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now)
{
	unsigned i = slot_of(g, ip, now);

	g->slot[i].milli -= cost_milli(mem_mib);
	if (g->slot[i].milli < -DEBT_MAX)
		g->slot[i].milli = -DEBT_MAX;
}

int guard_admit(const struct guard_slot *slots, int n, uint32_t ip, uint64_t now,
		enum guard_admit *how)
{
	int free = -1, oldest = -1, from_ip = 0;

	for (int i = 0; i < n; i++) {
		const struct guard_slot *s = &slots[i];

		if (!s->active) {
			if (free < 0)
				free = i;
			continue;
		}
		if (s->unproven && s->ip == ip) {
			*how = GUARD_REPLACE_SAME;
			return i;
		}
		from_ip += s->ip == ip;
		if (s->unproven && now - s->opened_ms >= GUARD_UNPROVEN_MS &&
		    (oldest < 0 || s->opened_ms < slots[oldest].opened_ms))
			oldest = i;
	}
	if (n > 1 && from_ip >= n - 1) {
		*how = GUARD_REFUSE_ADDRESS;
		return -1;
	}
	if (free >= 0) {
		*how = GUARD_FREE;
		return free;
	}
	*how = oldest >= 0 ? GUARD_REPLACE_STALE : GUARD_REFUSE_FULL;
	return oldest;
}
