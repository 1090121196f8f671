/* VM-exit dispatch: a table indexed by basic exit reason (SDM Appendix C). The exits
 * whose meaning is architectural go to the core's handlers (hv/vcpu.h); the ones that
 * are VT-x's own (EPT, PML, the preemption timer) are handled here. Each handler returns
 * true to resume the guest, false to end the current slice. */
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define EXIT_ENTRY_FAILED (1u << 31)
#define NR_EXITS 65

/* Applies a core handler's verdict: skip the instruction (its length is in the exit
 * information), and resume or not. */
static bool act(struct vmx_vcpu *x, unsigned a)
{
	if (a & VA_SKIP) {
		x->v->rip += vmcs_read(VM_EXIT_INSTR_LEN);
		/* Completing an instruction ends STI and MOV-SS blocking (SDM 25.4.2). */
		vmcs_write(GUEST_INTERRUPTIBILITY, vmcs_read(GUEST_INTERRUPTIBILITY) & ~3ull);
	}
	return !(a & VA_STOP);
}

static void inject(unsigned vector, bool has_error, uint32_t error)
{
	vmcs_write(VM_ENTRY_INTR_INFO, (1u << 31) | (3u << 8) | (has_error ? 1u << 11 : 0) | vector);
	if (has_error)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR, error);
}

void vmx_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error)
{
	vmcs_load(v->priv);
	inject(vector, has_error, error);
}

static bool exit_triple_fault(struct vmx_vcpu *x)
{
	return act(x, vcpu_kill(x->v, "triple fault"));
}

static bool exit_cpuid(struct vmx_vcpu *x)
{
	return act(x, vcpu_cpuid(x->v));
}

static bool exit_hlt(struct vmx_vcpu *x)
{
	return act(x, vcpu_hlt(x->v));
}

/* VMX instructions: VT-x is hidden from guests, so they fault as on a CPU without it. */
static bool exit_vmx_insn(struct vmx_vcpu *x)
{
	inject(VEC_UD, false, 0);
	return true;
}

static bool exit_invd(struct vmx_vcpu *x)
{
	return act(x, VA_SKIP); /* caches stay coherent; dropping them is never needed here */
}

static bool exit_cr_access(struct vmx_vcpu *x)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
	struct vcpu *v = x->v;

	switch (type) {
	case 0: /* MOV to CR */
		return act(x, vcpu_write_cr(v, cr, v->gpr[reg]));
	case 1: /* MOV from CR */
		v->gpr[reg] = vcpu_read_cr(v, cr);
		return act(x, VA_SKIP);
	case 3: { /* LMSW: loads PE MP EM TS, cannot clear PE */
		uint64_t old = vcpu_read_cr(v, 0), src = (q >> 16) & 0xf;
		return act(x, vcpu_write_cr(v, 0, (old & ~0xeull) | src | (old & 1)));
	}
	default: /* CLTS: CR0.TS is the guest's, so it never exits */
		return act(x, vcpu_kill(v, "unsupported control-register access"));
	}
}

static bool exit_io(struct vmx_vcpu *x)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	unsigned size = (q & 7) + 1, port = (q >> 16) & 0xffff;

	/* INS/OUTS: the instruction information gives the address size and, for OUTS,
	 * the segment (SDM 27.2.5, Table 27-8) */
	if (q & 16) {
		uint32_t info = (uint32_t)vmcs_read(VM_EXIT_INSTR_INFO);
		return act(x, vcpu_string_io(x->v, (uint16_t)port, size, q & 8, q & 32,
					     2u << ((info >> 7) & 3), (info >> 15) & 7));
	}
	return act(x, vcpu_io(x->v, (uint16_t)port, size, q & 8));
}

static bool exit_rdmsr(struct vmx_vcpu *x)
{
	return act(x, vcpu_rdmsr(x->v));
}

static bool exit_wrmsr(struct vmx_vcpu *x)
{
	return act(x, vcpu_wrmsr(x->v));
}

static bool exit_ept_violation(struct vmx_vcpu *x)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), g = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	struct vm *vm = x->v->vm;

	/* A write to a page write-protected for tracking: marked, made writable, and the
	 * instruction runs again. */
	if ((q & 2) && g < vm->mem_size && vmx_dirty_write_fault(vm, g))
		return true;
	if (g < vm->mem_size) {
		vm_kill(vm, "unexpected EPT violation (%s) at guest-physical 0x%llx, rip 0x%llx",
			q & 4 ? "instruction fetch" : q & 2 ? "write" : "read",
			(unsigned long long)g, (unsigned long long)x->v->rip);
		return false;
	}
	return act(x, vcpu_mmio(x->v, g, q & 2, q & 4));
}

static bool exit_ept_misconfig(struct vmx_vcpu *x)
{
	return act(x, vcpu_kill(x->v, "EPT misconfiguration (a tern bug)"));
}

static bool exit_pml_full(struct vmx_vcpu *x)
{
	if (vmx_dirty_pml_full(x->v->vm, x->v->index))
		return true;
	return act(x, vcpu_kill(x->v, "page-modification log full while not tracking (a tern bug)"));
}

