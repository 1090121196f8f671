/* VM-exit dispatch: a table indexed by basic exit reason (SDM Appendix C). Each handler
 * returns true to resume the guest, false to end the current slice. */
#include "hv/cpuid.h"
#include "hv/vdev.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define EXIT_ENTRY_FAILED (1u << 31)
#define NR_EXITS 65

#define VEC_UD 6
#define VEC_GP 13

#define CR4_PAE_BIT (1ull << 5)

static uint64_t rip(void)
{
	return vmcs_read(GUEST_RIP);
}

static void skip_insn(void)
{
	vmcs_write(GUEST_RIP, rip() + vmcs_read(VM_EXIT_INSTR_LEN));
	/* Completing an instruction ends STI and MOV-SS blocking (SDM 25.4.2). */
	vmcs_write(GUEST_INTERRUPTIBILITY, vmcs_read(GUEST_INTERRUPTIBILITY) & ~3ull);
}

/* Injects a hardware exception on the next entry (SDM 26.6). */
static void inject(unsigned vector, bool has_error, uint32_t error)
{
	vmcs_write(VM_ENTRY_INTR_INFO, (1u << 31) | (3u << 8) | (has_error ? 1u << 11 : 0) | vector);
	if (has_error)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR, error);
}

/* General registers in ModR/M order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15. */
static uint64_t *gpr(struct vmx_vcpu *v, unsigned n)
{
	static const uint8_t slot[16] = { 0, 2, 3, 1, 255, 6, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14 };

	return slot[n & 15] == 255 ? NULL : (uint64_t *)&v->regs + slot[n & 15];
}

static uint64_t gpr_get(struct vmx_vcpu *v, unsigned n)
{
	uint64_t *r = gpr(v, n);

	return r ? *r : vmcs_read(GUEST_RSP);
}

static void gpr_set(struct vmx_vcpu *v, unsigned n, uint64_t val)
{
	uint64_t *r = gpr(v, n);

	if (r)
		*r = val;
	else
		vmcs_write(GUEST_RSP, val);
}

static bool kill(struct vmx_vcpu *v, const char *what)
{
	vm_kill(v->vm, "%s at rip 0x%llx", what, (unsigned long long)rip());
	return false;
}

static bool exit_triple_fault(struct vmx_vcpu *v)
{
	return kill(v, "triple fault");
}

static bool exit_cpuid(struct vmx_vcpu *v)
{
	struct cpuid_regs r;

	vcpu_cpuid((uint32_t)v->regs.rax, (uint32_t)v->regs.rcx, &r);
	v->regs.rax = r.eax;
	v->regs.rbx = r.ebx;
	v->regs.rcx = r.ecx;
	v->regs.rdx = r.edx;
	skip_insn();
	return true;
}

static bool exit_hlt(struct vmx_vcpu *v)
{
	skip_insn();
	/* Nothing can wake it yet (no virtual interrupts): it leaves the run queue and
	 * costs the other VMs nothing. */
	v->vm->halted = true;
	return false;
}

/* VMX instructions: VT-x is hidden from guests, so they fault as on a CPU without it. */
static bool exit_vmx_insn(struct vmx_vcpu *v)
{
	inject(VEC_UD, false, 0);
	return true;
}

static bool exit_invd(struct vmx_vcpu *v)
{
	skip_insn(); /* caches stay coherent; dropping them is never needed here */
	return true;
}

/* With EPT and unrestricted guest, PAE paging takes its PDPTEs from the VMCS when CR0
 * or CR4 is written by tern rather than by the guest (SDM 26.3.2.4). */
static void load_pdptes(struct vmx_vcpu *v, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	uint64_t pdpte[4] = { 0 };

	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE_BIT) || (efer & EFER_LME))
		return;
	gpa_read(v->vm, gpa(vmcs_read(GUEST_CR3) & ~0x1full), pdpte, sizeof(pdpte));
	for (int i = 0; i < 4; i++)
		vmcs_write(GUEST_PDPTE0 + 2 * i, pdpte[i]);
}

