/* The switch to long mode: identity page tables over all RAM, then 64-bit code. */
#ifndef GUEST_PAGING_H
#define GUEST_PAGING_H

#include "hv/types.h"

/* Where 64-bit code lives: linked separately at this address (guest64.ld) and carried
 * inside the ELF32 image as a .blob64 section placed here (guest.ld). */
#define BLOB64_BASE 0x200000u

/* Maps [0, ram_top) with 2 MiB pages, enables PAE, EFER.LME and paging, and jumps
 * to entry in 64-bit mode with arg as its first argument (RDI). Never returns. */
__noreturn void enter_long_mode(uint32_t ram_top, uint32_t entry, void *arg);

/* From long.S: loads CR3 and switches; the page tables are already built. */
__noreturn void long_mode_jump(uint32_t pml4, uint32_t entry, void *arg);

#endif
