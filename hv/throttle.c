#include "hv/dev/dev.h"
#include "hv/throttle.h"

uint64_t throttle_hold(uint64_t ran, uint32_t pct)
{
	pct = MIN(pct, (uint32_t)THROTTLE_MAX_PCT);
	return dev_muldiv(ran, pct, 100 - pct);
}
