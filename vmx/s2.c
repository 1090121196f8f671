/* The stage-2 interface over EPT: each VM's tables come from the page allocator (tern's
 * memory is identity mapped) and are built by vmx/ept.c. */
#include "hv/error.h"
#include "hv/pmm.h"
#include "hv/vm.h"
#include "vmx/ept.h"
#include "vmx/vcpu.h"

static uint64_t ept_alloc(void)
{
	return pmm_alloc(1);
}

static void ept_free(uint64_t hpa)
{
	pmm_free(hpa, 1);
}

static void *ept_virt(uint64_t hpa)
{
	return (void *)(uintptr_t)hpa;
}

static const struct ept_ops ops = { ept_alloc, ept_free, ept_virt };

struct ept *vmx_ept(const struct vm *vm)
{
	return vm->s2;
}

int vmx_s2_init(struct vm *vm)
{
	struct ept *e = (void *)(uintptr_t)pmm_alloc(1);

	if (!e)
		return -E_NOMEM;
	if (ept_init(e, &ops)) {
		pmm_free((uintptr_t)e, 1);
		return -E_NOMEM;
	}
	vm->s2 = e;
	return 0;
}

void vmx_s2_destroy(struct vm *vm)
{
	if (!vm->s2)
		return;
	ept_destroy(vm->s2);
	pmm_free((uintptr_t)vm->s2, 1);
	vm->s2 = NULL;
}

int vmx_s2_map(struct vm *vm, gpa_t g, hpa_t h, uint64_t size, unsigned perm)
{
	/* S2_R/W/X are EPT's R/W/X bits */
	return ept_map(vm->s2, g, h, size, perm);
}
