/* The instruction decoder and emulator. Instruction bytes come from the assembler
 * (each case's text is assembled into this test by gas), and the emulator is checked
 * against the host CPU: the same bytes run natively on the same registers and memory
 * must leave the same registers, flags and memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/insn.h"
#include "hv/vcpu_state.h"
#include "hv/x86.h"
#include "tests/unit/stubs.h"

/* the expectations below override defaults field by field */
#pragma GCC diagnostic ignored "-Woverride-init"

#define STR_(x) #x
#define STR(x) STR_(x)

/* A case's bytes, assembled by gas in 16-, 32- or 64-bit mode: tc_<name> to
 * tc_<name>_end in .rodata. */
#define CASE_ASM(name, bits, text)                                                    \
	asm(".pushsection .rodata\n.code" #bits "\ntc_" #name ":\n" text "\ntc_" #name \
	    "_end:\n.code64\n.popsection\n");                                          \
	extern const uint8_t tc_##name[], tc_##name##_end[];

/* ---- decoding: what each instruction is ---- */

struct dexp {
	uint8_t op, dst, src, opsize, srcsize, adsize, reg, mem, rm, rep, lock, seg, rex;
	int8_t base, index;
	uint8_t scale, rip_rel;
	int64_t disp;
	uint64_t imm;
};

struct dcase {
	const uint8_t *code, *end;
	unsigned mode;
	const char *text;
	struct dexp e;
};

#define D_DEFAULTS .base = -1, .index = -1, .scale = 1, .seg = SEG_DS, .mem = 1
#define RM_REG .dst = OPND_RM, .src = OPND_REG
#define REG_RM .dst = OPND_REG, .src = OPND_RM
#define RM_IMM .dst = OPND_RM, .src = OPND_IMM

