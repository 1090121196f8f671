/* tern's own page tables: an identity map of physical memory (tern runs where the
 * loader put it, at its physical address, under either loader). */
#ifndef TERN_PAGING_H
#define TERN_PAGING_H

#include "hv/boot.h"

/* Builds and loads the tables. Page 0 stays unmapped so a NULL dereference faults. */
int paging_init(const struct boot_info *bi);

#endif
