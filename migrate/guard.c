/* The target's pace rule and per-peer budget (migrate/guard.h). */
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

#define BURST ((uint64_t)GUARD_BURST_MIB * 1000) /* in 1/1000 MiB */

uint64_t guard_cost_mib(uint64_t mem_mib)
{
	return mem_mib > GUARD_FLOOR_MIB ? mem_mib : GUARD_FLOOR_MIB;
}

/* The budget grown back to now, capped at the burst. Time that ran backwards (it does
 * not, but a caller's clock might) adds nothing. */
static void refill(uint64_t *milli, uint64_t *at_ms, uint64_t now)
{
	uint64_t gained;

	if (now <= *at_ms)
		return;
	gained = (now - *at_ms) * GUARD_REFILL_MIB_S; /* MiB/s is 1/1000 MiB per ms */
	*milli = *milli + gained > BURST ? BURST : *milli + gained;
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

uint64_t guard_peers_wait(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now)
{
	uint64_t need = guard_cost_mib(mem_mib) * 1000, milli;

	/* a VM bigger than the whole burst can still come, to a peer whose budget is full */
	if (need > BURST)
		need = BURST;
	milli = g->slot[slot_of(g, ip, now)].milli;
	if (milli >= need)
		return 0;
	return (need - milli + GUARD_REFILL_MIB_S - 1) / GUARD_REFILL_MIB_S;
}

void guard_peers_charge(struct guard_peers *g, uint32_t ip, uint64_t mem_mib, uint64_t now)
{
	unsigned i = slot_of(g, ip, now);
	uint64_t cost = guard_cost_mib(mem_mib) * 1000;

	g->slot[i].milli = g->slot[i].milli > cost ? g->slot[i].milli - cost : 0;
}