#define DECODE_CASES(X)                                                                   \
	/* 16-bit code: the eight ModR/M base/index forms, BP's SS, disp16 */             \
	X(d16_bx_si, 16, "add %ax, (%bx,%si)", .op = INSN_ADD, RM_REG, .opsize = 2,        \
	  .base = GPR_RBX, .index = GPR_RSI)                                              \
	X(d16_bx_di, 16, "add %ax, 0x12(%bx,%di)", .op = INSN_ADD, RM_REG, .opsize = 2,    \
	  .base = GPR_RBX, .index = GPR_RDI, .disp = 0x12)                                \
	X(d16_bp_si, 16, "sub 0x1234(%bp,%si), %cx", .op = INSN_SUB, REG_RM, .opsize = 2,  \
	  .reg = GPR_RCX, .base = GPR_RBP, .index = GPR_RSI, .seg = SEG_SS, .disp = 0x1234) \
	X(d16_bp_di, 16, "cmp %dl, -3(%bp,%di)", .op = INSN_CMP, RM_REG, .opsize = 1,      \
	  .reg = GPR_RDX, .base = GPR_RBP, .index = GPR_RDI, .seg = SEG_SS, .disp = -3)    \
	X(d16_si, 16, "mov %ax, (%si)", .op = INSN_MOV, RM_REG, .opsize = 2,               \
	  .base = GPR_RSI)                                                                \
	X(d16_di, 16, "mov %ax, 0x7f(%di)", .op = INSN_MOV, RM_REG, .opsize = 2,           \
	  .base = GPR_RDI, .disp = 0x7f)                                                  \
	X(d16_bp, 16, "mov %ax, 0x100(%bp)", .op = INSN_MOV, RM_REG, .opsize = 2,          \
	  .base = GPR_RBP, .seg = SEG_SS, .disp = 0x100)                                  \
	X(d16_bx, 16, "mov %ax, (%bx)", .op = INSN_MOV, RM_REG, .opsize = 2,               \
	  .base = GPR_RBX)                                                                \
	X(d16_direct, 16, "add %ax, 0x1234", .op = INSN_ADD, RM_REG, .opsize = 2,          \
	  .disp = 0x1234)                                                                 \
	X(d16_moffs, 16, "mov 0x1234, %ax", .op = INSN_MOV, REG_RM, .opsize = 2,           \
	  .disp = 0x1234)                                                                 \
	X(d16_opsize, 16, "mov %eax, %es:(%bx)", .op = INSN_MOV, RM_REG, .opsize = 4,      \
	  .base = GPR_RBX, .seg = SEG_ES)                                                 \
	X(d16_addr32, 16, "addr32 mov %ax, (%ebx,%ecx,2)", .op = INSN_MOV, RM_REG,         \
	  .opsize = 2, .adsize = 4, .base = GPR_RBX, .index = GPR_RCX, .scale = 2)         \
	X(d16_imm32, 16, "addl $0x12345678, (%bx)", .op = INSN_ADD, RM_IMM, .opsize = 4,   \
	  .base = GPR_RBX, .imm = 0x12345678)                                             \
	X(d16_imm16, 16, "addw $0x1234, (%bx)", .op = INSN_ADD, RM_IMM, .opsize = 2,       \
	  .base = GPR_RBX, .imm = 0x1234)                                                 \
	X(d16_imm8, 16, "addw $-2, (%bx)", .op = INSN_ADD, RM_IMM, .opsize = 2,            \
	  .base = GPR_RBX, .imm = -2ull)                                                   \
	X(d16_rep_movsw, 16, "rep movsw", .op = INSN_MOVS, .opsize = 2, .rep = INSN_REP)   \
	X(d16_rep_stosb, 16, "rep stosb", .op = INSN_STOS, .opsize = 1, .rep = INSN_REP)   \
	X(d16_lods_fs, 16, "lods %fs:(%si), %eax", .op = INSN_LODS, .opsize = 4,           \
	  .seg = SEG_FS)                                                                  \
	X(d16_movzx, 16, "movzbw (%bx), %ax", .op = INSN_MOVZX, REG_RM, .opsize = 2,       \
	  .srcsize = 1, .base = GPR_RBX)                                                  \
	X(d16_movsx, 16, "movswl (%bx), %eax", .op = INSN_MOVSX, REG_RM, .opsize = 4,      \
	  .srcsize = 2, .base = GPR_RBX)                                                  \
	X(d16_bt_imm, 16, "btw $3, (%bx)", .op = INSN_BT, RM_IMM, .opsize = 2,             \
	  .base = GPR_RBX, .imm = 3)                                                      \
	X(d16_lock_bts, 16, "lock btsw %ax, (%bx)", .op = INSN_BTS, RM_REG, .opsize = 2,   \
	  .base = GPR_RBX, .lock = 1)                                                     \
	X(d16_ah, 16, "mov %ah, (%bx)", .op = INSN_MOV, RM_REG, .opsize = 1, .reg = 4,     \
	  .base = GPR_RBX)                                                                \
	/* 32-bit code: SIB, ESP/EBP's SS, disp32 without a base, moffs32 */             \
	X(d32_esp, 32, "mov %eax, (%esp)", .op = INSN_MOV, RM_REG, .opsize = 4,            \
	  .base = GPR_RSP, .seg = SEG_SS)                                                 \
	X(d32_ebp, 32, "mov %eax, 8(%ebp)", .op = INSN_MOV, RM_REG, .opsize = 4,           \
	  .base = GPR_RBP, .seg = SEG_SS, .disp = 8)                                      \
	X(d32_moffs, 32, "mov %eax, 0x12345678", .op = INSN_MOV, RM_REG, .opsize = 4,      \
	  .disp = 0x12345678)                                                             \
	X(d32_abs, 32, "mov %ecx, 0x12345678", .op = INSN_MOV, RM_REG, .opsize = 4,        \
	  .reg = GPR_RCX, .disp = 0x12345678)                                             \
	X(d32_nobase, 32, "mov %ecx, 0x10(,%esi,8)", .op = INSN_MOV, RM_REG, .opsize = 4,  \
	  .reg = GPR_RCX, .index = GPR_RSI, .scale = 8, .disp = 0x10)                     \
	X(d32_sib, 32, "add 0x7f(%eax,%edx,4), %edi", .op = INSN_ADD, REG_RM, .opsize = 4, \
	  .reg = GPR_RDI, .base = GPR_RAX, .index = GPR_RDX, .scale = 4, .disp = 0x7f)     \
	X(d32_xchg, 32, "xchg %ecx, -0x80(%esi)", .op = INSN_XCHG, RM_REG, .opsize = 4,    \
	  .reg = GPR_RCX, .base = GPR_RSI, .disp = -0x80)                                 \
	X(d32_test, 32, "test %bl, 0x11223344(%ebx)", .op = INSN_TEST, RM_REG,             \
	  .opsize = 1, .reg = GPR_RBX, .base = GPR_RBX, .disp = 0x11223344)                \
	X(d32_testimm, 32, "testl $0xdeadbeef, (%ecx)", .op = INSN_TEST, RM_IMM,           \
	  .opsize = 4, .base = GPR_RCX, .imm = 0xffffffffdeadbeefull)                      \
	X(d32_addr16, 32, "addr16 mov %eax, (%bp,%si)", .op = INSN_MOV, RM_REG,            \
	  .opsize = 4, .adsize = 2, .base = GPR_RBP, .index = GPR_RSI, .seg = SEG_SS)      \
	X(d32_moffs_gs, 32, "mov %gs:0x10, %al", .op = INSN_MOV, REG_RM, .opsize = 1,      \
	  .seg = SEG_GS, .disp = 0x10)                                                    \
	X(d32_movimm, 32, "movb $0x80, %ss:(%eax)", .op = INSN_MOV, RM_IMM, .opsize = 1,   \
	  .base = GPR_RAX, .seg = SEG_SS, .imm = -0x80ull)                                \
	X(d32_orw, 32, "orw $0x8000, (%eax)", .op = INSN_OR, RM_IMM, .opsize = 2,          \
	  .base = GPR_RAX, .imm = 0xffffffffffff8000ull)                                   \
	X(d32_lockxor, 32, "lock xorl $1, (%eax)", .op = INSN_XOR, RM_IMM, .opsize = 4,    \
	  .base = GPR_RAX, .imm = 1, .lock = 1)                                            \
	X(d32_repne, 32, "repne movsb", .op = INSN_MOVS, .opsize = 1, .rep = INSN_REPNE)   \
	X(d32_btc, 32, "btcl %edx, (%eax)", .op = INSN_BTC, RM_REG, .opsize = 4,           \
	  .reg = GPR_RDX, .base = GPR_RAX)                                                \
	/* 64-bit code: RIP-relative, REX.R/X/B/W, moffs64 */                             \
	X(d64_rip, 64, "mov %eax, 0x12345678(%rip)", .op = INSN_MOV, RM_REG, .opsize = 4,  \
	  .rip_rel = 1, .disp = 0x12345678)                                               \
	X(d64_eip, 64, "addr32 mov %eax, 0x10(%eip)", .op = INSN_MOV, RM_REG, .opsize = 4, \
	  .adsize = 4, .rip_rel = 1, .disp = 0x10)                                        \
	X(d64_r12, 64, "mov %r8d, (%r12)", .op = INSN_MOV, RM_REG, .opsize = 4, .reg = 8,  \
	  .base = 12, .rex = 0x45)                                                         \
	X(d64_r13, 64, "mov %r9, 8(%r13)", .op = INSN_MOV, RM_REG, .opsize = 8, .reg = 9,  \
	  .base = 13, .disp = 8, .rex = 0x4d)                                              \
	X(d64_rexx, 64, "add %r10w, (%r11,%r14,4)", .op = INSN_ADD, RM_REG, .opsize = 2,   \
	  .reg = 10, .base = 11, .index = 14, .scale = 4, .rex = 0x47)                     \
	X(d64_idx12, 64, "mov 0x12(,%r12,2), %eax", .op = INSN_MOV, REG_RM, .opsize = 4,   \
	  .index = 12, .scale = 2, .disp = 0x12, .rex = 0x42)                              \
	X(d64_moffs8, 64, "movabs %al, 0x1122334455667788", .op = INSN_MOV, RM_REG,         \
	  .opsize = 1, .disp = 0x1122334455667788)                                        \
	X(d64_moffsq, 64, "movabs 0x8000000000000000, %rax", .op = INSN_MOV, REG_RM,        \
	  .opsize = 8, .disp = INT64_MIN, .rex = 0x48)                                     \
	/* mov eax, [0x12345678] with a 4-byte moffs (67 a1) */                           \
	X(d64_moffs4, 64, ".byte 0x67, 0xa1, 0x78, 0x56, 0x34, 0x12", .op = INSN_MOV,       \
	  REG_RM, .opsize = 4, .adsize = 4, .disp = 0x12345678)                            \
	X(d64_sil, 64, "mov %sil, (%rdi)", .op = INSN_MOV, RM_REG, .opsize = 1,            \
	  .reg = GPR_RSI, .base = GPR_RDI, .rex = 0x40)                                    \
	X(d64_movq, 64, "movq $-1, (%rax)", .op = INSN_MOV, RM_IMM, .opsize = 8,           \
	  .base = GPR_RAX, .imm = -1ull, .rex = 0x48)                                      \
	X(d64_movsxd, 64, "movslq (%rdx), %rcx", .op = INSN_MOVSX, REG_RM, .opsize = 8,    \
	  .srcsize = 4, .reg = GPR_RCX, .base = GPR_RDX, .rex = 0x48)                       \
	X(d64_movsxd32, 64, "movsxd (%rdx), %ecx", .op = INSN_MOVSX, REG_RM, .opsize = 4,  \
	  .srcsize = 4, .reg = GPR_RCX, .base = GPR_RDX)                                   \
	X(d64_movsxd16, 64, ".byte 0x66, 0x63, 0x0b", .op = INSN_MOVSX, REG_RM,           \
	  .opsize = 2, .srcsize = 2, .reg = GPR_RCX, .base = GPR_RBX)                      \
	X(d64_movzx_ah, 64, "movzbl %ah, %ecx", .op = INSN_MOVZX, REG_RM, .opsize = 4,     \
	  .srcsize = 1, .reg = GPR_RCX, .mem = 0, .rm = 4)                                 \
	X(d64_bt_fs, 64, "btq $63, %fs:(%rbx)", .op = INSN_BT, RM_IMM, .opsize = 8,        \
	  .base = GPR_RBX, .seg = SEG_FS, .imm = 63, .rex = 0x48)                          \
	X(d64_lock_btr, 64, "lock btrq %rcx, 0x10(%rbx)", .op = INSN_BTR, RM_REG,          \
	  .opsize = 8, .reg = GPR_RCX, .base = GPR_RBX, .disp = 0x10, .lock = 1,           \
	  .rex = 0x48)                                                                    \
	X(d64_rep_stosq, 64, "rep stosq", .op = INSN_STOS, .opsize = 8, .rep = INSN_REP,   \
	  .rex = 0x48)                                                                    \
	X(d64_addr32_movs, 64, "addr32 rep movsb", .op = INSN_MOVS, .opsize = 1,           \
	  .adsize = 4, .rep = INSN_REP)                                                   \
	X(d64_movs_gs, 64, "movsb %gs:(%rsi), %es:(%rdi)", .op = INSN_MOVS, .opsize = 1,   \
	  .seg = SEG_GS)                                                                  \
	X(d64_r15b_rsp, 64, "xchg %r15b, (%rsp)", .op = INSN_XCHG, RM_REG, .opsize = 1,    \
	  .reg = 15, .base = GPR_RSP, .seg = SEG_SS, .rex = 0x44)                          \
	X(d64_cmpw, 64, "cmpw $0x7fff, 0x20(%rbp)", .op = INSN_CMP, RM_IMM, .opsize = 2,   \
	  .base = GPR_RBP, .seg = SEG_SS, .disp = 0x20, .imm = 0x7fff)                     \
	X(d64_ds_rbp, 64, "mov %ecx, %ds:(%rbp)", .op = INSN_MOV, RM_REG, .opsize = 4,     \
	  .reg = GPR_RCX, .base = GPR_RBP)                                                 \
	X(d64_sbb, 64, "sbb (%rbx), %al", .op = INSN_SBB, REG_RM, .opsize = 1,             \
	  .base = GPR_RBX)                                                                \
	X(d64_adc_bh, 64, "adc %bh, (%rbx)", .op = INSN_ADC, RM_REG, .opsize = 1,          \
	  .reg = 7, .base = GPR_RBX)                                                      \
	X(d64_lock_addq, 64, "lock addq $0x7fffffff, (%rbx)", .op = INSN_ADD, RM_IMM,      \
	  .opsize = 8, .base = GPR_RBX, .imm = 0x7fffffff, .lock = 1, .rex = 0x48)

