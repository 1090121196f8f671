/* The architectural part of VM exits: what an instruction the CPU would not run for the
 * guest means, decided here once for every backend. */
#include "hv/backend.h"
#include "hv/cpuid.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/msr.h"
#include "hv/pmm.h"
#include "hv/vcpu.h"
#include "hv/pc.h"
#include "hv/pcpu.h"
#include "hv/sched.h"
#include "hv/spin.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "hv/x86_rules.h"

static const struct hv_backend *be(void)
{
	return hv_backend();
}

unsigned vcpu_kill(struct vcpu *v, const char *what)
{
	vm_kill(v->vm, "%s at rip 0x%llx", what, (unsigned long long)v->rip);
	return VA_STOP;
}

static unsigned fault_gp(struct vcpu *v)
{
	be()->inject_exception(v, VEC_GP, true, 0);
	return VA_RESUME;
}

unsigned vcpu_io(struct vcpu *v, uint16_t port, unsigned size, bool in)
{
	uint32_t val = (uint32_t)v->gpr[GPR_RAX];
	uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;

	if (!pc_io(v->vm, port, size, in, &val))
		return VA_SKIP | VA_STOP;
	if (in) /* a 32-bit IN zero-extends into RAX; 8- and 16-bit ones keep the rest */
		v->gpr[GPR_RAX] = size == 4 ? val : (v->gpr[GPR_RAX] & ~mask) | (val & mask);
	return v->vm->state == VM_RUNNING ? VA_SKIP : VA_SKIP | VA_STOP;
}

unsigned vcpu_rdmsr(struct vcpu *v)
{
	uint64_t val;

	if (!msr_read(v, (uint32_t)v->gpr[GPR_RCX], &val))
		return fault_gp(v);
	v->gpr[GPR_RAX] = (uint32_t)val;
	v->gpr[GPR_RDX] = val >> 32;
	return VA_SKIP;
}

unsigned vcpu_wrmsr(struct vcpu *v)
{
	uint64_t val = (v->gpr[GPR_RDX] << 32) | (uint32_t)v->gpr[GPR_RAX];

	if (!msr_write(v, (uint32_t)v->gpr[GPR_RCX], val))
		return fault_gp(v);
	return vcpu_after_apic(v, VA_SKIP); /* an x2APIC ICR write may have sent an IPI */
}

unsigned vcpu_cpuid(struct vcpu *v)
{
	struct cpuid_dyn d = {
		.osxsave = be()->get_sreg(v, SREG_CR4) & CR4_OSXSAVE,
		.apic_on = pc_apic_enabled(v->vm, v->index),
		.xcr0 = be()->get_sreg(v, SREG_XCR0),
		.apic_id = v->index,
	};
	struct cpuid_regs r;

	cpu_model_query(&v->vm->cpu, (uint32_t)v->gpr[GPR_RAX], (uint32_t)v->gpr[GPR_RCX], &d, &r);
	v->gpr[GPR_RAX] = r.eax;
	v->gpr[GPR_RBX] = r.ebx;
	v->gpr[GPR_RCX] = r.ecx;
	v->gpr[GPR_RDX] = r.edx;
	return VA_SKIP;
}

/* HLT waits for an interrupt the guest can take, or an NMI; with interrupts off and no
 * NMI coming it waits for good, as the CPU would. Either way it leaves the run queue
 * until then and costs the other VMs nothing. */
unsigned vcpu_hlt(struct vcpu *v)
{
	if (vcpu_nmi_ready(v) || ((v->rflags & RFLAGS_IF) && vcpu_intr_ready(v)))
		return VA_SKIP;
	v->halted = true;
	return VA_SKIP | VA_STOP;
}

void vcpu_tick(struct vcpu *v)
{
	pc_tick(v->vm);
	if (pc_take_nmi(v->vm, v->index))
		v->nmi_pending = true;
}

bool vcpu_wake(struct vcpu *v)
{
	vcpu_tick(v);
	if (vcpu_nmi_ready(v) || ((v->rflags & RFLAGS_IF) && vcpu_intr_ready(v)))
		v->halted = false;
	return !v->halted;
}

bool vcpu_runnable(const struct vcpu *v)
{
	return !v->halted && v->mp != VCPU_MP_WAIT_SIPI;
}

/* SDM Vol. 3A 9.4.4.2 and Table 10-1: the AP starts in real mode at CS = vector << 8,
 * IP 0, otherwise in the state INIT leaves (power-on's, caches off). */