static bool guest_write_cr0(struct vmx_vcpu *v, uint64_t val)
{
	uint64_t mask = vmcs_read(CR0_GUEST_HOST_MASK), old = vmcs_read(CR0_READ_SHADOW);
	uint64_t efer = vmcs_read(GUEST_IA32_EFER), entry = vmcs_read(VM_ENTRY_CTLS);

	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE))) {
		inject(VEC_GP, true, 0);
		return true;
	}
	/* Paging turned on or off with EFER.LME set switches IA-32e mode (SDM 10.8.5). */
	if ((val ^ ((old & mask) | (vmcs_read(GUEST_CR0) & ~mask))) & CR0_PG &&
	    (efer & EFER_LME)) {
		if ((val & CR0_PG) && !(vmcs_read(CR4_READ_SHADOW) & CR4_PAE_BIT)) {
			inject(VEC_GP, true, 0);
			return true;
		}
		efer = (val & CR0_PG) ? efer | EFER_LMA : efer & ~EFER_LMA;
		entry = (val & CR0_PG) ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST;
		vmcs_write(GUEST_IA32_EFER, efer);
		vmcs_write(VM_ENTRY_CTLS, entry);
	}
	vmcs_write(CR0_READ_SHADOW, val);
	vmcs_write(GUEST_CR0, val | mask);
	load_pdptes(v, val, vmcs_read(CR4_READ_SHADOW), efer);
	skip_insn();
	return true;
}

static bool guest_write_cr4(struct vmx_vcpu *v, uint64_t val)
{
	uint64_t mask = vmcs_read(CR4_GUEST_HOST_MASK);
	uint64_t forced = vmcs_read(GUEST_CR4) & mask; /* VMXE, hidden from the guest */

	/* The masked bits are VMXE and the ones this CPU cannot set: none is the guest's
	 * to set. Clearing PAE in long mode is refused too (SDM 4.1.1). */
	if ((val & mask) ||
	    (!(val & CR4_PAE_BIT) && (vmcs_read(GUEST_IA32_EFER) & EFER_LMA))) {
		inject(VEC_GP, true, 0);
		return true;
	}
	vmcs_write(CR4_READ_SHADOW, val);
	vmcs_write(GUEST_CR4, val | forced);
	load_pdptes(v, vmcs_read(CR0_READ_SHADOW), val, vmcs_read(GUEST_IA32_EFER));
	skip_insn();
	return true;
}

static bool exit_cr_access(struct vmx_vcpu *v)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;

	switch (type) {
	case 0: /* MOV to CR */
		if (cr == 0)
			return guest_write_cr0(v, gpr_get(v, reg));
		if (cr == 4)
			return guest_write_cr4(v, gpr_get(v, reg));
		if (cr == 3) {
			vmcs_write(GUEST_CR3, gpr_get(v, reg));
			skip_insn();
			return true;
		}
		if (cr == 8) { /* no virtual APIC yet: the TPR is ignored */
			skip_insn();
			return true;
		}
		break;
	case 1: /* MOV from CR */
		if (cr == 3 || cr == 8) {
			gpr_set(v, reg, cr == 3 ? vmcs_read(GUEST_CR3) : 0);
			skip_insn();
			return true;
		}
		break;
	case 3: { /* LMSW: loads PE MP EM TS, cannot clear PE */
		uint64_t old = vmcs_read(CR0_READ_SHADOW), src = (q >> 16) & 0xf;
		return guest_write_cr0(v, (old & ~0xeull) | src | (old & 1));
	}
	default:
		break;
	}
	return kill(v, "unsupported control-register access");
}

static bool exit_io(struct vmx_vcpu *v)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION);
	unsigned size = (q & 7) + 1, port = (q >> 16) & 0xffff;
	bool in = q & 8, string = q & 16;
	uint32_t val = (uint32_t)v->regs.rax;
	uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;

	if (string) {
		vm_kill(v->vm, "string I/O (INS/OUTS) on port 0x%x is not supported, at rip 0x%llx",
			port, (unsigned long long)rip());
		return false;
	}
	skip_insn();
	if (!vdev_io(v->vm, (uint16_t)port, size, in, &val))
		return false;
	if (in) /* a 32-bit IN zero-extends into RAX; 8- and 16-bit ones keep the rest */
		v->regs.rax = size == 4 ? val : (v->regs.rax & ~mask) | (val & mask);
	return v->vm->state == VM_RUNNING;
}

