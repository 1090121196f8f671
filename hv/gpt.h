/* The guest's own page tables: a linear address to a guest-physical one, checked and
 * flagged as the CPU would (SDM Vol. 3A chapter 4), for the accesses tern performs on
 * the guest's behalf (fetching an instruction to emulate, a string I/O buffer). Pure:
 * guest memory is reached through callbacks, so it is tested hosted. */
#ifndef TERN_GPT_H
#define TERN_GPT_H

#include "hv/types.h"

/* What the walk needs of the guest's paging state. */
struct gpt_mode {
	uint64_t cr0, cr3, cr4, efer;
	unsigned cpl;        /* current privilege level, 0..3 */
	bool ac;             /* RFLAGS.AC: explicit supervisor accesses ignore SMAP */
	unsigned maxphyaddr; /* the guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0]), 32..52 */
	/* PAE paging: the four PDPTEs the CPU loaded with CR3 (under EPT, the VMCS's guest
	 * PDPTE fields), or NULL to read them from memory at CR3 */
	const uint64_t *pdpte;
};

/* Guest-physical memory: read or write 1, 2, 4 or 8 bytes, little-endian; false when
 * the address is not in the guest's RAM. */
struct gpt_mem {
	void *ctx;
	bool (*read)(void *ctx, uint64_t gpa, uint64_t *val, unsigned size);
	bool (*write)(void *ctx, uint64_t gpa, uint64_t val, unsigned size);
};

/* access: a data read is 0. The bits are those of the page-fault error code. */
#define GPT_WRITE (1u << 1)
#define GPT_FETCH (1u << 4)
/* a supervisor access the CPU makes on its own (descriptor tables, TSS) at any CPL:
 * never a user access, and SMAP applies to it whatever RFLAGS.AC says (SDM 4.6) */
#define GPT_IMPLICIT (1u << 8)

/* The page-fault error code (SDM 4.7, Figure 4-12). */
#define PFEC_P (1u << 0)    /* 0: no translation (a P flag was 0); 1: access rights */
#define PFEC_W (1u << 1)    /* the access was a write */
#define PFEC_U (1u << 2)    /* the access was a user-mode one */
#define PFEC_RSVD (1u << 3) /* a reserved bit was set in an entry */
#define PFEC_I (1u << 4)    /* an instruction fetch, when SMEP or PAE with NXE is on */

/* Translates lin for the access. Returns
 *   0         *gpa is the address; Accessed flags (and Dirty for a write) are set
 *   -E_FAULT  the CPU would raise #PF(*pf_error) with CR2 = lin; nothing was written
 *   -E_RANGE  a paging-structure entry lies outside the guest's RAM (a read or an A/D
 *             write failed): the guest cannot go on
 *   -E_INVAL  lin is not canonical (4-level paging): the CPU raises #GP or #SS before
 *             any walk, a check for the caller
 *   -E_NOSUP  5-level paging or protection keys, which tern does not walk */
int gpt_walk(const struct gpt_mode *m, const struct gpt_mem *mem, uint64_t lin,
	     unsigned access, uint64_t *gpa, uint32_t *pf_error);

/* A range of guest-physical memory: what a linear range is on each page it touches. */
struct gpt_span {
	uint64_t gpa;
	unsigned len;
};

/* Translates [lin, lin + len) with 0 < len <= PAGE_SIZE: one span, or two when the
 * range crosses a page boundary (linear addresses wrap at 4 GiB outside long mode).
 * Returns the number of spans, or gpt_walk's errors; on -E_FAULT, *fault_lin is the
 * address for CR2 (lin, or the start of the second page). The first page's flags may be
 * set when the second page faults, as a CPU would have. */
int gpt_walk_range(const struct gpt_mode *m, const struct gpt_mem *mem, uint64_t lin,
		   unsigned len, unsigned access, struct gpt_span span[2], uint64_t *fault_lin,
		   uint32_t *pf_error);

#endif