void vcpu_mp_enter(struct vcpu *v)
{
	/* 2.8 KiB with its XSAVE area: not on the stack, and one per CPU, as every CPU
	 * starts the APs of the VMs at home there */
	static struct vcpu_state states[PCPU_MAX];
	struct vcpu_state *st = &states[pcpu_this()->index];

	/* set by a vCPU on another CPU, under the VM's lock */
	if (__atomic_load_n(&v->mp, __ATOMIC_RELAXED) != VCPU_MP_SIPI)
		return;
	spin_lock(&v->vm->lock);
	if (v->mp == VCPU_MP_SIPI) {
		x86_reset_power_on(&v->vm->cpu, st); /* the TSC and MTRRs go on: 9.1.1 */
		st->seg[SEG_CS].sel = (uint16_t)(v->sipi_vector << 8);
		st->seg[SEG_CS].base = (uint64_t)v->sipi_vector << 12;
		st->rip = 0;
		be()->set_state(v, st);
		v->nmi_pending = false;
		v->halted = false;
		v->mp = VCPU_MP_RUN;
	}
	spin_unlock(&v->vm->lock);
}

/* INIT stops the AP wherever it was (its state is replaced when a SIPI starts it); a
 * SIPI counts only while it waits for one (9.4.4: later ones are ignored). Both are
 * taken between its slices, on its home CPU (the sender kicks it there). */
void vcpu_mp_signal(struct vcpu *v, bool init, uint8_t vector)
{
	if (init) {
		v->mp = VCPU_MP_WAIT_SIPI;
		v->halted = false;
	} else if (v->mp == VCPU_MP_WAIT_SIPI) {
		v->sipi_vector = vector;
		v->mp = VCPU_MP_SIPI;
	}
}

uint64_t vcpu_deadline_tsc(struct vcpu *v)
{
	uint64_t ns = pc_next_event(v->vm);

	return ns == DEV_NEVER ? UINT64_MAX : vm_ns_to_host_tsc(v->vm, ns);
}

bool vcpu_nmi_ready(struct vcpu *v)
{
	return v->nmi_pending;
}

void vcpu_nmi_taken(struct vcpu *v)
{
	v->nmi_pending = false;
}

bool vcpu_intr_ready(struct vcpu *v)
{
	return pc_intr_ready(v->vm, v->index);
}

uint8_t vcpu_intr_ack(struct vcpu *v)
{
	return pc_intr_ack(v->vm, v->index);
}

bool vcpu_extint_ready(struct vcpu *v)
{
	return pc_extint_ready(v->vm, v->index);
}

void vcpu_apic(struct vcpu *v, struct vcpu_apic *out)
{
	const struct lapic *a = &v->vm->pc->lapic[v->index];

	out->page = v->vm->pc->apic_page[v->index];
	out->base = lapic_mmio_base(a);
	out->mode = !lapic_enabled(a) ? VCPU_APIC_OFF
		    : lapic_x2apic(a) ? VCPU_APIC_X2APIC : VCPU_APIC_XAPIC;
}

static unsigned still_running(struct vcpu *v)
{
	return v->vm->state == VM_RUNNING && !v->vm->pc->request ? VA_RESUME : VA_STOP;
}

/* After an access to the local APIC: an IPI it sent to another vCPU ends its slice. */
unsigned vcpu_after_apic(struct vcpu *v, unsigned act)
{
	if (!v->yield)
		return act;
	v->yield = false;
	return act | VA_STOP;
}

unsigned vcpu_apic_write(struct vcpu *v, uint32_t offset)
{
	pc_apic_written(v->vm, v->index, offset);
	return vcpu_after_apic(v, still_running(v));
}

unsigned vcpu_apic_eoi(struct vcpu *v, uint8_t vector)
{
	pc_apic_eoi(v->vm, v->index, vector);
	return still_running(v);
}

uint64_t vcpu_read_cr(struct vcpu *v, unsigned cr)
{
	switch (cr) {
	case 0: return be()->get_sreg(v, SREG_CR0);
	case 3: return be()->get_sreg(v, SREG_CR3);
	case 4: return be()->get_sreg(v, SREG_CR4);
	case 8: return pc_cr8(v->vm, v->index); /* the trapping path: without a TPR shadow */
	default: return 0;
	}
}

struct x86_ctl vcpu_ctl(struct vcpu *v)
{
	return (struct x86_ctl){
		be()->get_sreg(v, SREG_CR0), be()->get_sreg(v, SREG_CR3),
		be()->get_sreg(v, SREG_CR4), be()->get_sreg(v, SREG_EFER),
		!!(be()->get_sreg(v, SREG_CS_ATTR) & SEG_L),
	};
}

/* A write the architecture's rules accepted, with its effects: EFER.LMA when paging
 * toggled with LME set, and the guest's translations dropped when they changed. */
