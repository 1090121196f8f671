/* The physical page allocator: a bitmap over RAM from the boot memory map, one bit per
 * 4 KiB page (1 = in use). The bitmap logic is pure and tested hosted. */
#ifndef TERN_PMM_H
#define TERN_PMM_H

#include "hv/boot.h"
#include "hv/types.h"

struct pmm {
	uint64_t *bits;
	uint64_t npages;     /* pages covered by the bitmap, from address 0 */
	uint64_t free_pages;
	uint64_t total_pages; /* RAM pages tern was given, free or not */
	uint64_t hint;       /* where the next search starts */
};

/* Pure bitmap operations: ranges are in bytes and rounded to whole pages inwards for
 * freeing, outwards for reserving. */
void pmm_setup(struct pmm *p, uint64_t *bits, uint64_t npages);
void pmm_free_range(struct pmm *p, uint64_t base, uint64_t len);
void pmm_reserve_range(struct pmm *p, uint64_t base, uint64_t len);
/* Allocates n contiguous pages aligned to align_pages; returns the physical address or
 * 0 when none is free (page 0 is never handed out). */
uint64_t pmm_alloc_in(struct pmm *p, uint64_t n, uint64_t align_pages);
void pmm_free_in(struct pmm *p, uint64_t addr, uint64_t n);

/* The host's allocator, set up from the boot map. */
int pmm_init(const struct boot_info *bi);
/* Hands firmware boot-time memory to the allocator; only safe once tern's own page
 * tables and stack are in use. */
void pmm_reclaim(const struct boot_info *bi);
uint64_t pmm_alloc(uint64_t npages);  /* zeroed pages, or 0 */
uint64_t pmm_alloc_aligned(uint64_t npages, uint64_t align_pages);
void pmm_free(uint64_t addr, uint64_t npages);

struct pmm_stats {
	uint64_t total, free; /* bytes */
};
struct pmm_stats pmm_stats(void);

#endif
