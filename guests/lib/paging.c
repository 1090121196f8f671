/* Identity page tables for long mode, 2 MiB pages (SDM 3A, 4.5):
 *
 *   PML4[0] -> PDPT, PDPT[i] -> pd[i] (1 GiB each), pd[i][j] = 2 MiB page
 *   at (i << 30) | (j << 21)
 *
 * Only as many entries as RAM needs are present: a stray access past RAM faults in
 * the guest instead of reaching tern. Every page is user-accessible, for a guest that
 * runs code at CPL 3 (cpustate); with CR4.SMEP and SMAP off that changes nothing for
 * CPL 0 (SDM 3A, 4.6). */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define PTE_P (1u << 0)
#define PTE_W (1u << 1)
#define PTE_U (1u << 2)
#define PTE_PS (1u << 7) /* in a PD entry: 2 MiB page */
#define PTE_PWU (PTE_P | PTE_W | PTE_U)
#define MAX_GIB 4        /* a 32-bit guest's RAM ends below 4 GiB */
#define ENTRIES 512

typedef uint64_t table_t[ENTRIES] __attribute__((aligned(4096)));

static table_t pml4, pdpt, pd[MAX_GIB];

void enter_long_mode(uint32_t ram_top, uint32_t entry, void *arg)
{
	uint32_t pages = ALIGN_UP(ram_top, 2 * MIB) >> 21;

	for (uint32_t i = 0; i < MAX_GIB; i++)
		pdpt[i] = (uint32_t)pd[i] | PTE_PWU;
	pml4[0] = (uint32_t)pdpt | PTE_PWU;
	for (uint32_t n = 0; n < pages && n < MAX_GIB * ENTRIES; n++)
		pd[n / ENTRIES][n % ENTRIES] = ((uint64_t)n << 21) | PTE_PWU | PTE_PS;
	long_mode_jump((uint32_t)pml4, entry, arg);
}
