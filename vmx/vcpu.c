/* A VT-x vCPU's life: its VMCS and bitmaps, and the loop that runs it. */
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/spin.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* whose MSRs and FPU state are in each CPU [o] */
static struct vmx_vcpu *resident[PCPU_MAX];

static struct vmx_vcpu **here(void)
{
	return &resident[pcpu_this()->index];
}

static void free_pages(struct vmx_vcpu *x)
{
	if (x->vmcs)
		pmm_free(x->vmcs, 1);
	if (x->io_bitmaps)
		pmm_free(x->io_bitmaps, 2);
	if (x->msr_bitmap)
		pmm_free(x->msr_bitmap, 1);
	pmm_free((uintptr_t)x, ALIGN_UP(sizeof(*x), PAGE_SIZE) / PAGE_SIZE);
}

int vmx_vcpu_create(struct vcpu *v)
{
	uint64_t npages = ALIGN_UP(sizeof(struct vmx_vcpu), PAGE_SIZE) / PAGE_SIZE;
	struct vmx_vcpu *x = (void *)(uintptr_t)pmm_alloc(npages);
	int err;

	if (!x)
		return -E_NOMEM;
	x->v = v;
	/* Never 0 (VMX root's own tag: VM entry fails with it, SDM 27.2.1.1) and never a
	 * live vCPU's: from the slot, not the id, which would wrap at 16 bits into a collision.
	 * The INVVPID below drops what a previous holder of the tag left in the TLB. */
	_Static_assert(VM_MAX * VM_VCPUS_MAX + 1 <= 0xffff, "a VPID for every vCPU");
	x->vpid = (uint16_t)(vm_slot(v->vm) * VM_VCPUS_MAX + v->index + 1);
	x->vmcs = pmm_alloc(1);
	x->io_bitmaps = pmm_alloc(2);
	x->msr_bitmap = pmm_alloc(1);
	if (!x->vmcs || !x->io_bitmaps || !x->msr_bitmap) {
		free_pages(x);
		return -E_NOMEM;
	}
	memset((void *)(uintptr_t)x->io_bitmaps, 0xff, 2 * PAGE_SIZE); /* every port exits */
	vmx_msr_bitmap_init((void *)(uintptr_t)x->msr_bitmap);
	*(uint32_t *)(uintptr_t)x->vmcs = vmx_caps()->revision;
	/* A clean FPU/SSE image: what FNINIT and the reset MXCSR give. */
	*(uint16_t *)&x->xsave[0] = 0x37f;
	*(uint32_t *)&x->xsave[24] = 0x1f80;
	x->xcr0 = XCR0_X87;
	x->msrs.dr6 = 0xffff0ff0;
	v->priv = x;
	err = vmcs_setup(x, v->vm);
	if (!err)
		err = vmx_apicv_setup(x);
	if (err) {
		vmx_clear(x);
		free_pages(x);
		v->priv = NULL;
		return err;
	}
	vmx_invvpid(x);
	vmx_invept(v->vm);
	return 0;
}

void vmx_vcpu_destroy(struct vcpu *v)
{
	struct vmx_vcpu *x = v->priv;

	if (!x)
		return;
	vmx_clear(x);
	if (*here() == x)
		*here() = NULL;
	vmx_invvpid(x);
	free_pages(x);
	v->priv = NULL;
}

/* The extended states tern switches: what the CPU has of x87, SSE and AVX (0 without
 * XSAVE: FXSAVE then switches x87 and SSE). tern itself uses none of them. */
static uint64_t xmask(void)
{
	static uint64_t mask = ~0ull;

	if (mask == ~0ull) {
		struct cpuid_regs d = cpuid(0xd, 0);
		mask = (cpuid(1, 0).ecx & (1u << 26)) ? (d.eax & (XCR0_X87 | XCR0_SSE | XCR0_AVX)) : 0;
	}
	return mask;
}

