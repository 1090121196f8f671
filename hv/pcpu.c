#include "hv/lib/string.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/x86.h"
#include "hv/x86_rules.h"

#define MSR_GS_BASE 0xc0000101

static struct pcpu pcpus[PCPU_MAX];
static uint32_t count;
/* The boot CPU's exception stacks: its tables load before the allocator exists. */
static uint8_t boot_ist[IST_COUNT * IST_STACK_SIZE] __attribute__((aligned(16)));

void cpu_control_init(void)
{
	/* Caches on (SDM Vol. 3A 12.5.1, Table 12-5: CD=0 NW=0 is the normal mode): a BIOS
	 * may never have turned them on, and VM entry and exit never load CR0.CD and NW
	 * (SDM 27.3.2.1, 28.5.1), so a guest would find them set without having set them. */
	write_cr0(read_cr0() & ~(CR0_CD | CR0_NW));
	/* FXSAVE/FXRSTOR of guest FPU state need it; GRUB leaves it clear. */
	write_cr4(read_cr4() | CR4_OSFXSR);
	/* XSAVE switches the guests' AVX state (vmx/vcpu.c), where the CPU has it. */
	if (cpuid(1, 0).ecx & (1u << 26))
		write_cr4(read_cr4() | CR4_OSXSAVE);
}

void pcpu_enter(struct pcpu *p)
{
	gdt_load(&p->tables, p->ist);
	idt_load();
	/* After gdt_load: loading a null GS selector may clear the base (SDM 3.4.4). */
	wrmsr(MSR_GS_BASE, (uintptr_t)p);
}

void pcpu_boot_init(void)
{
	struct pcpu *p = &pcpus[0];

	p->self = p;
	p->index = 0;
	p->state = PCPU_ONLINE;
	p->ist = boot_ist;
	p->sched.last = -1;
	count = 1;
	pcpu_enter(p);
}

struct pcpu *pcpu_add(uint32_t apic_id, uint32_t state)
{
	struct pcpu *p;
	uint64_t stack, ist = 0;

	if (count == PCPU_MAX)
		return NULL;
	p = &pcpus[count];
	memset(p, 0, sizeof(*p));
	p->self = p;
	p->index = count;
	p->apic_id = apic_id;
	p->state = state;
	p->sched.last = -1;
	if (state != PCPU_DISABLED) {
		stack = pmm_alloc(PCPU_STACK_SIZE / PAGE_SIZE);
		ist = stack ? pmm_alloc(IST_COUNT * IST_STACK_SIZE / PAGE_SIZE) : 0;
		if (!ist) {
			if (stack)
				pmm_free(stack, PCPU_STACK_SIZE / PAGE_SIZE);
			return NULL;
		}
		p->stack_top = stack + PCPU_STACK_SIZE;
		p->ist = (uint8_t *)(uintptr_t)ist;
	}
	count++;
	return p;
}

struct pcpu *pcpu_get(uint32_t index)
{
	return index < count ? &pcpus[index] : NULL;
}

uint32_t pcpu_count(void)
{
	return count;
}

const char *pcpu_state_name(uint32_t state)
{
	static const char *const names[] = {
		[PCPU_DISABLED] = "disabled", [PCPU_STARTING] = "starting",
		[PCPU_ONLINE] = "online",     [PCPU_PARKED] = "parked",
		[PCPU_FAILED] = "failed",
	};

	return state < ARRAY_SIZE(names) && names[state] ? names[state] : "unknown";
}