#define EMIT_ASM(name, bits, text, ...) CASE_ASM(name, bits, text)
#define EMIT_DCASE(name, bits, text, ...) \
	{ tc_##name, tc_##name##_end, bits / 8, text, { D_DEFAULTS, __VA_ARGS__ } },

DECODE_CASES(EMIT_ASM)
static const struct dcase dcases[] = { DECODE_CASES(EMIT_DCASE) };

static void check_decoded(const struct dcase *c, const struct insn *in)
{
	const struct dexp *e = &c->e;
	unsigned adsize = e->adsize ? e->adsize : c->mode;

	if (in->op != e->op || in->opsize != e->opsize || in->adsize != adsize ||
	    in->srcsize != (e->srcsize ? e->srcsize : e->opsize) || in->mem != e->mem ||
	    in->rep != e->rep || in->lock != e->lock || in->ea.seg != e->seg ||
	    in->rex != e->rex) {
		fail_msg("%s: op %u opsize %u srcsize %u adsize %u mem %u rep %u lock %u seg %u "
			 "rex %#x", c->text, in->op, in->opsize, in->srcsize, in->adsize,
			 in->mem, in->rep, in->lock, in->ea.seg, in->rex);
	}
	if (e->op < INSN_MOVS && (in->dst != e->dst || in->src != e->src ||
				  ((e->dst == OPND_REG || e->src == OPND_REG) &&
				   in->reg != e->reg)))
		fail_msg("%s: dst %u src %u reg %u", c->text, in->dst, in->src, in->reg);
	if (e->mem && e->op < INSN_MOVS &&
	    (in->ea.base != e->base || in->ea.index != e->index || in->ea.scale != e->scale ||
	     in->ea.rip_rel != e->rip_rel || in->ea.disp != e->disp))
		fail_msg("%s: base %d index %d scale %u rip %u disp %#llx", c->text, in->ea.base,
			 in->ea.index, in->ea.scale, in->ea.rip_rel, (long long)in->ea.disp);
	if (!e->mem && in->rm != e->rm)
		fail_msg("%s: rm %u", c->text, in->rm);
	if (e->src == OPND_IMM && in->imm != e->imm)
		fail_msg("%s: imm %#llx", c->text, (unsigned long long)in->imm);
}

/* Every case decodes to what it is, with the assembler's length; cut short anywhere,
 * it asks for more bytes. */
static void test_decode_table(void **state)
{
	unsigned i, n;

	for (i = 0; i < ARRAY_SIZE(dcases); i++) {
		const struct dcase *c = &dcases[i];
		unsigned len = c->end - c->code;
		uint8_t buf[INSN_MAX + 4];
		struct insn in;

		memset(buf, 0x90, sizeof(buf));
		memcpy(buf, c->code, len);
		if (insn_decode(&in, buf, sizeof(buf), c->mode))
			fail_msg("%s: refused", c->text);
		if (in.len != len)
			fail_msg("%s: length %u, the assembler's %u", c->text, in.len, len);
		assert_memory_equal(in.bytes, c->code, len);
		check_decoded(c, &in);
		for (n = 0; n < len; n++)
			if (insn_decode(&in, c->code, n, c->mode) != -E_RANGE)
				fail_msg("%s: %u of %u bytes not -E_RANGE", c->text, n, len);
	}
}

/* The legacy prefixes in every combination and order; REX only right before the
 * opcode. The last of a group wins (the SDM leaves repeats unpredictable). */
static void check_prefixes(unsigned mode, unsigned set, const uint8_t *order, bool rexw)
{
	static const uint8_t base[] = { 0x01, 0x0b }; /* add r/m, reg: [rbx] / [bp+di] */
	uint8_t code[INSN_MAX];
	unsigned n = 0, i, seg = SEG_DS, rep = 0, len;
	bool opsz = false, adsz = false, lock = false, seg_seen = false;
	struct insn in;

	for (i = 0; i < 11; i++) {
		uint8_t b = order[i];

		if (!(set & (1u << i)))
			continue;
		code[n++] = b;
		opsz |= b == 0x66;
		adsz |= b == 0x67;
		lock |= b == 0xf0;
		rep = b == 0xf3 ? INSN_REP : b == 0xf2 ? INSN_REPNE : rep;
		seg = b == 0x26 ? SEG_ES : b == 0x2e ? SEG_CS : b == 0x36 ? SEG_SS :
		      b == 0x3e ? SEG_DS : b == 0x64 ? SEG_FS : b == 0x65 ? SEG_GS : seg;
		seg_seen |= (b & 0xe7) == 0x26 || (b & 0xfe) == 0x64;
	}
	if (rexw)
		code[n++] = 0x48;
	memcpy(code + n, base, sizeof(base));
	len = n + sizeof(base);
	assert_int_equal(insn_decode(&in, code, len, mode), 0);
	assert_int_equal(in.len, len);
	assert_int_equal(in.op, INSN_ADD);
	if (mode == 8)
		assert_int_equal(in.opsize, rexw ? 8 : opsz ? 2 : 4);
	else
		assert_int_equal(in.opsize, (mode == 2) != opsz ? 2 : 4);
	if (mode == 8)
		assert_int_equal(in.adsize, adsz ? 4 : 8);
	else
		assert_int_equal(in.adsize, (mode == 2) != adsz ? 2 : 4);
	assert_int_equal(in.lock, lock);
	assert_int_equal(in.rep, rep);
	/* without an override, [bp+di] in 16-bit addressing is SS's */
	if (!seg_seen && in.adsize == 2)
		seg = SEG_SS;
	assert_int_equal(in.ea.seg, seg);
}

static void test_prefix_combinations(void **state)
{
	uint8_t order[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65 };
	unsigned set, k, modes[] = { 2, 4, 8 };
	struct insn in;

	srand(1);
	for (k = 0; k < 3; k++) {
		for (set = 0; set < (1u << 11); set++) {
			unsigned i, j;

			check_prefixes(modes[k], set, order, false);
			if (modes[k] == 8)
				check_prefixes(8, set, order, true);
			/* another order: a shuffle moves which one is last in a group */
			for (i = 10; i > 0; i--) {
				uint8_t t;

				j = rand() % (i + 1);
				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		}
	}
	/* a REX followed by a legacy prefix is ignored */
	assert_int_equal(insn_decode(&in, (const uint8_t[]){ 0x48, 0x66, 0x01, 0x0b }, 4, 8),
			 0);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.rex, 0);
	/* the last REX counts */
	assert_int_equal(insn_decode(&in, (const uint8_t[]){ 0x41, 0x48, 0x01, 0x0b }, 4, 8),
			 0);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.ea.base, GPR_RBX);
}

/* ---- refused instructions ---- */

#define UNSUP_CASES(X)                                                               \
	X(u_ud2, 64, "ud2")                                                          \
	X(u_inc, 64, "incl (%rax)")                                                  \
	X(u_neg, 64, "negl (%rax)")                                                  \
	X(u_f6_1, 64, ".byte 0xf6, 0x08, 0x01") /* TEST's undocumented /1 alias */   \
	X(u_cmpxchg, 64, "cmpxchg %ecx, (%rbx)")                                     \
	X(u_xadd, 64, "lock xadd %ecx, (%rbx)")                                      \
	X(u_lock_mov, 64, ".byte 0xf0, 0x89, 0x03") /* LOCK on MOV is #UD */         \
	X(u_lock_cmp, 64, ".byte 0xf0, 0x39, 0x03")                                  \
	X(u_lock_bt, 64, ".byte 0xf0, 0x0f, 0xa3, 0x03")                             \
	X(u_lock_reg, 64, ".byte 0xf0, 0x01, 0xc3") /* no memory operand */          \
	X(u_lock_load, 64, ".byte 0xf0, 0x03, 0x03") /* the destination is a register */ \
	X(u_sse, 64, "movq %xmm0, (%rax)")                                           \
	X(u_avx, 64, "vmovdqu %ymm0, (%rax)")                                        \
	X(u_movnti, 64, "movnti %eax, (%rbx)")                                       \
	X(u_popcnt, 64, "popcnt (%rax), %ecx")                                       \
	X(u_mov_sreg, 64, "mov %ds, (%rax)")                                         \
	X(u_cmps, 64, "cmpsb")                                                       \
	X(u_scas, 64, "repne scasb")                                                 \
	X(u_ins, 64, "insb")                                                         \
	X(u_xbegin, 64, ".byte 0xc7, 0xf8, 0, 0, 0, 0")                              \
	X(u_arpl, 32, "arpl %ax, (%ebx)") /* 63 outside 64-bit mode */               \
	X(u_inc32, 32, "inc %eax")        /* 40: a REX only in 64-bit mode */        \
	X(u_82, 32, ".byte 0x82, 0x00, 0x01")

