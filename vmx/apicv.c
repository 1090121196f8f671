/* APIC virtualization for a VT-x vCPU (SDM Vol. 3C chapter 29), as far as hv_apicv()
 * allows. The local APIC model's page is the virtual-APIC page, so the model's state
 * and the CPU's are one: the CPU reads and writes the page, tern's model does too
 * between entries. Before each entry the VMCS is brought in line with the model (the
 * APIC's mode and base; RVI and SVI and the EOI-exit bitmap, or the TPR threshold);
 * nothing lives only in the VMCS, so a record of the page is the whole state on any
 * path (a VM moves between hosts with and without APIC virtualization).
 *
 * Without a TPR shadow (apicv=off, or a CPU without it) this is the trapping path:
 * CR8 accesses exit, the xAPIC page is not mapped (every access is an EPT violation
 * that hv/vcpu_emul.c carries out), every x2APIC MSR exits, and vmx/event.c injects
 * every interrupt. */
#include "hv/apicv.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "vmx/ept.h"
#include "vmx/vapic.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

/* The APIC-access page: accesses through the guest-physical page mapped to it are
 * virtualized or exit; its contents are never used, so every VM shares one. */
static uint64_t access_page;

static void set_proc2(uint32_t bit, bool on)
{
	uint64_t p = vmcs_read(PROC_BASED_CTLS2);

	if (!!(p & bit) != on)
		vmcs_write(PROC_BASED_CTLS2, on ? p | bit : p & ~(uint64_t)bit);
}

void vmx_apicv_controls(uint32_t *proc, uint32_t *proc2)
{
	const struct hv_apicv *a = hv_apicv();

	if (!a->tpr_shadow) {
		/* else MOV to CR8 would reach the host's own TPR */
		*proc |= PROC_CR8_LOAD_EXIT | PROC_CR8_STORE_EXIT;
		return;
	}
	*proc |= PROC_TPR_SHADOW;
	if (a->reg_virt)
		*proc2 |= PROC2_APIC_REG_VIRT;
	if (a->intr_delivery)
		*proc2 |= PROC2_VIRT_INTR_DELIVERY;
}

/* One APIC-access page serves every VM (what it holds never matters: each access to it
 * is virtualized or exits), taken when VMX is enabled, so that starting or ending a VM
 * leaves the free memory as it found it. */
int vmx_apicv_enable(void)
{
	if (hv_apicv()->reg_virt && !access_page && !(access_page = pmm_alloc(1)))
		return -E_NOMEM;
	return 0;
}

int vmx_apicv_setup(struct vmx_vcpu *x)
{
	const struct hv_apicv *a = hv_apicv();
	bool ok = true;

	x->vapic = NULL;
	x->apic_mode = -1; /* nothing applied yet: the first entry does it */
	x->apic_base = x->apic_gpa = 0;
	x->tpr_threshold = 0;
	x->vid = a->intr_delivery;
	memset(x->eoi_exit, 0, sizeof(x->eoi_exit));
	if (!a->tpr_shadow)
		return 0;
	if (a->reg_virt && !access_page)
		return -E_NOMEM;
	ok &= vmcs_write(TPR_THRESHOLD, 0);
	if (a->reg_virt)
		ok &= vmcs_write(APIC_ACCESS_ADDR, access_page);
	if (a->intr_delivery) {
		ok &= vmcs_write(GUEST_INTR_STATUS, 0);
		for (unsigned i = 0; i < 4; i++)
			ok &= vmcs_write(EOI_EXIT_BITMAP0 + 2 * i, 0);
	}
	return ok ? 0 : -E_IO;
}

/* Where the APIC-access page goes: the xAPIC base, unless RAM is there (the guest
 * then reaches RAM, as on the trapping path, where EPT maps RAM and nothing else). */
static uint64_t access_gpa(const struct vm *vm, const struct vcpu_apic *ap)
{
	if (!hv_apicv()->reg_virt || ap->mode != VCPU_APIC_XAPIC || ap->base < vm->mem_size)
		return 0;
	return ap->base;
}

/* The VM's EPT holds one mapping of the APIC-access page for every vCPU whose xAPIC is
 * at g (the page is the same for all: SDM 29.4 only makes its address special). */
static bool access_shared(const struct vm *vm, uint64_t g)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		const struct vmx_vcpu *o = vm->vcpus[i]->priv;
		if (o && o->apic_gpa == g)
			return true;
	}
	return false;
}

/* The guest moved or switched its APIC (IA32_APIC_BASE, a reset, a restored record):
 * the APIC-access page follows the xAPIC base; in x2APIC mode the MSRs are virtualized
 * instead (the two controls exclude each other, SDM 26.2.1.1). A mapping that cannot
 * be made (no memory for a table) leaves the page to the trapping path. */