static void xsetbv(uint64_t v)
{
	asm volatile("xsetbv" : : "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Saving and loading with every component tern switches, under an XCR0 that enables
 * them all: a guest's own XCR0 may leave SSE out of XSAVE's reach. */
static void save_fpu(struct vmx_vcpu *x)
{
	uint64_t m = xmask();

	if (!m) {
		asm volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])x->xsave));
		return;
	}
	xsetbv(m);
	asm volatile("xsave64 %0" : "=m"(*(uint8_t(*)[XSAVE_BYTES])x->xsave)
		     : "a"((uint32_t)m), "d"((uint32_t)(m >> 32)) : "memory");
}

static void load_fpu(struct vmx_vcpu *x)
{
	uint64_t m = xmask();

	if (!m) {
		asm volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[512])x->xsave));
		return;
	}
	xsetbv(m);
	asm volatile("xrstor64 %0" : : "m"(*(const uint8_t(*)[XSAVE_BYTES])x->xsave),
		     "a"((uint32_t)m), "d"((uint32_t)(m >> 32)) : "memory");
	xsetbv(x->xcr0);
}

#define GET_DR(n, v) asm volatile("mov %%db" #n ", %0" : "=r"(v))
#define SET_DR(n, v) asm volatile("mov %0, %%db" #n : : "r"(v))

static void save_msrs(struct vmx_vcpu *x)
{
	struct guest_msrs *m = &x->msrs;

	m->star = rdmsr(0xc0000081), m->lstar = rdmsr(0xc0000082);
	m->cstar = rdmsr(0xc0000083), m->sfmask = rdmsr(0xc0000084);
	m->kernel_gs_base = rdmsr(0xc0000102);
	GET_DR(0, m->dr[0]);
	GET_DR(1, m->dr[1]);
	GET_DR(2, m->dr[2]);
	GET_DR(3, m->dr[3]);
	GET_DR(6, m->dr6);
}

/* Values that passed the core's checks (x86_state_check): WRMSR and MOV to DR cannot
 * fault here. */
static void load_msrs(const struct vmx_vcpu *x)
{
	const struct guest_msrs *m = &x->msrs;

	wrmsr(0xc0000081, m->star);
	wrmsr(0xc0000082, m->lstar);
	wrmsr(0xc0000083, m->cstar);
	wrmsr(0xc0000084, m->sfmask);
	wrmsr(0xc0000102, m->kernel_gs_base);
	SET_DR(0, m->dr[0]);
	SET_DR(1, m->dr[1]);
	SET_DR(2, m->dr[2]);
	SET_DR(3, m->dr[3]);
	SET_DR(6, m->dr6);
}

/* The guest's MSRs and FPU state go into the CPU only when another guest's were there. */
static void make_resident(struct vmx_vcpu *x)
{
	struct vmx_vcpu **r = here();

	if (*r == x)
		return;
	if (*r) {
		save_fpu(*r);
		save_msrs(*r);
	}
	load_fpu(x);
	load_msrs(x);
	*r = x;
}

/* The state's FPU registers and switched MSRs live in the CPU while the vCPU is
 * resident: bring them back to memory before they are read or replaced. */
void vmx_evict(struct vmx_vcpu *x)
{
	struct vmx_vcpu **r = here();

	if (*r != x)
		return;
	save_fpu(x);
	save_msrs(x);
	*r = NULL;
}

/* The vCPU leaves this CPU: its registers back in memory and its VMCS cleared, so that
 * another CPU may load it (SDM 24.11.1: a VMCS active on two CPUs is undefined). */
void vmx_vcpu_put(struct vcpu *v)
{
	struct vmx_vcpu *x = v->priv;

	if (!x)
		return;
	vmx_evict(x);
	if (x->active_on == pcpu_this()->index + 1)
		vmx_clear(x);
}

/* The guest's XSETBV, checked by the core: into the CPU at once when it is resident. */
void vmx_set_xcr0(struct vmx_vcpu *x, uint64_t v)
{
	x->xcr0 = v;
	if (*here() == x && xmask())
		xsetbv(v);
}

static void entry_failed(struct vcpu *v, int how)
{
	uint32_t err = how == 2 ? (uint32_t)vmcs_read(VM_INSTRUCTION_ERROR) : 0;

	vm_kill(v->vm, "VM entry failed: %s (rip 0x%llx)",
		how == 2 ? vmx_insn_error_name(err) : "VMfailInvalid (no current VMCS)",
		(unsigned long long)vmcs_read(GUEST_RIP));
}