bool vcpu_write_ctl(struct vcpu *v, enum x86_ctl_reg reg, uint64_t val)
{
	struct x86_ctl c = vcpu_ctl(v);
	struct x86_ctl_effects fx;
	static const enum vcpu_sreg sreg[] = { SREG_CR0, SREG_CR3, SREG_CR4, SREG_EFER };
	const uint64_t *after = &fx.ctl.cr0;

	if (!x86_ctl_write(&v->vm->cpu, &c, reg, val, &fx))
		return false;
	if (reg != CTL_EFER && fx.ctl.efer != c.efer)
		be()->set_sreg(v, SREG_EFER, fx.ctl.efer);
	be()->set_sreg(v, sreg[reg], after[reg]);
	if (fx.flush)
		be()->flush_guest_tlb(v);
	return true;
}

unsigned vcpu_write_cr(struct vcpu *v, unsigned cr, uint64_t val)
{
	switch (cr) {
	case 0:
	case 3:
	case 4:
		if (!vcpu_write_ctl(v, cr == 0 ? CTL_CR0 : cr == 3 ? CTL_CR3 : CTL_CR4, val))
			return fault_gp(v);
		return VA_SKIP;
	case 8:
		if (!x86_cr8_ok(val))
			return fault_gp(v);
		pc_set_cr8(v->vm, v->index, (uint8_t)val);
		return VA_SKIP;
	default:
		return vcpu_kill(v, "unsupported control-register access");
	}
}

/* XSETBV (SDM Vol. 2C): XCR0 only, x87 always on, AVX only with SSE, and only the
 * components the VM's CPU model offers. */
unsigned vcpu_xsetbv(struct vcpu *v)
{
	uint64_t val = (v->gpr[GPR_RDX] << 32) | (uint32_t)v->gpr[GPR_RAX];

	if ((uint32_t)v->gpr[GPR_RCX] != 0 || !x86_xcr0_ok(&v->vm->cpu, val))
		return fault_gp(v);
	be()->set_sreg(v, SREG_XCR0, val);
	return VA_SKIP;
}

int vcpu_create(struct vm *vm, unsigned index, struct vcpu **out)
{
	uint64_t npages = ALIGN_UP(sizeof(struct vcpu), PAGE_SIZE) / PAGE_SIZE;
	struct vcpu *v = (void *)(uintptr_t)pmm_alloc(npages);
	int e;

	if (!v)
		return -E_NOMEM;
	v->vm = vm;
	v->index = index;
	/* the guest's TSC starts at 0, on every vCPU at once */
	v->tsc_offset = index ? vm->vcpus[0]->tsc_offset : -(int64_t)rdtsc();
	e = be()->vcpu_create(v);
	if (e) {
		pmm_free((uintptr_t)v, npages);
		return e;
	}
	*out = v;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	be()->vcpu_destroy(v);
	pmm_free((uintptr_t)v, ALIGN_UP(sizeof(struct vcpu), PAGE_SIZE) / PAGE_SIZE);
}

/* Whole-state reads and writes come from CPU 0 (the monitor, a migration, a reset): the
 * VM is held meanwhile when it runs on another CPU (hv/sched.h). */
void vcpu_get_state(struct vcpu *v, struct vcpu_state *s)
{
	vm_hold(v->vm);
	be()->get_state(v, s);
	s->tsc = vcpu_tsc(v);
	s->tsc_adjust = (uint64_t)v->tsc_adjust;
	s->nmi_pending = v->nmi_pending;
	s->misc_enable = v->misc_enable;
	s->mtrr_def_type = v->mtrr_def_type;
	memcpy(s->mtrr_fixed, v->mtrr_fixed, sizeof(s->mtrr_fixed));
	memcpy(s->mtrr_var, v->mtrr_var, sizeof(s->mtrr_var));
	vm_unhold(v->vm);
}

/* The guest's TSC goes on from the state's value: a migrated guest sees no jump back. */
void vcpu_set_state(struct vcpu *v, const struct vcpu_state *s)
{
	vm_hold(v->vm);
	be()->set_state(v, s);
	vcpu_set_tsc(v, s->tsc);
	v->tsc_adjust = (int64_t)s->tsc_adjust;
	v->nmi_pending = s->nmi_pending;
	v->misc_enable = s->misc_enable;
	v->mtrr_def_type = s->mtrr_def_type;
	memcpy(v->mtrr_fixed, s->mtrr_fixed, sizeof(v->mtrr_fixed));
	memcpy(v->mtrr_var, s->mtrr_var, sizeof(v->mtrr_var));
	vm_unhold(v->vm);
}

uint64_t vcpu_tsc(const struct vcpu *v)
{
	return rdtsc() + (uint64_t)v->tsc_offset;
}

void vcpu_set_tsc(struct vcpu *v, uint64_t tsc)
{
	v->tsc_offset = (int64_t)(tsc - rdtsc());
	pc_clock_set(v->vm);
}
