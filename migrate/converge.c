#include "hv/throttle.h"
#include "migrate/converge.h"

bool converge_shrank(uint64_t sent, uint64_t dirtied)
{
	return dirtied <= sent / 2;
}

uint32_t converge_throttle(const struct converge_params *p, uint32_t pct, uint64_t sent,
			   uint64_t dirtied)
{
	if (!p->on)
		return 0;
	if (converge_shrank(sent, dirtied))
		return pct;
	pct = pct ? pct + p->increment_pct : p->initial_pct;
	return MIN(pct, (uint32_t)THROTTLE_MAX_PCT);
}

void converge_note_round(struct converge_flat *f, uint32_t round, uint32_t pct,
			 uint64_t pending)
{
	if (round < 3 || pct != f->pct || pending < f->least) {
		f->least = pending;
		f->pct = pct;
		f->rounds = 0;
		return;
	}
	f->rounds++;
}

bool converge_gave_out(const struct converge_params *p, const struct converge_flat *f)
{
	if (p->on && f->pct < THROTTLE_MAX_PCT)
		return false;
	return f->rounds >= CONVERGE_FLAT_ROUNDS;
}