/* The slice is over, or a device timer is due: then the loop delivers its interrupt. */
static bool exit_preemption(struct vmx_vcpu *x)
{
	return rdtsc() < x->slice_end;
}

/* tern's own interrupt (its idle timer) arrived while the guest ran: it is pending in
 * the CPU, so let tern's handler take it now, then go on. */
static bool exit_external_interrupt(struct vmx_vcpu *x)
{
	asm volatile("sti; nop; cli" ::: "memory");
	return true;
}

/* A host NMI (the guest's own NMIs are injected, never exit): tern has no use for one. */
static bool exit_exception_or_nmi(struct vmx_vcpu *x)
{
	uint32_t info = (uint32_t)vmcs_read(VM_EXIT_INTR_INFO);

	if (((info >> 8) & 7) == 2)
		return true;
	return act(x, vcpu_kill(x->v, "unexpected exception exit (a tern bug)"));
}

/* The guest can take the event it waited for: the loop injects it. */
static bool exit_window(struct vmx_vcpu *x)
{
	return true;
}

/* --- APIC virtualization (SDM 29.4, 29.1.2, 29.1.4; vmx/apicv.c) --- */

/* The guest lowered its TPR (MOV to CR8) below the class of an interrupt it held
 * back: the next entry delivers it. */
static bool exit_tpr_threshold(struct vmx_vcpu *x)
{
	return true;
}

/* An access to the APIC page the CPU does not virtualize (a register it does not read
 * from the page, a narrow or straddling one): carried out through the model, as on
 * the trapping path. The qualification gives the page offset and how (SDM Table
 * 28-6): 0 read, 1 write, 2 fetch; others are accesses by event delivery or by page
 * walks, which no guest makes on purpose. */
static bool exit_apic_access(struct vmx_vcpu *x)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), base = vmx_apicv_access_gpa(x);
	unsigned type = (q >> 12) & 0xf;

	if (type > 2 || !base)
		return act(x, vcpu_kill(x->v, "the APIC page used by event delivery or as "
					      "paging structures"));
	return act(x, vcpu_mmio(x->v, base + (q & 0xfff), type == 1, type == 2));
}

/* The CPU wrote a register into the page (the instruction is done): the model acts on
 * it. The qualification is the page offset. */
static bool exit_apic_write(struct vmx_vcpu *x)
{
	return act(x, vcpu_apic_write(x->v, (uint32_t)vmcs_read(EXIT_QUALIFICATION) & 0xfff));
}

/* The CPU performed the EOI of a vector the EOI-exit bitmap names (level-triggered):
 * the model tells the I/O APIC. */
static bool exit_eoi_induced(struct vmx_vcpu *x)
{
	return act(x, vcpu_apic_eoi(x->v, (uint8_t)vmcs_read(EXIT_QUALIFICATION)));
}

static bool exit_xsetbv(struct vmx_vcpu *x)
{
	return act(x, vcpu_xsetbv(x->v));
}

typedef bool (*exit_fn)(struct vmx_vcpu *x);

static const exit_fn handlers[NR_EXITS] = {
	[0] = exit_exception_or_nmi,
	[1] = exit_external_interrupt,
	[2] = exit_triple_fault,
	[7] = exit_window,
	[8] = exit_window,
	[10] = exit_cpuid,
	[11] = exit_vmx_insn, /* GETSEC: SMX is hidden too */
	[12] = exit_hlt,
	[13] = exit_invd,
	[18] = exit_vmx_insn, [19] = exit_vmx_insn, [20] = exit_vmx_insn, [21] = exit_vmx_insn,
	[22] = exit_vmx_insn, [23] = exit_vmx_insn, [24] = exit_vmx_insn, [25] = exit_vmx_insn,
	[26] = exit_vmx_insn, [27] = exit_vmx_insn,
	[28] = exit_cr_access,
	[30] = exit_io,
	[31] = exit_rdmsr,
	[32] = exit_wrmsr,
	[43] = exit_tpr_threshold,
	[44] = exit_apic_access,
	[45] = exit_eoi_induced,
	[48] = exit_ept_violation,
	[49] = exit_ept_misconfig,
	[50] = exit_vmx_insn,
	[52] = exit_preemption,
	[53] = exit_vmx_insn,
	[55] = exit_xsetbv,
	[56] = exit_apic_write,
	[62] = exit_pml_full,
};

bool vmx_handle_exit(struct vmx_vcpu *x)
{
	uint32_t reason = (uint32_t)vmcs_read(EXIT_REASON), basic = reason & 0xffff;

	if (reason & EXIT_ENTRY_FAILED) {
		vm_kill(x->v->vm, "VM entry failed: %s (qualification 0x%llx), rip 0x%llx",
			vmx_exit_name(basic), (unsigned long long)vmcs_read(EXIT_QUALIFICATION),
			(unsigned long long)x->v->rip);
		return false;
	}
	if (basic < NR_EXITS && handlers[basic])
		return handlers[basic](x);
	vm_kill(x->v->vm, "unhandled VM exit %u (%s) at rip 0x%llx", basic, vmx_exit_name(basic),
		(unsigned long long)x->v->rip);
	return false;
}
