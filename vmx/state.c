/* A VT-x vCPU's architectural state, to and from the neutral form (hv/vcpu_state.h),
 * and the control registers the core's handlers read and apply. */
#include "hv/lib/string.h"
#include "hv/vcpu_state.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"


/* VMX keeps a segment's attributes as the descriptor's bits 40-55 in place (bits 8-11
 * reserved) with bit 16 for "unusable" (SDM 25.4.1); the neutral form packs them. */
static uint32_t attr_to_ar(uint16_t a)
{
	return (a & 0xff) | ((uint32_t)(a & 0xf00) << 4) | (a & SEG_UNUSABLE ? 1u << 16 : 0);
}

static uint16_t ar_to_attr(uint32_t ar)
{
	return (uint16_t)((ar & 0xff) | ((ar >> 4) & 0xf00) | (ar & (1u << 16) ? SEG_UNUSABLE : 0));
}

/* Field encodings of the eight segments are consecutive, 2 apart (SDM B.1.2, B.3.3,
 * B.4.3), in the order of enum SEG_*. */
static void set_seg(int idx, const struct seg_state *s)
{
	vmcs_write(GUEST_ES_SEL + 2 * idx, s->sel);
	vmcs_write(GUEST_ES_LIMIT + 2 * idx, s->limit);
	vmcs_write(GUEST_ES_AR + 2 * idx, attr_to_ar(s->attr));
	vmcs_write(GUEST_ES_BASE + 2 * idx, s->base);
}

static void get_seg(int idx, struct seg_state *s)
{
	s->sel = (uint16_t)vmcs_read(GUEST_ES_SEL + 2 * idx);
	s->limit = (uint32_t)vmcs_read(GUEST_ES_LIMIT + 2 * idx);
	s->attr = ar_to_attr((uint32_t)vmcs_read(GUEST_ES_AR + 2 * idx));
	s->base = vmcs_read(GUEST_ES_BASE + 2 * idx);
}

/* With EPT and unrestricted guest, PAE paging takes its PDPTEs from the VMCS when CR0
 * or CR4 is written by tern rather than by the guest (SDM 26.3.2.4). */
static void load_pdptes(struct vcpu *v, uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	uint64_t pdpte[4] = { 0 };

	if (!(cr0 & CR0_PG) || !(cr4 & CR4_PAE) || (efer & EFER_LME))
		return;
	gpa_read(v->vm, gpa(vmcs_read(GUEST_CR3) & ~0x1full), pdpte, sizeof(pdpte));
	for (int i = 0; i < 4; i++)
		vmcs_write(GUEST_PDPTE0 + 2 * i, pdpte[i]);
}

static void set_ia32e(bool on)
{
	uint64_t entry = vmcs_read(VM_ENTRY_CTLS);

	vmcs_write(VM_ENTRY_CTLS, on ? entry | ENTRY_IA32E_GUEST : entry & ~ENTRY_IA32E_GUEST);
}

static uint64_t guest_cr0(void)
{
	uint64_t mask = vmcs_read(CR0_GUEST_HOST_MASK);

	return (vmcs_read(GUEST_CR0) & ~mask) | (vmcs_read(CR0_READ_SHADOW) & mask);
}

/* As CR0: the guest writes the bits it owns (PAE, OSFXSR, ...) without an exit, so the
 * read shadow holds only the masked ones (SDM 25.6.6). */
static uint64_t guest_cr4(void)
{
	uint64_t mask = vmcs_read(CR4_GUEST_HOST_MASK);

	return (vmcs_read(GUEST_CR4) & ~mask) | (vmcs_read(CR4_READ_SHADOW) & mask);
}