static void apply_mode(struct vmx_vcpu *x, const struct vcpu_apic *ap)
{
	const struct hv_apicv *a = hv_apicv();
	struct vm *vm = x->v->vm;
	uint64_t want = access_gpa(vm, ap);
	bool x2 = a->x2apic && ap->mode == VCPU_APIC_X2APIC;

	if (want != x->apic_gpa) {
		uint64_t old = x->apic_gpa;
		x->apic_gpa = 0;
		if (old && !access_shared(vm, old))
			ept_unmap_4k(vmx_ept(vm), gpa(old));
		if (want && (access_shared(vm, want) ||
			     !ept_map(vmx_ept(vm), gpa(want), hpa(access_page), EPT_PAGE_4K,
				      EPT_R | EPT_W)))
			x->apic_gpa = want;
		vmx_invept(vm); /* SDM 29.4.5 */
	}
	set_proc2(PROC2_VIRT_APIC_ACCESS, x->apic_gpa);
	set_proc2(PROC2_VIRT_X2APIC, x2);
	vapic_x2apic_msrs((uint8_t *)(uintptr_t)x->msr_bitmap, x2, a->reg_virt, x->vid);
	x->apic_mode = (int)ap->mode;
	x->apic_base = ap->base;
}

/* Whether the CPU delivers the local APIC's interrupts itself, chosen before each entry:
 * not while the VM's writes are tracked in a mode that exits (ad does not). Tracking's
 * exits (a full page-modification log, a write-protected page) can interrupt the delivery of an interrupt, when its
 * frame goes onto the guest's stack; the CPU then reports the interrupted delivery and
 * tern delivers it again. Bochs 2.7 reports a stale event there when the delivery was
 * a virtual interrupt's (its virtual-interrupt delivery never records the event it
 * delivers), so the interrupt is lost with its vector left in service: a Linux guest
 * under tracking was found halted with its timer's vector in the ISR and every lower
 * interrupt held behind it, or took a page fault that never happened. Injected events
 * are reported right, so tern injects while it tracks (the apicv=tpr path) and gives
 * delivery back to the CPU afterwards. The page holds the whole state on both paths. */
void vmx_apicv_select(struct vmx_vcpu *x)
{
	enum dirty_mode m = x->v->vm->dirty.mode;
	bool want = hv_apicv()->intr_delivery && m != DIRTY_WP && m != DIRTY_PML;

	if (want == x->vid)
		return;
	x->vid = want;
	set_proc2(PROC2_VIRT_INTR_DELIVERY, want);
	x->tpr_threshold = 0;
	vmcs_write(TPR_THRESHOLD, 0); /* the path without delivery sets its own at sync */
	x->apic_mode = -1;            /* the x2APIC MSRs' interception follows */
}

/* Before each entry, after tern's own injection: the model may have raised or taken
 * interrupts, changed the TMR or the APIC's mode since the CPU last looked. */
void vmx_apicv_sync(struct vmx_vcpu *x)
{
	const struct hv_apicv *a = hv_apicv();
	struct vcpu_apic ap;
	uint64_t eoi[4];

	if (!a->tpr_shadow)
		return;
	vcpu_apic(x->v, &ap);
	if (ap.page != x->vapic) {
		vmcs_write(VIRTUAL_APIC_ADDR, (uintptr_t)ap.page);
		x->vapic = ap.page;
	}
	if ((int)ap.mode != x->apic_mode || ap.base != x->apic_base)
		apply_mode(x, &ap);
	if (!x->vid) {
		uint32_t t = vapic_tpr_threshold(ap.page);

		if (t != x->tpr_threshold) /* the CPU never changes it */
			vmcs_write(TPR_THRESHOLD, t);
		x->tpr_threshold = t;
		return;
	}
	/* RVI and SVI from IRR and ISR (VM entry then evaluates and delivers, SDM
	 * 26.3.2.5); level-triggered vectors' EOIs exit for the I/O APIC */
	vmcs_write(GUEST_INTR_STATUS, vapic_intr_status(ap.page));
	vapic_eoi_exit(ap.page, eoi);
	for (unsigned i = 0; i < 4; i++) {
		if (eoi[i] != x->eoi_exit[i])
			vmcs_write(EOI_EXIT_BITMAP0 + 2 * i, eoi[i]);
		x->eoi_exit[i] = eoi[i];
	}
}

uint64_t vmx_apicv_access_gpa(const struct vmx_vcpu *x)
{
	return x->apic_gpa;
}

/* Dirty tracking took write permission from every leaf: give it back to the
 * APIC-access page, which is no RAM to track, so the guest's APIC writes stay
 * virtualized instead of each exiting as an EPT violation. */
void vmx_apicv_after_wp(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vmx_vcpu *x = vm->vcpus[i]->priv;
		if (x && x->apic_gpa)
			ept_set_write(vmx_ept(vm), gpa(x->apic_gpa), true);
	}
}
