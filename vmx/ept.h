/* Extended page tables: one 4-level EPT per VM, mapping its RAM and nothing else.
 * Every change to a VM's EPT goes through these functions (style.md, rule 5); the
 * caller flushes (INVEPT) before the next VM entry. Pure over an allocator, so the
 * builder is tested hosted. */
#ifndef TERN_EPT_H
#define TERN_EPT_H

#include "hv/types.h"

#define EPT_R (1u << 0)
#define EPT_W (1u << 1)
#define EPT_X (1u << 2)
#define EPT_RWX (EPT_R | EPT_W | EPT_X)

#define EPT_PAGE_4K (4 * KIB)
#define EPT_PAGE_2M (2 * MIB)

struct ept_ops {
	uint64_t (*alloc)(void);     /* a zeroed page, or 0 */
	void (*free)(uint64_t hpa);
	void *(*virt)(uint64_t hpa); /* where tern can read and write that page */
};

struct ept {
	uint64_t root;  /* host-physical address of the PML4 */
	const struct ept_ops *ops;
	uint64_t table_pages;
};

int ept_init(struct ept *e, const struct ept_ops *ops);
/* Frees every table page (not the memory the leaves point at). */
void ept_destroy(struct ept *e);
/* Maps [g, g+size) to [h, h+size) with perm (EPT_R/W/X), write-back memory.
 * size is EPT_PAGE_4K or EPT_PAGE_2M, both addresses aligned to it. */
int ept_map(struct ept *e, gpa_t g, hpa_t h, uint64_t size, unsigned perm);
/* Removes the 4 KiB mapping of g (a device page mapped with ept_map); the tables
 * above it stay. */
int ept_unmap_4k(struct ept *e, gpa_t g);
/* Looks a guest-physical address up: its host-physical address and permissions.
 * Returns false when nothing maps it. */
bool ept_translate(const struct ept *e, gpa_t g, hpa_t *h, unsigned *perm);
/* Changes the permissions of the 4 KiB page holding g, splitting a 2 MiB page first. */
int ept_set_perm_4k(struct ept *e, gpa_t g, unsigned perm);
/* Dirty tracking (all act on 4 KiB leaves; call ept_split_all first). */
int ept_split_all(struct ept *e);
/* Takes write permission from every leaf, or gives it back. */
void ept_set_write_all(struct ept *e, bool writable);
/* Gives or takes write permission of the 4 KiB leaf holding g. */
int ept_set_write(struct ept *e, gpa_t g, bool writable);
/* Clears the EPT dirty flag of every leaf. */
void ept_clear_dirty_all(struct ept *e);
/* Clears the dirty flag of the leaf holding g; returns whether it was set. */
bool ept_test_clear_dirty(struct ept *e, gpa_t g);
/* Calls mark(ctx, page number) for every leaf with the dirty flag set, and clears it.
 * Returns the number of such leaves. */
uint64_t ept_collect_dirty(struct ept *e, void (*mark)(void *ctx, uint64_t pfn), void *ctx);

/* The EPT pointer for the VMCS: write-back, 4-level, A/D flags on request (SDM 25.6.11). */
uint64_t ept_pointer(const struct ept *e, bool ad);

#endif
