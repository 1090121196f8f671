/* The three dirty-tracking backends behind one interface (hv/dirty.h):
 *   wp:  write permission removed in EPT; the first write to a page exits (EPT
 *        violation), is marked and gets its permission back.
 *   pml: the CPU logs the address of each page whose EPT dirty flag it sets into a
 *        512-entry buffer; a full buffer exits and is drained (SDM 29.3.6).
 *   ad:  the CPU sets EPT dirty flags; tern scans them at the round's end.
 * All three need 4 KiB EPT leaves, so arming splits the VM's 2 MiB pages. */
#include "hv/dirty.h"
#include "hv/vm.h"
#include "vmx/ept.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define PML_ENTRIES 512

static void set_proc2(uint32_t bits, bool on)
{
	uint64_t v = vmcs_read(PROC_BASED_CTLS2);

	vmcs_write(PROC_BASED_CTLS2, on ? v | bits : v & ~(uint64_t)bits);
}

/* Each vCPU's VMCS has its own page-modification log (a page of the shadow region) and
 * its own EPT pointer: what arming and disarming set, they set in every one. The VM is
 * held: none of its vCPUs is in the guest. */
int vmx_dirty_arm(struct vm *vm)
{
	struct dirty *d = &vm->dirty;
	int e = ept_split_all(vmx_ept(vm));

	if (e)
		return e;
	if (d->mode == DIRTY_WP) {
		ept_set_write_all(vmx_ept(vm), false);
		vmx_apicv_after_wp(vm);
	} else {
		ept_clear_dirty_all(vmx_ept(vm));
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		vmcs_load(vm->vcpus[i]->priv);
		if (d->mode != DIRTY_WP)
			vmcs_write(EPT_POINTER, ept_pointer(vmx_ept(vm), true));
		if (d->mode == DIRTY_PML) {
			vmcs_write(PML_ADDRESS, d->pml + (uint64_t)i * PAGE_SIZE);
			vmcs_write(GUEST_PML_INDEX, PML_ENTRIES - 1);
			set_proc2(PROC2_PML, true);
		}
	}
	vmx_invept(vm);
	return 0;
}

void vmx_dirty_disarm(struct vm *vm)
{
	if (vm->dirty.mode == DIRTY_WP) {
		ept_set_write_all(vmx_ept(vm), true);
	} else {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			vmcs_load(vm->vcpus[i]->priv);
			set_proc2(PROC2_PML, false);
			vmcs_write(EPT_POINTER, ept_pointer(vmx_ept(vm), false));
		}
	}
	vmx_invept(vm);
}

/* Moves the current VMCS's PML buffer's entries (vCPU index's) into the dirty bitmap
 * and empties it. The index counts down from 511; after a full buffer it has wrapped
 * to 0xffff. */
static void pml_drain(struct vm *vm, unsigned index)
{
	const uint64_t *log =
		(const uint64_t *)(uintptr_t)(vm->dirty.pml + (uint64_t)index * PAGE_SIZE);
	uint64_t idx = vmcs_read(GUEST_PML_INDEX) & 0xffff;
	uint64_t first = idx >= PML_ENTRIES ? 0 : idx + 1;

	/* Entries are guest-physical addresses; Bochs keeps the page offset, so mask it. */
	for (uint64_t i = first; i < PML_ENTRIES; i++)
		dirty_mark(&vm->dirty, log[i] >> 12);
	vmcs_write(GUEST_PML_INDEX, PML_ENTRIES - 1);
}

static void mark(void *ctx, uint64_t pfn)
{
	dirty_mark(ctx, pfn);
}

void vmx_dirty_collect(struct vm *vm)
{
	if (vm->dirty.mode == DIRTY_PML) {
		for (unsigned i = 0; i < vm->nr_vcpus; i++) {
			vmcs_load(vm->vcpus[i]->priv);
			pml_drain(vm, i);
		}
	} else if (vm->dirty.mode == DIRTY_AD) {
		ept_collect_dirty(vmx_ept(vm), mark, &vm->dirty);
	}
}

void vmx_dirty_rearm(struct vm *vm, const uint32_t *pfns, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		gpa_t g = gpa((uint64_t)pfns[i] << 12);
		if (vm->dirty.mode == DIRTY_WP)
			ept_set_write(vmx_ept(vm), g, false);
		else if (vm->dirty.mode == DIRTY_PML)
			ept_test_clear_dirty(vmx_ept(vm), g);
	}
	/* Rights taken away and flags cleared must reach the TLBs (SDM 29.4.3.1). */
	vmx_invept(vm);
}

bool vmx_dirty_write_fault(struct vm *vm, uint64_t g)
{
	if (vm->dirty.mode != DIRTY_WP || ept_set_write(vmx_ept(vm), gpa(g & ~0xfffull), true))
		return false;
	dirty_mark(&vm->dirty, g >> 12);
	vm->dirty.exits++;
	return true;
}

bool vmx_dirty_pml_full(struct vm *vm, unsigned index)
{
	if (vm->dirty.mode != DIRTY_PML)
		return false;
	pml_drain(vm, index);
	vm->dirty.exits++;
	return true;
}