/* Translations this CPU may cache for the vCPU are dropped before it enters: on a CPU it
 * did not run on last (a VPID and an EPT root can be a freed VM's), and after CPU 0
 * changed the VM's EPT while it held the VM (vm->s2_gen moved). INVEPT and INVVPID
 * act on the executing CPU only (SDM 28.3.3.1, 28.3.3.3). */
static void flush_stale(struct vmx_vcpu *x, struct vm *vm)
{
	struct pcpu *p = pcpu_this();
	uint32_t cpu = p->index + 1;
	uint32_t gen = __atomic_load_n(&vm->s2_gen, __ATOMIC_ACQUIRE);
	uint64_t t0;

	if (x->ran_on == cpu && x->s2_gen == gen)
		return;
	t0 = rdtsc();
	vmx_invept(vm);
	vmx_invvpid(x);
	if (x->ran_on == cpu) { /* CPU 0 changed the EPT: the cross-CPU flush's cost */
		__atomic_store_n(&p->flushes, p->flushes + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&p->flush_cycles, p->flush_cycles + rdtsc() - t0,
				 __ATOMIC_RELEASE);
	}
	x->ran_on = cpu;
	x->s2_gen = gen;
}

void vmx_vcpu_run(struct vcpu *v, uint64_t deadline_tsc)
{
	struct vmx_vcpu *x = v->priv;
	struct vm *vm = v->vm;
	uint8_t rate = vmx_caps()->preemption_rate;

	if (vmcs_load(x)) {
		vm_kill(vm, "VMPTRLD of its VMCS failed");
		return;
	}
	make_resident(x);
	flush_stale(x, vm);
	x->slice_end = deadline_tsc;
	/* The VM's lock, but inside the guest: its other vCPUs may run on other CPUs */
	spin_lock(&vm->lock);
	/* A hold (hv/sched.c) ends the slice: CPU 0 waits for this CPU to leave the guest.
	 * So does an INIT from another vCPU (it waits for a SIPI now). */
	while (vm->state == VM_RUNNING && vcpu_runnable(v) && !vm_held(vm)) {
		uint64_t now = rdtsc(), ticks, until, in, out;
		bool go_on;
		int r;

		if (now >= deadline_tsc)
			break;
		/* Device timers due now raise their lines before the guest goes in; the
		 * preemption timer then also stops the guest at the next one. */
		vcpu_tick(v);
		until = MIN(deadline_tsc, vcpu_deadline_tsc(v));
		vmx_apicv_select(x);
		vmx_inject_events(x);
		vmx_apicv_sync(x);
		ticks = until > now ? (until - now) >> rate : 0;
		vmcs_write(GUEST_PREEMPTION_TIMER, ticks > 0xffffffff ? 0xffffffff : ticks);
		vmcs_write(TSC_OFFSET, (uint64_t)v->tsc_offset);
		vmcs_write(GUEST_RSP, v->gpr[GPR_RSP]);
		vmcs_write(GUEST_RIP, v->rip);
		vmcs_write(GUEST_RFLAGS, v->rflags);
		write_cr2(x->cr2);
		spin_unlock(&vm->lock);
		in = rdtsc();
		r = vmx_enter(v->gpr, x->launched);
		out = rdtsc();
		spin_lock(&vm->lock);
		x->cr2 = read_cr2();
		vm->run_tsc += out - now;
		vm->last_out_tsc = out;
		if (r) {
			entry_failed(v, r);
			break;
		}
		x->launched = true;
		vm->exits++;
		v->gpr[GPR_RSP] = vmcs_read(GUEST_RSP);
		v->rip = vmcs_read(GUEST_RIP);
		v->rflags = vmcs_read(GUEST_RFLAGS);
		vmx_save_vectoring(x);
		go_on = vmx_handle_exit(x);
		/* tern's cost of the exit: handling it, and preparing the entry before it */
		vm->exit_tsc += (in - now) + (rdtsc() - out);
		if (!go_on)
			break;
	}
	spin_unlock(&vm->lock);
}
