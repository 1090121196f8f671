/* A spin lock for state several CPUs touch in short stretches (a VM's: hv/vm.h, [l]).
 * It holds 1 + the owner's CPU index, so code can tell whether its own CPU holds it.
 * Never held while waiting for another CPU (a hold, a kick's answer): the CPU waited
 * for may be spinning on it. Not recursive. */
#ifndef TERN_SPIN_H
#define TERN_SPIN_H

#include "hv/pcpu.h"
#include "hv/types.h"
#include "hv/x86.h"

static inline void spin_lock(uint32_t *l)
{
	uint32_t me = pcpu_this()->index + 1;

	for (;;) {
		uint32_t free = 0;
		if (__atomic_compare_exchange_n(l, &free, me, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			cpu_relax();
	}
}

static inline void spin_unlock(uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static inline bool spin_held_here(const uint32_t *l)
{
	return __atomic_load_n(l, __ATOMIC_RELAXED) == pcpu_this()->index + 1;
}

#endif
