/* The instructions a kernel uses on device memory, decoded and emulated: what the core
 * needs when the CPU reports only "guest-physical X was accessed at RIP" (an EPT
 * violation says neither the instruction's length nor its operands).
 *
 * The set: MOV (88-8B, C6, C7, A0-A3), MOVZX/MOVSX (0F B6 B7 BE BF), MOVSXD (63), the
 * eight ALU operations (00-3B, 80 81 83), TEST (84 85, F6 F7 /0), XCHG (86 87), BT BTS
 * BTR BTC (0F A3 AB B3 BB, 0F BA /4-7), MOVS STOS LODS (A4 A5 AA-AD, with REP), with
 * the legacy prefixes and REX, in 16-, 32- and 64-bit code. Anything else is refused:
 * the core ends the VM saying which opcode, rather than guess.
 *
 * The core's sequence:
 *   insn_decode(bytes fetched at CS:RIP)   -> struct insn
 *   insn_mem_refs(insn, regs, seg bases)   -> the linear address of each memory operand
 *   gpt_walk_range() on each               -> guest-physical, or the #PF to inject
 *   insn_emulate(insn, regs, bus, gpas)    -> registers, flags, RIP; device accesses
 * A REP string instruction does one element per insn_emulate() and says INSN_MORE while
 * elements remain: the core repeats the last three steps (its registers moved on) as
 * long as it likes, then re-enters the guest without advancing RIP, as hardware takes
 * interrupts between iterations. */
#ifndef TERN_INSN_H
#define TERN_INSN_H

#include "hv/types.h"
#include "hv/x86.h"

#define INSN_MAX 15 /* longer is #GP (SDM Vol. 2 2.3.11) */


struct insn_regs {
	uint64_t gpr[GPR_COUNT];
	uint64_t rip, rflags;
};

enum insn_op {
	/* the eight ALU operations in the order of their opcode bits 5:3 (and /digit) */
	INSN_ADD, INSN_OR, INSN_ADC, INSN_SBB, INSN_AND, INSN_SUB, INSN_XOR, INSN_CMP,
	INSN_TEST, INSN_MOV, INSN_MOVZX, INSN_MOVSX, INSN_XCHG,
	INSN_BT, INSN_BTS, INSN_BTR, INSN_BTC,
	INSN_MOVS, INSN_STOS, INSN_LODS,
	INSN_OPS
};

/* Where an operand is: the ModR/M r/m operand (memory at ea, or register rm), the
 * register operand reg, or the immediate. String instructions have none of these. */
enum insn_opnd { OPND_NONE, OPND_RM, OPND_REG, OPND_IMM };

/* An effective address: base + index * scale + disp (+ the next RIP if rip_rel),
 * modulo the address size, in segment seg. A moffs is a disp with neither register.
 * For string instructions, the source's (seg:rSI; the destination is always ES:rDI). */
struct insn_ea {
	uint8_t seg;     /* SEG_ES .. SEG_GS (hv/vcpu_state.h): the default or the override */
	int8_t base;     /* GPR_*, or -1 */
	int8_t index;    /* GPR_*, or -1 */
	uint8_t scale;   /* 1, 2, 4 or 8 */
	uint8_t rip_rel;
	int64_t disp;    /* sign-extended */
};

#define INSN_REP 1   /* F3 */
#define INSN_REPNE 2 /* F2: on MOVS, STOS, LODS a plain REP, as CPUs execute it */

struct insn {
	uint8_t len;     /* on a refused opcode, the bytes examined: prefixes, opcode, ModR/M */
	uint8_t bytes[INSN_MAX];
	uint8_t op;      /* enum insn_op */
	uint8_t dst;     /* enum insn_opnd */
	uint8_t src;
	uint8_t mode;    /* code size in bytes: 2, 4, 8 */
	uint8_t opsize;  /* operation (destination) size: 1, 2, 4, 8 */
	uint8_t srcsize; /* the source's size: MOVZX/MOVSX 1, 2 (MOVSXD 4); else opsize */
	uint8_t adsize;  /* address size: 2, 4, 8 */
	uint8_t rep;     /* 0, INSN_REP or INSN_REPNE */
	uint8_t lock;
	uint8_t rex;     /* the REX byte, 0 without one */
	uint8_t reg;     /* ModR/M reg with REX.R; rAX (0) for moffs */
	uint8_t mem;     /* the r/m operand is memory (at ea) */
	uint8_t rm;      /* else the r/m register, with REX.B */
	uint64_t imm;    /* sign-extended to 64 bits */
	struct insn_ea ea;
};