struct ucase {
	const uint8_t *code, *end;
	unsigned mode;
	const char *text;
};

#define EMIT_UASM(name, bits, text) CASE_ASM(name, bits, text)
#define EMIT_UCASE(name, bits, text) { tc_##name, tc_##name##_end, bits / 8, text },

UNSUP_CASES(EMIT_UASM)
static const struct ucase ucases[] = { UNSUP_CASES(EMIT_UCASE) };

static void test_unsupported(void **state)
{
	uint8_t code[INSN_MAX + 1];
	struct insn in;
	char msg[120];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(ucases); i++) {
		const struct ucase *c = &ucases[i];

		if (insn_decode(&in, c->code, c->end - c->code, c->mode) != -E_NOSUP)
			fail_msg("%s: not refused", c->text);
	}
	/* the message names the bytes up to the opcode (and ModR/M for a group) */
	assert_int_equal(insn_decode(&in, tc_u_ud2, 2, 8), -E_NOSUP);
	insn_unsupported(&in, 0xffffffff81000000ull, msg, sizeof(msg));
	assert_string_equal(msg, "unsupported opcode 0f 0b at rip 0xffffffff81000000");
	assert_int_equal(insn_decode(&in, tc_u_sse, tc_u_sse_end - tc_u_sse, 8), -E_NOSUP);
	insn_unsupported(&in, 0x1000, msg, sizeof(msg));
	assert_string_equal(msg, "unsupported opcode 66 0f d6 at rip 0x1000");
	assert_int_equal(insn_decode(&in, tc_u_neg, tc_u_neg_end - tc_u_neg, 8), -E_NOSUP);
	insn_unsupported(&in, 0x1000, msg, sizeof(msg));
	assert_string_equal(msg, "unsupported opcode f7 18 at rip 0x1000");
	/* longer than 15 bytes: #GP on a CPU, refused here */
	memset(code, 0x66, sizeof(code));
	code[14] = 0x89;
	code[15] = 0x03;
	assert_int_equal(insn_decode(&in, code, sizeof(code), 8), -E_NOSUP);
	assert_int_equal(in.len, 15);
	code[13] = 0x89;
	code[14] = 0x03;
	assert_int_equal(insn_decode(&in, code, sizeof(code), 8), 0);
	assert_int_equal(in.len, 15);
}

/* ---- effective and linear addresses ---- */

static const uint64_t no_bases[6];

static void test_ea_16bit(void **state)
{
	uint64_t bases[6] = { [SEG_SS] = 0x20000, [SEG_DS] = 0x30000, [SEG_ES] = 0x40000 };
	struct insn_regs r = { .rip = 0x100 };
	struct insn_ref ref[2];
	struct insn in;

	/* sub 0x1234(%bp,%si), %cx: wraps at 64 KiB, in SS */
	r.gpr[GPR_RBP] = 0x1234fff0;
	r.gpr[GPR_RSI] = 0x30;
	assert_int_equal(insn_decode(&in, tc_d16_bp_si, 4, 2), 0);
	assert_int_equal(insn_ea_offset(&in, &r), (0xfff0 + 0x30 + 0x1234) & 0xffff);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x20000 + 0x1254);
	assert_int_equal(ref[0].seg, SEG_SS);
	assert_int_equal(ref[0].size, 2);
	assert_int_equal(ref[0].access, 0); /* SUB r, r/m only reads memory */
	/* cmp %dl, -3(%bp,%di): a negative disp8 */
	r.gpr[GPR_RBP] = 0x2;
	r.gpr[GPR_RDI] = 0;
	assert_int_equal(insn_decode(&in, tc_d16_bp_di, 3, 2), 0);
	assert_int_equal(insn_ea_offset(&in, &r), 0xffff);
	/* add %ax, 0x1234: no register */
	assert_int_equal(insn_decode(&in, tc_d16_direct, 4, 2), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x31234);
	assert_int_equal(ref[0].access, GPT_WRITE);
	/* rep movsw with SI, DI: 16 bits of each, DS and ES */
	r.gpr[GPR_RSI] = 0xabcd0010;
	r.gpr[GPR_RDI] = 0x1230020;
	r.gpr[GPR_RCX] = 0x10000; /* CX = 0: nothing to do */
	assert_int_equal(insn_decode(&in, tc_d16_rep_movsw, 2, 2), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 0);
	r.gpr[GPR_RCX] = 0x10003;
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 2);
	assert_int_equal(ref[0].lin, 0x30010);
	assert_int_equal(ref[0].access, 0);
	assert_int_equal(ref[1].lin, 0x40020);
	assert_int_equal(ref[1].seg, SEG_ES);
	assert_int_equal(ref[1].access, GPT_WRITE);
}

static void test_ea_32bit(void **state)
{
	uint64_t bases[6] = { [SEG_DS] = 0xfffff000, [SEG_SS] = 0x10000, [SEG_GS] = 0x500 };
	struct insn_regs r = { 0 };
	struct insn_ref ref[2];
	struct insn in;

	/* add 0x7f(%eax,%edx,4), %edi: the offset wraps at 4 GiB, and DS's base too */
	r.gpr[GPR_RAX] = 0xfffffff0;
	r.gpr[GPR_RDX] = 0x400;
	assert_int_equal(insn_decode(&in, tc_d32_sib, 4, 4), 0);
	assert_int_equal(insn_ea_offset(&in, &r), (0xfffffff0 + 0x1000 + 0x7f) & 0xffffffff);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, (0xfffff000ull + 0x106f) & 0xffffffff);
	/* mov %eax, 8(%ebp): SS */
	r.gpr[GPR_RBP] = 0x100;
	assert_int_equal(insn_decode(&in, tc_d32_ebp, 3, 4), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x10108);
	/* mov %gs:0x10, %al */
	assert_int_equal(insn_decode(&in, tc_d32_moffs_gs, 6, 4), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x510);
	assert_int_equal(ref[0].size, 1);
	/* addr16 mov %eax, (%bp,%si) in 32-bit code */
	r.gpr[GPR_RBP] = 0xffff;
	r.gpr[GPR_RSI] = 2;
	assert_int_equal(insn_decode(&in, tc_d32_addr16, 3, 4), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x10001);
}

static void test_ea_64bit(void **state)
{
	uint64_t bases[6] = { [SEG_DS] = 0x1000, [SEG_SS] = 0x2000, [SEG_FS] = 0x7f0000000000ull,
			      [SEG_GS] = 0xffff888000000000ull };
	struct insn_regs r = { .rip = 0xffffffff81000000ull };
	struct insn_ref ref[2];
	struct insn in;

	/* RIP-relative: from the next instruction; DS's base does not count */
	assert_int_equal(insn_decode(&in, tc_d64_rip, 6, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0xffffffff81000006ull + 0x12345678);
	/* addr32 with EIP: the sum wraps at 32 bits */
	r.rip = 0xfffffff0;
	assert_int_equal(insn_decode(&in, tc_d64_eip, 7, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, (0xfffffff0ull + 7 + 0x10) & 0xffffffff);
	/* FS's base counts; SS's does not */
	r.gpr[GPR_RBX] = 0x10;
	assert_int_equal(insn_decode(&in, tc_d64_bt_fs, 6, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x7f0000000010ull);
	assert_int_equal(ref[0].access, 0); /* BT reads */
	r.gpr[GPR_RBP] = 0x100;
	assert_int_equal(insn_decode(&in, tc_d64_cmpw, 6, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x120);
	/* movsb %gs:(%rsi), %es:(%rdi): GS for the source; ES's base does not count */
	r.gpr[GPR_RSI] = 0x40;
	r.gpr[GPR_RDI] = 0x80;
	assert_int_equal(insn_decode(&in, tc_d64_movs_gs, 2, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 2);
	assert_int_equal(ref[0].lin, 0xffff888000000040ull);
	assert_int_equal(ref[1].lin, 0x80);
	/* moffs64 */
	assert_int_equal(insn_decode(&in, tc_d64_moffs8, 9, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, bases, ref), 1);
	assert_int_equal(ref[0].lin, 0x1122334455667788ull);
	assert_int_equal(ref[0].access, GPT_WRITE);
	/* a register operand has no memory reference */
	assert_int_equal(insn_decode(&in, tc_d64_movzx_ah, 3, 8), 0);
	assert_int_equal(insn_mem_refs(&in, &r, no_bases, ref), 0);
}

/* BT with a register offset reaches memory outside the operand: signed, in whole
 * operand-size units (SDM Vol. 2, BT: "bit string" addressing). */
static void test_bt_displacement(void **state)
{
	/* bt %cx, (%rbx); bt %ecx, (%rbx); bt %rcx, (%rbx); btl $35, (%rbx) */
	static const uint8_t btw[] = { 0x66, 0x0f, 0xa3, 0x0b }, btl[] = { 0x0f, 0xa3, 0x0b },
			     btq[] = { 0x48, 0x0f, 0xa3, 0x0b }, bti[] = { 0x0f, 0xba, 0x23, 35 };
	struct insn_regs r = { .gpr[GPR_RBX] = 0x10000 };
	struct insn_ref ref[2];
	struct insn in;

	assert_int_equal(insn_decode(&in, btl, sizeof(btl), 8), 0);
	r.gpr[GPR_RCX] = 0xffffffff; /* -1: the dword before */
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10000 - 4);
	r.gpr[GPR_RCX] = 0x1234500000020ull; /* 32: the next dword; upper bits ignored */
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10004);
	r.gpr[GPR_RCX] = 0x80000000; /* -2^31 bits: 256 MiB back */
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10000 - 0x10000000ull);
	assert_int_equal(insn_decode(&in, btw, sizeof(btw), 8), 0);
	r.gpr[GPR_RCX] = 0x8000; /* -32768 bits */
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10000 - 4096);
	assert_int_equal(ref[0].size, 2);
	assert_int_equal(insn_decode(&in, btq, sizeof(btq), 8), 0);
	r.gpr[GPR_RCX] = 64 * 3 + 5;
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10000 + 24);
	/* an immediate offset stays in the operand */
	assert_int_equal(insn_decode(&in, bti, sizeof(bti), 8), 0);
	insn_mem_refs(&in, &r, no_bases, ref);
	assert_int_equal(ref[0].lin, 0x10000);
	assert_int_equal(ref[0].size, 4);
}

