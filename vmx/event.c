/* Delivering events to a VT-x guest (SDM 26.6, 27.2.4, 28.2.4): an event whose delivery
 * an exit interrupted goes in again first; then an NMI, then an external interrupt, each
 * when the guest can take it, else the window exit that says when it can. */
#include "hv/apicv.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"

#define INFO_VALID (1u << 31)
#define INFO_ERROR (1u << 11)
#define INFO_TYPE(i) (((i) >> 8) & 7)

/* After an exit: an event the CPU was delivering when it exited is delivered again on
 * the next entry (SDM 28.2.4): the guest must see it exactly once. */
void vmx_save_vectoring(struct vmx_vcpu *x)
{
	uint32_t info = (uint32_t)vmcs_read(IDT_VECTORING_INFO);

	if (!(info & INFO_VALID))
		return;
	x->reinject = info & ~(1u << 12); /* bit 12 is undefined here */
	x->reinject_error = info & INFO_ERROR ? (uint32_t)vmcs_read(IDT_VECTORING_ERROR) : 0;
	/* software interrupts and exceptions restart with their instruction's length */
	x->reinject_len = INFO_TYPE(info) >= EV_SW_INT ? (uint32_t)vmcs_read(VM_EXIT_INSTR_LEN) : 0;
}

static void set_proc(uint32_t bit, bool on)
{
	uint64_t p = vmcs_read(PROC_BASED_CTLS);

	if (!!(p & bit) != on)
		vmcs_write(PROC_BASED_CTLS, on ? p | bit : p & ~(uint64_t)bit);
}

static bool blocked(uint32_t mask)
{
	return vmcs_read(GUEST_INTERRUPTIBILITY) & mask;
}

/* With virtual-interrupt delivery the CPU takes the local APIC's vectors from the
 * virtual-APIC page itself (vmx/apicv.c sets RVI): only the PIC's are injected. */
static bool intr_ready(struct vmx_vcpu *x)
{
	return x->vid ? vcpu_extint_ready(x->v) : vcpu_intr_ready(x->v);
}

/* Before an entry. A handler may have queued an exception itself (VM_ENTRY_INTR_INFO
 * valid): that one goes first and the rest waits. */
void vmx_inject_events(struct vmx_vcpu *x)
{
	struct vcpu *v = x->v;
	bool intr_wait = false, nmi_wait = false;

	if (vmcs_read(VM_ENTRY_INTR_INFO) & INFO_VALID) {
		x->reinject = 0; /* the new exception replaces what faulted on delivery */
	} else if (x->reinject) {
		vmcs_write(VM_ENTRY_INTR_INFO, x->reinject);
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR, x->reinject_error);
		vmcs_write(VM_ENTRY_INSTR_LEN, x->reinject_len);
		x->reinject = 0;
	} else if (vcpu_nmi_ready(v)) {
		if (blocked(INTR_STI | INTR_MOVSS | INTR_NMI)) {
			nmi_wait = true;
		} else {
			vcpu_nmi_taken(v);
			vmcs_write(VM_ENTRY_INTR_INFO, INFO_VALID | (EV_NMI << 8) | 2);
		}
	} else if (intr_ready(x)) {
		if (!(v->rflags & RFLAGS_IF) || blocked(INTR_STI | INTR_MOVSS)) {
			intr_wait = true;
		} else {
			uint8_t vec = vcpu_intr_ack(v);
			vmcs_write(VM_ENTRY_INTR_INFO, INFO_VALID | (EV_EXTINT << 8) | vec);
		}
	}
	/* NMI-window exiting needs virtual NMIs; without them the interrupt window is the
	 * nearest approximation (the guest's IRET is not seen). */
	set_proc(PROC_NMI_WINDOW, nmi_wait && x->virtual_nmis);
	set_proc(PROC_INTR_WINDOW, intr_wait || (nmi_wait && !x->virtual_nmis));
}

/* The state's view of an event waiting for delivery: the one an exit interrupted, or
 * one a handler queued. */
void vmx_pending_event(struct vmx_vcpu *x, struct vcpu_event *e)
{
	uint32_t info = x->reinject;
	uint32_t err = x->reinject_error, len = x->reinject_len;

	if (!info && (vmcs_read(VM_ENTRY_INTR_INFO) & INFO_VALID)) {
		info = (uint32_t)vmcs_read(VM_ENTRY_INTR_INFO);
		err = (uint32_t)vmcs_read(VM_ENTRY_EXCEPTION_ERROR);
		len = (uint32_t)vmcs_read(VM_ENTRY_INSTR_LEN);
	}
	*e = (struct vcpu_event){ 0 };
	if (!(info & INFO_VALID))
		return;
	e->valid = 1;
	e->type = (uint8_t)INFO_TYPE(info);
	e->vector = (uint8_t)info;
	e->has_error = !!(info & INFO_ERROR);
	e->error = e->has_error ? err : 0;
	e->insn_len = e->type >= EV_SW_INT ? len : 0;
}

void vmx_set_pending_event(struct vmx_vcpu *x, const struct vcpu_event *e)
{
	x->reinject = 0;
	vmcs_write(VM_ENTRY_INTR_INFO, 0);
	if (!e->valid)
		return;
	x->reinject = INFO_VALID | ((uint32_t)e->type << 8) | e->vector |
		      (e->has_error ? INFO_ERROR : 0);
	x->reinject_error = e->error;
	x->reinject_len = e->insn_len;
}