/* The code size, in bytes, of the code a vCPU runs: 2 in real and virtual-8086 mode,
 * 8 in 64-bit mode (EFER.LMA and CS.L), else 4 or 2 by CS.D. cs_attr as in
 * hv/vcpu_state.h. */
unsigned insn_code_size(uint64_t cr0, uint64_t efer, uint64_t rflags, uint16_t cs_attr);

/* Decodes the instruction at code[0..avail) in code of the given size (2, 4, 8).
 * Returns 0; -E_RANGE when it runs past avail (fetch more, or the fetch's #PF is due);
 * -E_NOSUP for an instruction outside the set, or one the CPU would refuse (LOCK where
 * it is #UD, longer than 15 bytes): insn_unsupported() says which. */
int insn_decode(struct insn *in, const uint8_t *code, unsigned avail, unsigned mode);

/* "unsupported opcode 0f 0b at rip 0xffffffff81000000": the message for a refused
 * instruction. Returns the length, as snprintf does. */
int insn_unsupported(const struct insn *in, uint64_t rip, char *buf, size_t size);

/* The effective address (offset in its segment) of the r/m memory operand. */
uint64_t insn_ea_offset(const struct insn *in, const struct insn_regs *r);

/* A memory operand the instruction accesses when executed from these registers. */
struct insn_ref {
	uint64_t lin;    /* linear address */
	uint8_t size;
	uint8_t seg;
	unsigned access; /* GPT_WRITE (hv/gpt.h) when the operand is written, else 0 */
};

/* The memory operands, in the order insn_emulate() takes their guest-physical
 * addresses: none (register forms, a REP with rCX = 0), one, or two for MOVS (the
 * source at seg:rSI, then the destination at ES:rDI). seg_base: the bases of ES, CS,
 * SS, DS, FS, GS; in 64-bit code only FS's and GS's count. BT's register bit offset
 * moves the operand by whole operand-size units, as the CPU does (SDM Vol. 2, BT).
 * Segment limits are not checked. */
unsigned insn_mem_refs(const struct insn *in, const struct insn_regs *r,
		       const uint64_t seg_base[6], struct insn_ref ref[2]);

/* Device (or RAM) access at a guest-physical address: 1, 2, 4 or 8 bytes, little-endian;
 * false on failure. */
struct insn_bus {
	void *ctx;
	bool (*read)(void *ctx, uint64_t gpa, uint64_t *val, unsigned size);
	bool (*write)(void *ctx, uint64_t gpa, uint64_t val, unsigned size);
};

#define INSN_DONE 0 /* the instruction completed: RIP is past it */
#define INSN_MORE 1 /* a REP string instruction did one element; RIP is unchanged */

/* Executes the decoded instruction on r, its memory operands at gpa[] (the order of
 * insn_mem_refs(), computed from the same r): reads and writes through bus, register
 * writes by the x86 rules (32-bit results zero-extend, 8- and 16-bit merge, AH-BH
 * without REX), the arithmetic flags as the SDM defines them (flags it leaves
 * undefined: AF after logic operations is cleared, BT's OF SF AF PF are unchanged).
 * String instructions do one element: rSI/rDI move by the size (back with DF), rCX
 * counts down under REP, each modulo the address size (a 32-bit address register
 * zero-extends, a 16-bit one merges). Returns INSN_DONE, INSN_MORE, or -E_IO when the
 * bus failed, before anything in r changed. */
int insn_emulate(const struct insn *in, struct insn_regs *r, const struct insn_bus *bus,
		 const uint64_t gpa[2]);

#endif
