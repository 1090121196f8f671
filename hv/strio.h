/* String port I/O (INS, OUTS, with or without REP) carried out for the guest: the CPU's
 * I/O exit says which port, the size, the direction, REP, the address size and the
 * segment, and tern moves the elements between the port and guest memory. */
#ifndef TERN_STRIO_H
#define TERN_STRIO_H

#include "hv/insn.h"

/* The exit's facts (VMX: exit qualification and VM-exit instruction information). */
struct strio {
	uint16_t port;
	uint8_t size;   /* 1, 2 or 4 */
	uint8_t in;     /* INS: port to ES:rDI; else OUTS: seg:rSI to port */
	uint8_t rep;
	uint8_t adsize; /* address size: 2, 4 or 8 */
	uint8_t mode;   /* code size as insn_code_size() gives it: 8 in 64-bit code */
	uint8_t seg;    /* OUTS: SEG_DS or the override (hv/vcpu_state.h); INS uses ES */
};

struct strio_ops {
	void *ctx;
	/* linear to guest-physical with gpt_walk()'s contract (hv/gpt.h) */
	int (*translate)(void *ctx, uint64_t lin, unsigned access, uint64_t *gpa,
			 uint32_t *pf_error);
	/* guest memory, 1 to 4 bytes; false outside the guest's RAM */
	bool (*mem_read)(void *ctx, uint64_t gpa, uint64_t *val, unsigned size);
	bool (*mem_write)(void *ctx, uint64_t gpa, uint64_t val, unsigned size);
	bool (*port_in)(void *ctx, uint16_t port, unsigned size, uint32_t *val);
	bool (*port_out)(void *ctx, uint16_t port, unsigned size, uint32_t val);
};

/* A #PF to inject: CR2 and the error code. */
struct strio_fault {
	uint64_t cr2;
	uint32_t error;
};

/* Moves up to max (>= 1) elements, updating rSI or rDI (by DF) and, under REP, rCX, by
 * the address size's rules (hv/insn.h). seg_base: the bases of ES, CS, SS, DS, FS, GS
 * (in 64-bit code only FS's and GS's count). Segment limits are not checked. An element's memory is translated before its
 * port is touched, so nothing is half-done: an element is moved whole or not at all.
 * Returns
 *   INSN_DONE  the instruction completed (rCX reached 0, or no REP): advance RIP
 *   INSN_MORE  elements remain: re-enter the guest at the same RIP, which executes it
 *              again (interrupts are taken in between, as between iterations)
 *   -E_FAULT   the next element's memory faults: inject #PF *f; the elements before it
 *              are done and counted in the registers
 *   -E_RANGE   the buffer or a page table is outside the guest's RAM
 *   -E_IO      a port callback failed
 *   -E_INVAL, -E_NOSUP  as gpt_walk() returns them (non-canonical, unsupported paging) */
int strio_run(const struct strio *s, struct insn_regs *r, const uint64_t seg_base[6],
	      const struct strio_ops *ops, unsigned max, struct strio_fault *f);

#endif