uint64_t vmx_get_sreg(struct vcpu *v, enum vcpu_sreg r)
{
	vmcs_load(v->priv);
	switch (r) {
	case SREG_CR0: return guest_cr0();
	case SREG_CR2: return to_vmx(v)->cr2;
	case SREG_CR3: return vmcs_read(GUEST_CR3);
	case SREG_CR4: return guest_cr4();
	case SREG_EFER: return vmcs_read(GUEST_IA32_EFER);
	case SREG_PAT: return vmcs_read(GUEST_IA32_PAT);
	case SREG_XCR0: return to_vmx(v)->xcr0;
	case SREG_CS_ATTR: return ar_to_attr((uint32_t)vmcs_read(GUEST_CS_AR));
	default: return 0;
	}
}

/* The core applied the architecture's rules, EFER.LMA included (it sets EFER first
 * when paging toggles IA-32e mode): here only VMX's own bookkeeping. */
static void set_cr0(struct vcpu *v, uint64_t val)
{
	vmcs_write(CR0_READ_SHADOW, val);
	vmcs_write(GUEST_CR0, val | vmx_cr0_fixed_mask());
	load_pdptes(v, val, guest_cr4(), vmcs_read(GUEST_IA32_EFER));
}

void vmx_set_sreg(struct vcpu *v, enum vcpu_sreg r, uint64_t val)
{
	vmcs_load(v->priv);
	switch (r) {
	case SREG_CR0:
		set_cr0(v, val);
		break;
	case SREG_CR2:
		to_vmx(v)->cr2 = val;
		break;
	case SREG_CR3:
		vmcs_write(GUEST_CR3, val);
		load_pdptes(v, guest_cr0(), guest_cr4(), vmcs_read(GUEST_IA32_EFER));
		break;
	case SREG_CR4:
		vmcs_write(CR4_READ_SHADOW, val);
		vmcs_write(GUEST_CR4, val | vmx_cr4_fixed0());
		load_pdptes(v, guest_cr0(), val, vmcs_read(GUEST_IA32_EFER));
		break;
	case SREG_EFER:
		vmcs_write(GUEST_IA32_EFER, val);
		set_ia32e(val & EFER_LMA);
		break;
	case SREG_PAT:
		vmcs_write(GUEST_IA32_PAT, val);
		break;
	case SREG_XCR0:
		vmx_set_xcr0(v->priv, val);
		break;
	default:
		break;
	}
}

void vmx_get_seg(struct vcpu *v, int idx, struct seg_state *s)
{
	vmcs_load(v->priv);
	get_seg(idx, s);
}

void vmx_set_state(struct vcpu *v, const struct vcpu_state *s)
{
	struct vmx_vcpu *x = v->priv;
	const uint64_t gpr[GPR_COUNT] = { s->rax, s->rcx, s->rdx, s->rbx, s->rsp, s->rbp,
					  s->rsi, s->rdi, s->r8,  s->r9,  s->r10, s->r11,
					  s->r12, s->r13, s->r14, s->r15 };

	vmx_evict(x);
	vmcs_load(x);
	memcpy(v->gpr, gpr, sizeof(gpr));
	v->rip = s->rip;
	v->rflags = s->rflags | 2;
	vmcs_write(GUEST_RSP, s->rsp);
	vmcs_write(GUEST_RIP, s->rip);
	vmcs_write(GUEST_RFLAGS, s->rflags | 2);
	vmcs_write(CR0_READ_SHADOW, s->cr0);
	vmcs_write(GUEST_CR0, s->cr0 | vmx_cr0_fixed_mask());
	vmcs_write(CR4_READ_SHADOW, s->cr4);
	vmcs_write(GUEST_CR4, s->cr4 | vmx_cr4_fixed0());
	vmcs_write(GUEST_CR3, s->cr3);
	x->cr2 = s->cr2;
	vmcs_write(GUEST_IA32_EFER, s->efer);
	vmcs_write(GUEST_IA32_PAT, s->pat);
	vmcs_write(GUEST_DR7, s->dr7);
	for (int i = 0; i < SEG_COUNT; i++)
		set_seg(i, &s->seg[i]);
	vmcs_write(GUEST_GDTR_BASE, s->gdtr.base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdtr.limit);
	vmcs_write(GUEST_IDTR_BASE, s->idtr.base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idtr.limit);
	vmcs_write(GUEST_SYSENTER_CS, s->sysenter_cs);
	vmcs_write(GUEST_SYSENTER_ESP, s->sysenter_esp);
	vmcs_write(GUEST_SYSENTER_EIP, s->sysenter_eip);
	vmcs_write(GUEST_INTERRUPTIBILITY, s->interruptibility);
	vmcs_write(GUEST_ACTIVITY_STATE, 0);
	vmcs_write(GUEST_PENDING_DBG, 0);
	v->halted = s->activity == ACT_HLT;
	x->msrs = (struct guest_msrs){ s->star, s->lstar, s->cstar, s->sfmask, s->kernel_gs_base,
				       { s->dr0, s->dr1, s->dr2, s->dr3 }, s->dr6 };
	memcpy(x->xsave, s->xsave, XSAVE_BYTES);
	x->xcr0 = s->xcr0;
	vmx_set_pending_event(x, &s->event);
	set_ia32e(s->efer & EFER_LMA);
	load_pdptes(v, s->cr0, s->cr4, s->efer);
}

