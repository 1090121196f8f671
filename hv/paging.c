#include "hv/paging.h"
#include "hv/pmm.h"
#include "hv/x86.h"

/* 4-level paging (SDM 4.5):
 *   PML4 [47:39] -> PDPT [38:30] -> PD [29:21] -> 2 MiB page, or PT [20:12] -> 4 KiB */
#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR 0x000ffffffffff000ULL

static uint64_t *table(uint64_t *parent, unsigned idx)
{
	uint64_t page;

	if (parent[idx] & PTE_P)
		return (uint64_t *)(uintptr_t)(parent[idx] & PTE_ADDR);
	page = pmm_alloc(1);
	if (!page)
		return NULL;
	parent[idx] = page | PTE_P | PTE_W;
	return (uint64_t *)(uintptr_t)page;
}

static uint64_t map_top(const struct boot_info *bi)
{
	uint64_t top = 4 * GIB; /* the 32-bit MMIO hole: APIC, IOAPIC, PCI BARs, flash */

	for (uint32_t i = 0; i < bi->nr_mem; i++)
		top = MAX(top, bi->mem[i].base + bi->mem[i].len);
	return ALIGN_UP(top, 2 * MIB);
}

int paging_init(const struct boot_info *bi)
{
	uint64_t top = map_top(bi), pml4_pa = pmm_alloc(1);
	uint64_t *pml4 = (uint64_t *)(uintptr_t)pml4_pa, *pt;

	if (!pml4)
		return -1;
	for (uint64_t a = 0; a < top; a += 2 * MIB) {
		uint64_t *pdpt = table(pml4, (a >> 39) & 511);
		uint64_t *pd = pdpt ? table(pdpt, (a >> 30) & 511) : NULL;
		if (!pd)
			return -1;
		pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS;
	}
	/* The first 2 MiB in 4 KiB pages, without page 0. */
	pt = (uint64_t *)(uintptr_t)pmm_alloc(1);
	if (!pt)
		return -1;
	for (unsigned i = 1; i < 512; i++)
		pt[i] = ((uint64_t)i << 12) | PTE_P | PTE_W;
	table(table(pml4, 0), 0)[0] = (uintptr_t)pt | PTE_P | PTE_W;
	write_cr3(pml4_pa);
	return 0;
}