static void test_code_size(void **state)
{
	assert_int_equal(insn_code_size(0, 0, 0, SEG_DB), 2); /* real mode */
	assert_int_equal(insn_code_size(CR0_PE, 0, RFLAGS_VM, SEG_DB), 2);
	assert_int_equal(insn_code_size(CR0_PE, 0, 0, 0), 2);
	assert_int_equal(insn_code_size(CR0_PE, 0, 0, SEG_DB), 4);
	assert_int_equal(insn_code_size(CR0_PE | CR0_PG, EFER_LMA, 0, SEG_DB), 4); /* compat */
	assert_int_equal(insn_code_size(CR0_PE | CR0_PG, EFER_LMA, 0, SEG_L), 8);
	assert_int_equal(insn_code_size(CR0_PE, 0, 0, SEG_L), 2); /* L without LMA */
}

/* ---- emulation against the host CPU ---- */

/* Runs code (ending in RET) with every register but RSP from r, and RFLAGS, then stores
 * them back: the oracle. r is struct insn_regs: gpr[] at 0, rip at 0x80, rflags 0x88. */
void native_exec(struct insn_regs *r, const void *code);
asm(".text\n"
    ".globl native_exec\n"
    ".hidden native_exec\n"
    "native_exec:\n"
    "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "mov %rdi, native_regs(%rip)\n"
    "mov %rsi, native_code(%rip)\n"
    "pushq 0x88(%rdi)\n"
    "popfq\n"
    "mov 0x00(%rdi), %rax\n mov 0x08(%rdi), %rcx\n mov 0x10(%rdi), %rdx\n"
    "mov 0x18(%rdi), %rbx\n mov 0x28(%rdi), %rbp\n mov 0x30(%rdi), %rsi\n"
    "mov 0x40(%rdi), %r8\n mov 0x48(%rdi), %r9\n mov 0x50(%rdi), %r10\n"
    "mov 0x58(%rdi), %r11\n mov 0x60(%rdi), %r12\n mov 0x68(%rdi), %r13\n"
    "mov 0x70(%rdi), %r14\n mov 0x78(%rdi), %r15\n mov 0x38(%rdi), %rdi\n"
    "call *native_code(%rip)\n"
    "pushfq\n"
    "push %rdi\n"
    "mov native_regs(%rip), %rdi\n"
    "mov %rax, 0x00(%rdi)\n mov %rcx, 0x08(%rdi)\n mov %rdx, 0x10(%rdi)\n"
    "mov %rbx, 0x18(%rdi)\n mov %rbp, 0x28(%rdi)\n mov %rsi, 0x30(%rdi)\n"
    "mov %r8, 0x40(%rdi)\n mov %r9, 0x48(%rdi)\n mov %r10, 0x50(%rdi)\n"
    "mov %r11, 0x58(%rdi)\n mov %r12, 0x60(%rdi)\n mov %r13, 0x68(%rdi)\n"
    "mov %r14, 0x70(%rdi)\n mov %r15, 0x78(%rdi)\n"
    "popq 0x38(%rdi)\n"
    "popq 0x88(%rdi)\n"
    "cld\n"
    "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "ret\n"
    ".data\n"
    ".p2align 3\n"
    "native_regs: .quad 0\n"
    "native_code: .quad 0\n"
    ".text\n");

/* The test's memory, at a fixed address below 4 GiB so 32-bit addressing reaches it:
 * the instruction at MAP_BASE, data in the three pages after it, DATA in their middle. */
#define MAP_BASE 0x20000000
#define MAP_SIZE (4 * PAGE_SIZE)
#define DATA 0x20002000
#define DATA_LO (MAP_BASE + PAGE_SIZE)
#define DATA_HI (MAP_BASE + MAP_SIZE)

enum kind {
	K_PLAIN,  /* rbx = r12 = r13 = DATA, rsi = 3, rdi = 5 */
	K_BIT,    /* and rcx a small signed bit offset */
	K_FS,     /* rbx = DATA - FS's base */
	K_STR,    /* rsi, rdi in the data, rcx 0..16 */
	K_STR32,  /* the same with junk in the upper halves of rsi, rdi, rcx */
	K_FSSTR,  /* rsi relative to FS's base */
};