void vmx_get_state(struct vcpu *v, struct vcpu_state *s)
{
	struct vmx_vcpu *x = v->priv;
	const uint64_t *r = v->gpr;

	vmx_evict(x);
	vmcs_load(x);
	memset(s, 0, sizeof(*s));
	s->rax = r[GPR_RAX], s->rcx = r[GPR_RCX], s->rdx = r[GPR_RDX], s->rbx = r[GPR_RBX];
	s->rsp = r[GPR_RSP], s->rbp = r[GPR_RBP], s->rsi = r[GPR_RSI], s->rdi = r[GPR_RDI];
	s->r8 = r[GPR_R8], s->r9 = r[GPR_R9], s->r10 = r[GPR_R10], s->r11 = r[GPR_R11];
	s->r12 = r[GPR_R12], s->r13 = r[GPR_R13], s->r14 = r[GPR_R14], s->r15 = r[GPR_R15];
	s->rip = v->rip;
	s->rflags = v->rflags;
	s->cr0 = guest_cr0();
	s->cr4 = guest_cr4();
	s->cr3 = vmcs_read(GUEST_CR3);
	s->cr2 = x->cr2;
	s->xcr0 = x->xcr0;
	s->efer = vmcs_read(GUEST_IA32_EFER);
	s->pat = vmcs_read(GUEST_IA32_PAT);
	s->dr7 = vmcs_read(GUEST_DR7);
	s->dr0 = x->msrs.dr[0], s->dr1 = x->msrs.dr[1], s->dr2 = x->msrs.dr[2];
	s->dr3 = x->msrs.dr[3], s->dr6 = x->msrs.dr6;
	for (int i = 0; i < SEG_COUNT; i++)
		get_seg(i, &s->seg[i]);
	s->gdtr.base = vmcs_read(GUEST_GDTR_BASE);
	s->gdtr.limit = (uint16_t)vmcs_read(GUEST_GDTR_LIMIT);
	s->idtr.base = vmcs_read(GUEST_IDTR_BASE);
	s->idtr.limit = (uint16_t)vmcs_read(GUEST_IDTR_LIMIT);
	s->sysenter_cs = vmcs_read(GUEST_SYSENTER_CS);
	s->sysenter_esp = vmcs_read(GUEST_SYSENTER_ESP);
	s->sysenter_eip = vmcs_read(GUEST_SYSENTER_EIP);
	s->interruptibility = (uint32_t)vmcs_read(GUEST_INTERRUPTIBILITY);
	s->activity = v->halted ? ACT_HLT : ACT_ACTIVE;
	s->star = x->msrs.star;
	s->lstar = x->msrs.lstar;
	s->cstar = x->msrs.cstar;
	s->sfmask = x->msrs.sfmask;
	s->kernel_gs_base = x->msrs.kernel_gs_base;
	memcpy(s->xsave, x->xsave, XSAVE_BYTES);
	vmx_pending_event(x, &s->event);
}
