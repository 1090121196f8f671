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
