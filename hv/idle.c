#include "hv/apic_host.h"
#include "hv/console.h"
#include "hv/idle.h"
#include "hv/pcpu.h"
#include "hv/time.h"
#include "hv/x86.h"

static bool can_sleep;
static uint64_t idle_tsc, nap_tsc; /* CPU 0's */

void idle_init(void)
{
	can_sleep = apic_host_init();
	if (!can_sleep)
		kprintf("idle: no local APIC timer; tern polls when it has nothing to run\n");
}

/* STI's one-instruction shadow covers HLT, so an interrupt that is already pending is
 * taken after HLT begins and wakes it: none is lost between the check and the halt. */
static uint64_t halt(uint64_t tsc)
{
	uint64_t t0 = rdtsc(), slept;
	struct pcpu *p = pcpu_this();

	if (!can_sleep || tsc <= t0)
		return 0;
	apic_host_arm(tsc);
	asm volatile("sti; hlt; cli" ::: "memory");
	apic_host_disarm();
	slept = rdtsc() - t0;
	if (p->index == 0) /* tern's idle figure is CPU 0's, where its own work runs */
		idle_tsc += slept;
	else
		__atomic_fetch_add(&p->wakeups, 1, __ATOMIC_RELEASE);
	return slept;
}

void idle_until(uint64_t tsc)
{
	halt(tsc);
}

void idle_nap(uint64_t tsc)
{
	uint64_t slept = halt(tsc);

	if (pcpu_this()->index == 0)
		nap_tsc += slept;
}

static uint64_t tsc_us(uint64_t t)
{
	uint64_t hz = time_tsc_hz();

	return t / hz * 1000000 + t % hz * 1000000 / hz;
}

uint64_t idle_us(void)
{
	return tsc_us(idle_tsc);
}

uint64_t idle_nap_us(void)
{
	return tsc_us(nap_tsc);
}