#define ALU_FORMS(X, op)                                          \
	X(e_##op##_mb, K_PLAIN, #op " %cl, (%rbx)")               \
	X(e_##op##_mw, K_PLAIN, #op " %cx, (%rbx)")               \
	X(e_##op##_ml, K_PLAIN, #op " %ecx, (%rbx)")              \
	X(e_##op##_mq, K_PLAIN, #op " %rcx, (%rbx)")              \
	X(e_##op##_mah, K_PLAIN, #op " %ah, (%rbx)")              \
	X(e_##op##_rb, K_PLAIN, #op " (%rbx), %dh")               \
	X(e_##op##_rw, K_PLAIN, #op " (%rbx), %r9w")              \
	X(e_##op##_rl, K_PLAIN, #op " (%rbx), %edx")              \
	X(e_##op##_rq, K_PLAIN, #op " (%rbx), %r10")              \
	X(e_##op##_rsil, K_PLAIN, #op " (%rbx), %sil")            \
	X(e_##op##_ib, K_PLAIN, #op "b $0x85, (%rbx)")            \
	X(e_##op##_iw, K_PLAIN, #op "w $0x8001, (%rbx)")          \
	X(e_##op##_il, K_PLAIN, #op "l $0x87654321, (%rbx)")      \
	X(e_##op##_iq, K_PLAIN, #op "q $-0x70000000, (%rbx)")     \
	X(e_##op##_sw, K_PLAIN, #op "w $-3, (%rbx)")              \
	X(e_##op##_sl, K_PLAIN, #op "l $0x7f, (%rbx)")            \
	X(e_##op##_sq, K_PLAIN, #op "q $-128, (%rbx)")

#define BT_FORMS(X, op)                                           \
	X(e_##op##_w, K_BIT, #op " %cx, (%rbx)")                  \
	X(e_##op##_l, K_BIT, #op " %ecx, (%rbx)")                 \
	X(e_##op##_q, K_BIT, #op " %rcx, (%rbx)")                 \
	X(e_##op##_iw, K_PLAIN, #op "w $17, (%rbx)")              \
	X(e_##op##_il, K_PLAIN, #op "l $35, (%rbx)")              \
	X(e_##op##_iq, K_PLAIN, #op "q $200, (%rbx)")             \
	X(e_##op##_rr, K_PLAIN, #op " %rcx, %rdx")

#define EMU_CASES(X)                                                                 \
	ALU_FORMS(X, add) ALU_FORMS(X, or) ALU_FORMS(X, adc) ALU_FORMS(X, sbb)        \
	ALU_FORMS(X, and) ALU_FORMS(X, sub) ALU_FORMS(X, xor) ALU_FORMS(X, cmp)       \
	BT_FORMS(X, bt) BT_FORMS(X, bts) BT_FORMS(X, btr) BT_FORMS(X, btc)            \
	X(e_test_mb, K_PLAIN, "test %cl, (%rbx)")                                    \
	X(e_test_ml, K_PLAIN, "test %ecx, 8(%rbx)")                                  \
	X(e_test_mq, K_PLAIN, "test %rcx, (%rbx)")                                   \
	X(e_test_mah, K_PLAIN, "test %ah, (%rbx)")                                   \
	X(e_test_ib, K_PLAIN, "testb $0x81, (%rbx)")                                 \
	X(e_test_iw, K_PLAIN, "testw $0x8001, (%rbx)")                               \
	X(e_test_il, K_PLAIN, "testl $0x80000001, (%rbx)")                           \
	X(e_test_iq, K_PLAIN, "testq $-2, (%rbx)")                                   \
	X(e_mov_mb, K_PLAIN, "mov %cl, (%rbx)")                                      \
	X(e_mov_mah, K_PLAIN, "mov %ah, (%rbx)")                                     \
	X(e_mov_msil, K_PLAIN, "mov %sil, (%rbx)")                                   \
	X(e_mov_mw, K_PLAIN, "mov %cx, 2(%rbx)")                                     \
	X(e_mov_ml, K_PLAIN, "mov %ecx, (%rbx)")                                     \
	X(e_mov_mq, K_PLAIN, "mov %r15, (%rbx)")                                     \
	X(e_mov_rch, K_PLAIN, "mov (%rbx), %ch")                                     \
	X(e_mov_rr9b, K_PLAIN, "mov (%rbx), %r9b")                                   \
	X(e_mov_rw, K_PLAIN, "mov (%rbx), %r10w")                                    \
	X(e_mov_rl, K_PLAIN, "mov (%rbx), %ecx")                                     \
	X(e_mov_rq, K_PLAIN, "mov (%rbx), %rcx")                                     \
	X(e_mov_ib, K_PLAIN, "movb $0x5a, (%rbx)")                                   \
	X(e_mov_iw, K_PLAIN, "movw $0xbeef, (%rbx)")                                 \
	X(e_mov_il, K_PLAIN, "movl $0xdeadbeef, (%rbx)")                             \
	X(e_mov_iq, K_PLAIN, "movq $-5, (%rbx)")                                     \
	X(e_moffs_lb, K_PLAIN, "movabs " STR(DATA) ", %al")                         \
	X(e_moffs_lq, K_PLAIN, "movabs " STR(DATA) ", %rax")                        \
	X(e_moffs_sw, K_PLAIN, "movabs %ax, " STR(DATA))                            \
	X(e_moffs_s32, K_PLAIN, ".byte 0x67, 0xa3\n.long " STR(DATA))                \
	X(e_movzbl, K_PLAIN, "movzbl (%rbx), %ecx")                                  \
	X(e_movzwl, K_PLAIN, "movzwl (%rbx), %ecx")                                  \
	X(e_movzbw, K_PLAIN, "movzbw (%rbx), %cx")                                   \
	X(e_movzbq, K_PLAIN, "movzbq (%rbx), %r11")                                  \
	X(e_movzwq, K_PLAIN, "movzwq (%rbx), %rcx")                                  \
	X(e_movzww, K_PLAIN, ".byte 0x66, 0x0f, 0xb7, 0x0b") /* movzww (%rbx), %cx */ \
	X(e_movsbl, K_PLAIN, "movsbl (%rbx), %ecx")                                  \
	X(e_movswl, K_PLAIN, "movswl (%rbx), %ecx")                                  \
	X(e_movsbw, K_PLAIN, "movsbw (%rbx), %cx")                                   \
	X(e_movsbq, K_PLAIN, "movsbq (%rbx), %rcx")                                  \
	X(e_movswq, K_PLAIN, "movswq (%rbx), %rcx")                                  \
	X(e_movslq, K_PLAIN, "movslq (%rbx), %rcx")                                  \
	X(e_movsxd32, K_PLAIN, "movsxd (%rbx), %ecx")                                \
	X(e_movsxd16, K_PLAIN, ".byte 0x66, 0x63, 0x0b") /* movsxd (%rbx), %cx */    \
	X(e_movzx_ah, K_PLAIN, "movzbl %ah, %ecx")                                   \
	X(e_movsx_bh, K_PLAIN, "movsbl %bh, %edx")                                   \
	X(e_xchg_b, K_PLAIN, "xchg %cl, (%rbx)")                                     \
	X(e_xchg_ah, K_PLAIN, "xchg %ah, (%rbx)")                                    \
	X(e_xchg_w, K_PLAIN, "xchg %ax, (%rbx)")                                     \
	X(e_xchg_l, K_PLAIN, "xchg %ecx, (%rbx)")                                    \
	X(e_xchg_q, K_PLAIN, "xchg %r8, (%rbx)")                                     \
	X(e_xchg_rr, K_PLAIN, "xchg %ah, %cl")                                       \
	X(e_lock_add, K_PLAIN, "lock add %ecx, (%rbx)")                              \
	X(e_lock_bts, K_PLAIN, "lock btsl $3, (%rbx)")                               \
	X(e_lock_xor, K_PLAIN, "lock xorq %rcx, (%rbx)")                             \
	X(e_lock_sbb, K_PLAIN, "lock sbbb $1, (%rbx)")                               \
	X(e_add_rr, K_PLAIN, "add %ecx, %edx")                                       \
	X(e_sub_rr, K_PLAIN, "sub %bh, %dl")                                         \
	X(e_sib, K_PLAIN, "add %ecx, 0x10(%rbx,%rsi,4)")                             \
	X(e_negdisp, K_PLAIN, "add %ecx, -0x20(%rbx)")                               \
	X(e_rip, K_PLAIN, "mov %ecx, 0x1ff0(%rip)")                                  \
	X(e_rip_imm, K_PLAIN, "addl $0x12345678, 0x1ff0(%rip)")                      \
	X(e_sib_rdi8, K_PLAIN, "add 0x7f(%rbx,%rdi,8), %rdx")                        \
	X(e_addr32, K_PLAIN, "addr32 mov %ecx, (%ebx)")                              \
	X(e_r12, K_PLAIN, "mov %ecx, (%r12)")                                        \
	X(e_r13, K_PLAIN, "add %ecx, 8(%r13)")                                       \
	X(e_r12_idx, K_PLAIN, "add (%r12,%rsi,2), %ecx")                             \
	X(e_fs, K_FS, "mov %ecx, %fs:(%rbx)")                                        \
	X(e_fs_imm, K_FS, "addl $1, %fs:0x10(%rbx)")                                 \
	X(e_movsb, K_STR, "movsb")                                                   \
	X(e_movsw, K_STR, "movsw")                                                   \
	X(e_movsl, K_STR, "movsl")                                                   \
	X(e_movsq, K_STR, "movsq")                                                   \
	X(e_rep_movsb, K_STR, "rep movsb")                                           \
	X(e_rep_movsw, K_STR, "rep movsw")                                           \
	X(e_rep_movsl, K_STR, "rep movsl")                                           \
	X(e_rep_movsq, K_STR, "rep movsq")                                           \
	X(e_stosb, K_STR, "stosb")                                                   \
	X(e_rep_stosb, K_STR, "rep stosb")                                           \
	X(e_rep_stosw, K_STR, "rep stosw")                                           \
	X(e_rep_stosl, K_STR, "rep stosl")                                           \
	X(e_rep_stosq, K_STR, "rep stosq")                                           \
	X(e_lodsb, K_STR, "lodsb")                                                   \
	X(e_lodsw, K_STR, "lodsw")                                                   \
	X(e_lodsq, K_STR, "lodsq")                                                   \
	X(e_rep_lodsl, K_STR, "rep lodsl")                                           \
	X(e_rep_lodsb, K_STR, "rep lodsb")                                           \
	X(e_repne_movsb, K_STR, "repne movsb")                                       \
	X(e_repne_stosl, K_STR, "repne stosl")                                       \
	X(e_a32_movsb, K_STR32, "addr32 rep movsb")                                  \
	X(e_a32_stosl, K_STR32, "addr32 rep stosl")                                  \
	X(e_a32_lodsw, K_STR32, "addr32 lodsw")                                      \
	X(e_a32_movsq, K_STR32, "addr32 movsq")                                      \
	X(e_fs_movsb, K_FSSTR, "rep movsb %fs:(%rsi), %es:(%rdi)")                  \
	X(e_fs_lods, K_FSSTR, "lods %fs:(%rsi), %eax")

struct ecase {
	const uint8_t *code, *end;
	enum kind kind;
	const char *text;
};

#define EMIT_EASM(name, kind, text) CASE_ASM(name, 64, text)
#define EMIT_ECASE(name, kind, text) { tc_##name, tc_##name##_end, kind, text },

EMU_CASES(EMIT_EASM)
static const struct ecase ecases[] = { EMU_CASES(EMIT_ECASE) };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* edge values half the time: where carries, overflows and signs change */
static uint64_t value(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0x0f, 0x10,
	};
	uint64_t r = rnd();

	if (r & 1)
		return rnd();
	r = edges[(r >> 1) % ARRAY_SIZE(edges)];
	return (rnd() & 3) == 0 ? r + (rnd() % 3) - 1 : r;
}

static uint64_t fs_base;

static void setup_regs(enum kind k, const struct insn *in, struct insn_regs *r)
{
	unsigned i;

	for (i = 0; i < GPR_COUNT; i++)
		r->gpr[i] = value();
	r->gpr[GPR_RSP] = 0;
	r->gpr[GPR_RBX] = r->gpr[GPR_R12] = r->gpr[GPR_R13] = DATA;
	r->gpr[GPR_RSI] = 3;
	r->gpr[GPR_RDI] = 5;
	r->rip = MAP_BASE;
	r->rflags = 0x2 | (rnd() & (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
				     RFLAGS_SF | RFLAGS_OF | RFLAGS_DF));
	if (k == K_BIT) {
		/* -1024..1023 bits away, junk above the operand size */
		r->gpr[GPR_RCX] = (uint64_t)((int64_t)(rnd() % 2048) - 1024);
		if (in->opsize < 8)
			r->gpr[GPR_RCX] ^= rnd() << (8 * in->opsize);
	}
	if (k == K_FS)
		r->gpr[GPR_RBX] = DATA - fs_base;
	if (k >= K_STR) {
		r->gpr[GPR_RCX] = rnd() % 17;
		r->gpr[GPR_RSI] = DATA - 0x800 + rnd() % 64;
		r->gpr[GPR_RDI] = DATA + 0x800 + rnd() % 64;
	}
	if (k == K_STR32) {
		r->gpr[GPR_RCX] |= rnd() << 32;
		r->gpr[GPR_RSI] |= rnd() << 32;
		r->gpr[GPR_RDI] |= rnd() << 32;
	}
	if (k == K_FSSTR)
		r->gpr[GPR_RSI] -= fs_base;
}

static bool in_data(uint64_t gpa, unsigned size)
{
	return gpa >= DATA_LO && gpa + size <= DATA_HI;
}

static bool host_read(void *ctx, uint64_t gpa, uint64_t *val, unsigned size)
{
	if (!in_data(gpa, size))
		return false;
	*val = 0;
	memcpy(val, (void *)gpa, size);
	return true;
}

static bool host_write(void *ctx, uint64_t gpa, uint64_t val, unsigned size)
{
	if (!in_data(gpa, size))
		return false;
	memcpy((void *)gpa, &val, size);
	return true;
}

static const struct insn_bus host_bus = { NULL, host_read, host_write };

/* the flags an operation defines; the SDM leaves the others undefined */
static uint64_t defined_flags(unsigned op)
{
	uint64_t all = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF;

	if (op == INSN_AND || op == INSN_OR || op == INSN_XOR || op == INSN_TEST)
		return all & ~RFLAGS_AF;
	if (op >= INSN_BT && op <= INSN_BTC)
		return RFLAGS_CF;
	return all;
}

static void emulate_all(const struct ecase *c, const struct insn *in, struct insn_regs *r)
{
	uint64_t bases[6] = { [SEG_FS] = fs_base };
	unsigned steps, i, n;
	int rc;

	for (steps = 0; steps < 64; steps++) {
		struct insn_ref ref[2];
		uint64_t gpa[2];

		n = insn_mem_refs(in, r, bases, ref);
		for (i = 0; i < n; i++) {
			if (!in_data(ref[i].lin, ref[i].size))
				fail_msg("%s: operand at %#llx", c->text,
					 (unsigned long long)ref[i].lin);
			gpa[i] = ref[i].lin;
		}
		rc = insn_emulate(in, r, &host_bus, gpa);
		if (rc == INSN_DONE)
			return;
		if (rc != INSN_MORE)
			fail_msg("%s: emulation failed: %d", c->text, rc);
		if (r->rip != MAP_BASE)
			fail_msg("%s: RIP moved before the last element", c->text);
	}
	fail_msg("%s: never done", c->text);
}

/* image: the initial data, the CPU's result, and the random data, MAP_SIZE apart */
static void run_case(const struct ecase *c, uint8_t *page, uint8_t *image)
{
	unsigned len = c->end - c->code, i;
	struct insn_regs r0, rn, re;
	struct insn_ref ref[2];
	uint64_t bases[6] = { [SEG_FS] = fs_base }, mask;
	struct insn in;

	memcpy(page, c->code, len);
	page[len] = 0xc3; /* ret */
	if (insn_decode(&in, page, INSN_MAX, 8))
		fail_msg("%s: refused", c->text);
	if (in.len != len)
		fail_msg("%s: length %u, the assembler's %u", c->text, in.len, len);
	setup_regs(c->kind, &in, &r0);
	/* the data: random (made once), with an edge value where the operand is */
	memcpy(image, image + 2 * MAP_SIZE, MAP_SIZE - PAGE_SIZE);
	if (c->kind < K_STR && insn_mem_refs(&in, &r0, bases, ref) &&
	    in_data(ref[0].lin, 8)) {
		uint64_t v = value();

		memcpy(image + ref[0].lin - DATA_LO, &v, 8);
	}
	memcpy((void *)DATA_LO, image, MAP_SIZE - PAGE_SIZE);
	rn = r0;
	native_exec(&rn, page);
	memcpy(image + MAP_SIZE, (void *)DATA_LO, MAP_SIZE - PAGE_SIZE);
	memcpy((void *)DATA_LO, image, MAP_SIZE - PAGE_SIZE);
	re = r0;
	emulate_all(c, &in, &re);
	for (i = 0; i < GPR_COUNT; i++) {
		/* An address-size-32 REP with ECX = 0 moves nothing, and what it leaves in the
		 * upper halves of RCX, RSI and RDI is the CPU's own: measured, an Intel Xeon
		 * clears them for MOVS and STOS (not LODS), AMD keeps them. tern never
		 * emulates such an instruction (it touches no memory, so it cannot exit on
		 * EPT); the low halves must still agree. */
		uint64_t m = c->kind == K_STR32 && in.rep && !(uint32_t)r0.gpr[GPR_RCX] &&
					     (i == GPR_RCX || i == GPR_RSI || i == GPR_RDI) ?
				     0xffffffffull : ~0ull;

		if (i != GPR_RSP && (re.gpr[i] ^ rn.gpr[i]) & m)
			fail_msg("%s: gpr %u %#llx, the CPU's %#llx (was %#llx, rflags %#llx)",
				 c->text, i, (unsigned long long)re.gpr[i],
				 (unsigned long long)rn.gpr[i], (unsigned long long)r0.gpr[i],
				 (unsigned long long)r0.rflags);
	}
	mask = defined_flags(in.op) | RFLAGS_DF;
	if ((re.rflags ^ rn.rflags) & mask)
		fail_msg("%s: rflags %#llx, the CPU's %#llx (mask %#llx, was %#llx)", c->text,
			 (unsigned long long)re.rflags, (unsigned long long)rn.rflags,
			 (unsigned long long)mask, (unsigned long long)r0.rflags);
	if ((re.rflags ^ r0.rflags) & ~(RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
					 RFLAGS_SF | RFLAGS_OF))
		fail_msg("%s: rflags beyond the status flags changed", c->text);
	if (memcmp((void *)DATA_LO, image + MAP_SIZE, MAP_SIZE - PAGE_SIZE))
		fail_msg("%s: memory differs from the CPU's", c->text);
	if (re.rip != MAP_BASE + len)
		fail_msg("%s: rip %#llx", c->text, (unsigned long long)re.rip);
}

static uint8_t *map_test_page(void)
{
	void *p = mmap((void *)MAP_BASE, MAP_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p != (void *)MAP_BASE)
		return NULL;
	return p;
}

static void test_emulate_vs_cpu(void **state)
{
	uint8_t *page = map_test_page(), *image = malloc(3 * MAP_SIZE);
	unsigned i, k;

	if (!page) {
		print_message("cannot map RWX memory at %#x: no native oracle\n", MAP_BASE);
		skip();
	}
	for (i = 0; i < MAP_SIZE; i++)
		image[2 * MAP_SIZE + i] = rnd();
	assert_int_equal(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs_base), 0);
	for (i = 0; i < ARRAY_SIZE(ecases); i++)
		for (k = 0; k < 300; k++)
			run_case(&ecases[i], page, image);
	free(image);
	munmap(page, MAP_SIZE);
}

/* ---- what the host CPU cannot show in 64-bit mode ---- */

static uint8_t dev[64];
static unsigned dev_reads, dev_writes;
static bool dev_fail_write;

static bool dev_read(void *ctx, uint64_t gpa, uint64_t *val, unsigned size)
{
	if (gpa < 0xfee00000 || gpa + size > 0xfee00000 + sizeof(dev))
		return false;
	*val = 0;
	memcpy(val, dev + gpa - 0xfee00000, size);
	dev_reads++;
	return true;
}

static bool dev_write(void *ctx, uint64_t gpa, uint64_t val, unsigned size)
{
	if (dev_fail_write || gpa < 0xfee00000 || gpa + size > 0xfee00000 + sizeof(dev))
		return false;
	memcpy(dev + gpa - 0xfee00000, &val, size);
	dev_writes++;
	return true;
}

static const struct insn_bus dev_bus = { NULL, dev_read, dev_write };

static int emulate_once(const struct insn *in, struct insn_regs *r, const uint64_t *bases)
{
	struct insn_ref ref[2];
	uint64_t gpa[2] = { 0, 0 };
	unsigned i, n = insn_mem_refs(in, r, bases, ref);

	for (i = 0; i < n; i++)
		gpa[i] = ref[i].lin; /* the caller's page tables: identity */
	return insn_emulate(in, r, &dev_bus, gpa);
}

/* 16-bit address registers wrap and keep their upper bits; RIP wraps with the code */
static void test_string_16bit(void **state)
{
	uint64_t bases[6] = { [SEG_DS] = 0xfee00000 - 0xfff0, [SEG_ES] = 0xfee00000 };
	struct insn_regs r = { .rip = 0xfffe };
	struct insn in;
	unsigned i;

	for (i = 0; i < sizeof(dev); i++)
		dev[i] = i;
	/* rep movsw: SI from 0xfff0 up through the wrap, CX = 3 in ECX 0x50003 */
	r.gpr[GPR_RSI] = 0x1234fffc;
	r.gpr[GPR_RDI] = 0x77770010;
	r.gpr[GPR_RCX] = 0x50003;
	bases[SEG_DS] = 0xfee00000 - 0xfffc;
	assert_int_equal(insn_decode(&in, tc_d16_rep_movsw, 2, 2), 0);
	assert_int_equal(emulate_once(&in, &r, bases), INSN_MORE);
	assert_int_equal(r.gpr[GPR_RSI], 0x1234fffe);
	assert_int_equal(r.gpr[GPR_RDI], 0x77770012);
	assert_int_equal(r.gpr[GPR_RCX], 0x50002);
	assert_int_equal(r.rip, 0xfffe);
	assert_int_equal(emulate_once(&in, &r, bases), INSN_MORE);
	assert_int_equal(r.gpr[GPR_RSI], 0x12340000); /* SI wrapped, the rest kept */
	assert_int_equal(dev[0x12], 2); /* the word from DS:0xfffe */
	assert_int_equal(dev[0x13], 3);
	r.gpr[GPR_RSI] = 0x1234fffc; /* keep the source in the device window */
	assert_int_equal(emulate_once(&in, &r, bases), INSN_DONE);
	assert_int_equal(r.gpr[GPR_RCX], 0x50000);
	assert_int_equal(r.rip, 0); /* IP wraps at 64 KiB */
	/* CX = 0: done at once, nothing moved */
	r.rip = 0x100;
	r.gpr[GPR_RDI] = 0x10;
	dev_reads = dev_writes = 0;
	assert_int_equal(emulate_once(&in, &r, bases), INSN_DONE);
	assert_int_equal(r.rip, 0x102);
	assert_int_equal(r.gpr[GPR_RDI], 0x10);
	assert_int_equal(dev_reads + dev_writes, 0);
	/* backwards with DF: STOSB from DI = 0 to 0xffff */
	r.rflags = RFLAGS_DF;
	r.gpr[GPR_RDI] = 0xabc0000;
	r.gpr[GPR_RAX] = 0x5a;
	assert_int_equal(insn_decode(&in, tc_d16_rep_stosb, 2, 2), 0);
	r.gpr[GPR_RCX] = 1;
	assert_int_equal(emulate_once(&in, &r, bases), INSN_DONE);
	assert_int_equal(dev[0], 0x5a);
	assert_int_equal(r.gpr[GPR_RDI], 0xabcffff);
	assert_int_equal(r.gpr[GPR_RCX], 0);
}

static void test_rip_wrap_32bit(void **state)
{
	/* mov %eax, (%esp) at EIP 0xfffffffe: EIP wraps, RIP's upper half stays 0 */
	struct insn_regs r = { .rip = 0xfffffffe, .gpr[GPR_RSP] = 0xfee00000,
			       .gpr[GPR_RAX] = 0x11223344 };
	struct insn in;

	assert_int_equal(insn_decode(&in, tc_d32_esp, 3, 4), 0);
	assert_int_equal(emulate_once(&in, &r, no_bases), INSN_DONE);
	assert_int_equal(r.rip, 1);
	assert_int_equal(dev[0], 0x44);
	assert_int_equal(dev[3], 0x11);
}

/* A failed device access changes no register, RIP included. */
static void test_bus_failure(void **state)
{
	struct insn_regs r = { .rip = 0x1000, .gpr[GPR_RBX] = 0xfee00000,
			       .gpr[GPR_RCX] = 0x1234, .rflags = 0x2 }, before;
	/* xchg %ecx, (%rbx); mov (%rbx), %ecx; movsb; add %ecx, 0x1000(%rbx) */
	static const uint8_t xchg[] = { 0x87, 0x0b }, load[] = { 0x8b, 0x0b }, movsb[] = { 0xa4 },
			     add[] = { 0x01, 0x8b, 0x00, 0x10, 0x00, 0x00 };
	struct insn in;

	before = r;
	assert_int_equal(insn_decode(&in, xchg, sizeof(xchg), 8), 0);
	dev_fail_write = true;
	assert_int_equal(emulate_once(&in, &r, no_bases), -E_IO);
	assert_memory_equal(&r, &before, sizeof(r));
	dev_fail_write = false;
	assert_int_equal(insn_decode(&in, add, sizeof(add), 8), 0);
	assert_int_equal(emulate_once(&in, &r, no_bases), -E_IO); /* outside the device */
	assert_memory_equal(&r, &before, sizeof(r));
	r.gpr[GPR_RSI] = 0xfee00000;
	r.gpr[GPR_RDI] = 0xfef00000;
	before = r;
	assert_int_equal(insn_decode(&in, movsb, sizeof(movsb), 8), 0);
	assert_int_equal(emulate_once(&in, &r, no_bases), -E_IO);
	assert_memory_equal(&r, &before, sizeof(r));
	/* and a working one for contrast: a 32-bit load zero-extends */
	r.gpr[GPR_RCX] = ~0ull;
	memcpy(dev, "\x78\x56\x34\x12", 4);
	assert_int_equal(insn_decode(&in, load, sizeof(load), 8), 0);
	assert_int_equal(emulate_once(&in, &r, no_bases), INSN_DONE);
	assert_int_equal(r.gpr[GPR_RCX], 0x12345678);
	assert_int_equal(r.rip, 0x1002);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_prefix_combinations),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_ea_16bit),
		cmocka_unit_test(test_ea_32bit),
		cmocka_unit_test(test_ea_64bit),
		cmocka_unit_test(test_bt_displacement),
		cmocka_unit_test(test_code_size),
		cmocka_unit_test(test_emulate_vs_cpu),
		cmocka_unit_test(test_string_16bit),
		cmocka_unit_test(test_rip_wrap_32bit),
		cmocka_unit_test(test_bus_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