static bool exit_rdmsr(struct vmx_vcpu *v)
{
	uint64_t val;

	if (!vmx_msr_read(v, (uint32_t)v->regs.rcx, &val)) {
		inject(VEC_GP, true, 0);
		return true;
	}
	v->regs.rax = (uint32_t)val;
	v->regs.rdx = val >> 32;
	skip_insn();
	return true;
}

static bool exit_wrmsr(struct vmx_vcpu *v)
{
	uint64_t val = (v->regs.rdx << 32) | (uint32_t)v->regs.rax;

	if (!vmx_msr_write(v, (uint32_t)v->regs.rcx, val)) {
		inject(VEC_GP, true, 0);
		return true;
	}
	skip_insn();
	return true;
}

static bool exit_ept_violation(struct vmx_vcpu *v)
{
	uint64_t q = vmcs_read(EXIT_QUALIFICATION), g = vmcs_read(GUEST_PHYSICAL_ADDRESS);
	const char *what = q & 4 ? "instruction fetch" : q & 2 ? "write" : "read";

	/* A write to a page write-protected for tracking: marked, made writable, and the
	 * instruction runs again. */
	if ((q & 2) && g < v->vm->mem_size && vmx_dirty_write_fault(v->vm, g))
		return true;
	if (g >= v->vm->mem_size)
		vm_kill(v->vm, "%s of guest-physical 0x%llx outside its %llu MiB of RAM, at rip 0x%llx",
			what, (unsigned long long)g, (unsigned long long)(v->vm->mem_size / MIB),
			(unsigned long long)rip());
	else
		vm_kill(v->vm, "unexpected EPT violation (%s) at guest-physical 0x%llx, rip 0x%llx",
			what, (unsigned long long)g, (unsigned long long)rip());
	return false;
}

static bool exit_ept_misconfig(struct vmx_vcpu *v)
{
	vm_kill(v->vm, "EPT misconfiguration at guest-physical 0x%llx (a tern bug), rip 0x%llx",
		(unsigned long long)vmcs_read(GUEST_PHYSICAL_ADDRESS), (unsigned long long)rip());
	return false;
}

static bool exit_pml_full(struct vmx_vcpu *v)
{
	if (vmx_dirty_pml_full(v->vm))
		return true;
	return kill(v, "page-modification log full while not tracking (a tern bug)");
}

static bool exit_preemption(struct vmx_vcpu *v)
{
	return false; /* the slice is over */
}

static bool exit_xsetbv(struct vmx_vcpu *v)
{
	inject(VEC_GP, true, 0); /* XSAVE is not offered to guests */
	return true;
}

typedef bool (*exit_fn)(struct vmx_vcpu *v);

static const exit_fn handlers[NR_EXITS] = {
	[2] = exit_triple_fault,
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
	[48] = exit_ept_violation,
	[49] = exit_ept_misconfig,
	[50] = exit_vmx_insn,
	[52] = exit_preemption,
	[53] = exit_vmx_insn,
	[55] = exit_xsetbv,
	[62] = exit_pml_full,
};

bool vmx_handle_exit(struct vmx_vcpu *v)
{
	uint32_t reason = (uint32_t)vmcs_read(EXIT_REASON), basic = reason & 0xffff;

	if (reason & EXIT_ENTRY_FAILED) {
		vm_kill(v->vm, "VM entry failed: %s (qualification 0x%llx), rip 0x%llx",
			vmx_exit_name(basic), (unsigned long long)vmcs_read(EXIT_QUALIFICATION),
			(unsigned long long)rip());
		return false;
	}
	if (basic < NR_EXITS && handlers[basic])
		return handlers[basic](v);
	vm_kill(v->vm, "unhandled VM exit %u (%s) at rip 0x%llx", basic, vmx_exit_name(basic),
		(unsigned long long)rip());
	return false;
}
