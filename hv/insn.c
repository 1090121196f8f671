/* Decoding the instructions of hv/insn.h (SDM Vol. 2 chapter 2 and appendix A), and
 * where their memory operands are.
 *
 *   [legacy prefixes] [REX] opcode (1 or 0F + 1) [ModR/M [SIB] [disp]] [imm | moffs]
 */
#include "hv/insn.h"
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/vcpu_state.h"
#include "hv/x86.h"

/* what an opcode is; a zero flags field means an opcode outside the set */
struct opc {
	uint8_t op;  /* enum insn_op, or a group (F_GROUP) whose ModR/M reg picks it */
	uint8_t dst; /* enum insn_opnd */
	uint8_t src;
	uint16_t flags;
};

#define F_MODRM (1u << 0)
#define F_MOFFS (1u << 1)  /* A0-A3: an address-size offset, no ModR/M */
#define F_STRING (1u << 2)
#define F_BYTE (1u << 3)   /* an 8-bit operation */
#define F_IMM8 (1u << 4)   /* an 8-bit immediate, sign-extended */
#define F_IMMZ (1u << 5)   /* a 16- or 32-bit immediate by operand size, sign-extended */
#define F_GROUP (1u << 6)
#define F_SRC8 (1u << 7)   /* MOVZX/MOVSX from 8 bits */
#define F_SRC16 (1u << 8)  /* ... from 16 bits */
#define F_SRC32 (1u << 9)  /* MOVSXD: from 32 bits (16 with 66) */
#define F_LONG (1u << 10)  /* 64-bit mode only (63 is ARPL elsewhere) */

enum { G1, G3, G8, G11 };
#define BAD 0xff
static const uint8_t groups[][8] = {
	[G1] = { INSN_ADD, INSN_OR, INSN_ADC, INSN_SBB, INSN_AND, INSN_SUB, INSN_XOR, INSN_CMP },
	[G3] = { INSN_TEST, BAD, BAD, BAD, BAD, BAD, BAD, BAD },
	[G8] = { BAD, BAD, BAD, BAD, INSN_BT, INSN_BTS, INSN_BTR, INSN_BTC },
	[G11] = { INSN_MOV, BAD, BAD, BAD, BAD, BAD, BAD, BAD },
};

/* 00-3F: Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev for each ALU operation */
#define ALU(n, o)                                                    \
	[n] = { o, OPND_RM, OPND_REG, F_MODRM | F_BYTE },             \
	[n + 1] = { o, OPND_RM, OPND_REG, F_MODRM },                  \
	[n + 2] = { o, OPND_REG, OPND_RM, F_MODRM | F_BYTE },         \
	[n + 3] = { o, OPND_REG, OPND_RM, F_MODRM }

static const struct opc one_byte[256] = {
	ALU(0x00, INSN_ADD), ALU(0x08, INSN_OR), ALU(0x10, INSN_ADC), ALU(0x18, INSN_SBB),
	ALU(0x20, INSN_AND), ALU(0x28, INSN_SUB), ALU(0x30, INSN_XOR), ALU(0x38, INSN_CMP),
	[0x63] = { INSN_MOVSX, OPND_REG, OPND_RM, F_MODRM | F_SRC32 | F_LONG },
	[0x80] = { G1, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_BYTE | F_IMM8 },
	[0x81] = { G1, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_IMMZ },
	[0x83] = { G1, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_IMM8 },
	[0x84] = { INSN_TEST, OPND_RM, OPND_REG, F_MODRM | F_BYTE },
	[0x85] = { INSN_TEST, OPND_RM, OPND_REG, F_MODRM },
	[0x86] = { INSN_XCHG, OPND_RM, OPND_REG, F_MODRM | F_BYTE },
	[0x87] = { INSN_XCHG, OPND_RM, OPND_REG, F_MODRM },
	[0x88] = { INSN_MOV, OPND_RM, OPND_REG, F_MODRM | F_BYTE },
	[0x89] = { INSN_MOV, OPND_RM, OPND_REG, F_MODRM },
	[0x8a] = { INSN_MOV, OPND_REG, OPND_RM, F_MODRM | F_BYTE },
	[0x8b] = { INSN_MOV, OPND_REG, OPND_RM, F_MODRM },
	[0xa0] = { INSN_MOV, OPND_REG, OPND_RM, F_MOFFS | F_BYTE },
	[0xa1] = { INSN_MOV, OPND_REG, OPND_RM, F_MOFFS },
	[0xa2] = { INSN_MOV, OPND_RM, OPND_REG, F_MOFFS | F_BYTE },
	[0xa3] = { INSN_MOV, OPND_RM, OPND_REG, F_MOFFS },
	[0xa4] = { INSN_MOVS, OPND_NONE, OPND_NONE, F_STRING | F_BYTE },
	[0xa5] = { INSN_MOVS, OPND_NONE, OPND_NONE, F_STRING },
	[0xaa] = { INSN_STOS, OPND_NONE, OPND_NONE, F_STRING | F_BYTE },
	[0xab] = { INSN_STOS, OPND_NONE, OPND_NONE, F_STRING },
	[0xac] = { INSN_LODS, OPND_NONE, OPND_NONE, F_STRING | F_BYTE },
	[0xad] = { INSN_LODS, OPND_NONE, OPND_NONE, F_STRING },
	[0xc6] = { G11, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_BYTE | F_IMM8 },
	[0xc7] = { G11, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_IMMZ },
	[0xf6] = { G3, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_BYTE | F_IMM8 },
	[0xf7] = { G3, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_IMMZ },
};

static const struct opc two_byte[256] = {
	[0xa3] = { INSN_BT, OPND_RM, OPND_REG, F_MODRM },
	[0xab] = { INSN_BTS, OPND_RM, OPND_REG, F_MODRM },
	[0xb3] = { INSN_BTR, OPND_RM, OPND_REG, F_MODRM },
	[0xbb] = { INSN_BTC, OPND_RM, OPND_REG, F_MODRM },
	[0xb6] = { INSN_MOVZX, OPND_REG, OPND_RM, F_MODRM | F_SRC8 },
	[0xb7] = { INSN_MOVZX, OPND_REG, OPND_RM, F_MODRM | F_SRC16 },
	[0xba] = { G8, OPND_RM, OPND_IMM, F_MODRM | F_GROUP | F_IMM8 },
	[0xbe] = { INSN_MOVSX, OPND_REG, OPND_RM, F_MODRM | F_SRC8 },
	[0xbf] = { INSN_MOVSX, OPND_REG, OPND_RM, F_MODRM | F_SRC16 },
};

/* LOCK is #UD but on a read-modify-write of memory (SDM Vol. 2, LOCK) */
static const uint32_t lockable = 1u << INSN_ADD | 1u << INSN_OR | 1u << INSN_ADC |
				 1u << INSN_SBB | 1u << INSN_AND | 1u << INSN_SUB |
				 1u << INSN_XOR | 1u << INSN_XCHG | 1u << INSN_BTS |
				 1u << INSN_BTR | 1u << INSN_BTC;

/* 16-bit addressing (SDM Vol. 2 Table 2-1): ModR/M rm as base and index */
static const int8_t ea16[8][2] = {
	{ GPR_RBX, GPR_RSI }, { GPR_RBX, GPR_RDI }, { GPR_RBP, GPR_RSI }, { GPR_RBP, GPR_RDI },
	{ GPR_RSI, -1 }, { GPR_RDI, -1 }, { GPR_RBP, -1 }, { GPR_RBX, -1 },
};

/* The decoder's cursor over the bytes it was given. */
struct cursor {
	const uint8_t *code;
	unsigned avail, pos;
	int err;
};

static uint8_t next(struct cursor *c)
{
	if (c->pos >= INSN_MAX) {
		c->err = c->err ? c->err : -E_NOSUP;
		return 0;
	}
	if (c->pos >= c->avail) {
		c->err = c->err ? c->err : -E_RANGE;
		return 0;
	}
	return c->code[c->pos++];
}

/* n bytes little-endian, sign-extended */
static int64_t next_signed(struct cursor *c, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)next(c) << (8 * i);
	if (n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ull << (8 * n);
	return (int64_t)v;
}

static uint64_t next_unsigned(struct cursor *c, unsigned n)
{
	uint64_t v = next_signed(c, n);

	return n < 8 ? v & ((1ull << (8 * n)) - 1) : v;
}

/* Legacy prefixes (SDM Vol. 2 2.1.1), then a REX in 64-bit mode; a REX followed by
 * another prefix is ignored (2.2.1). Returns the first opcode byte. */
static uint8_t prefixes(struct cursor *c, struct insn *in, bool *opsz, bool *adsz, int *seg)
{
	static const int8_t seg_of[256] = {
		[0x26] = SEG_ES + 1, [0x2e] = SEG_CS + 1, [0x36] = SEG_SS + 1,
		[0x3e] = SEG_DS + 1, [0x64] = SEG_FS + 1, [0x65] = SEG_GS + 1,
	};

	for (;;) {
		uint8_t b = next(c);

		if (c->err)
			return 0;
		if (in->mode == 8 && (b & 0xf0) == 0x40) {
			in->rex = b;
			continue;
		}
		if (seg_of[b])
			*seg = seg_of[b] - 1;
		else if (b == 0x66)
			*opsz = true;
		else if (b == 0x67)
			*adsz = true;
		else if (b == 0xf0)
			in->lock = 1;
		else if (b == 0xf3)
			in->rep = INSN_REP;
		else if (b == 0xf2)
			in->rep = INSN_REPNE;
		else
			return b;
		in->rex = 0;
	}
}

static unsigned operand_size(const struct insn *in, bool opsz)
{
	if (in->mode == 8 && (in->rex & 8))
		return 8;
	if (in->mode == 2)
		return opsz ? 4 : 2;
	return opsz ? 2 : 4;
}

static unsigned address_size(const struct insn *in, bool adsz)
{
	if (in->mode == 8)
		return adsz ? 4 : 8;
	if (in->mode == 4)
		return adsz ? 2 : 4;
	return adsz ? 4 : 2;
}

static void modrm16(struct cursor *c, struct insn *in, unsigned mod, unsigned rm)
{
	in->ea.base = ea16[rm][0];
	in->ea.index = ea16[rm][1];
	if (mod == 0 && rm == 6) {
		in->ea.base = -1;
		in->ea.disp = next_signed(c, 2);
		return;
	}
	if (in->ea.base == GPR_RBP)
		in->ea.seg = SEG_SS;
	if (mod)
		in->ea.disp = next_signed(c, mod == 1 ? 1 : 2);
}

static void modrm32(struct cursor *c, struct insn *in, unsigned mod, unsigned rm)
{
	unsigned rex_b = (in->rex & 1) << 3;

	in->ea.base = rm | rex_b;
	if (rm == 4) {
		uint8_t sib = next(c);
		unsigned index = ((sib >> 3) & 7) | (in->rex & 2) << 2;

		in->ea.scale = 1 << (sib >> 6);
		in->ea.index = index == GPR_RSP ? -1 : (int8_t)index;
		in->ea.base = (sib & 7) | rex_b;
		if ((sib & 7) == 5 && mod == 0) {
			in->ea.base = -1;
			in->ea.disp = next_signed(c, 4);
			return;
		}
	} else if (rm == 5 && mod == 0) {
		/* disp32 alone; in 64-bit mode relative to the next RIP (2.2.1.6) */
		in->ea.base = -1;
		in->ea.rip_rel = in->mode == 8;
		in->ea.disp = next_signed(c, 4);
		return;
	}
	if (in->ea.base == GPR_RSP || in->ea.base == GPR_RBP)
		in->ea.seg = SEG_SS;
	if (mod)
		in->ea.disp = next_signed(c, mod == 1 ? 1 : 4);
}

/* ModR/M and what follows it; returns the reg field (without REX.R) for groups */
static unsigned modrm(struct cursor *c, struct insn *in)
{
	uint8_t b = next(c);
	unsigned mod = b >> 6, rm = b & 7;

	in->reg = ((b >> 3) & 7) | (in->rex & 4) << 1;
	if (mod == 3) {
		in->rm = rm | (in->rex & 1) << 3;
		return (b >> 3) & 7;
	}
	in->mem = 1;
	if (in->adsize == 2)
		modrm16(c, in, mod, rm);
	else
		modrm32(c, in, mod, rm);
	return (b >> 3) & 7;
}

static const struct opc *opcode(struct cursor *c, struct insn *in, uint8_t b)
{
	const struct opc *o = &one_byte[b];

	if (b == 0x0f)
		o = &two_byte[next(c)];
	if (c->err || !o->flags || ((o->flags & F_LONG) && in->mode != 8))
		return NULL;
	return o;
}

static unsigned source_size(const struct insn *in, uint16_t flags)
{
	if (flags & F_SRC8)
		return 1;
	if (flags & F_SRC16)
		return 2;
	if (flags & F_SRC32)
		return MIN(in->opsize, 4);
	return in->opsize;
}

static void operands(struct cursor *c, struct insn *in, const struct opc *o)
{
	if (o->flags & F_MOFFS) {
		in->mem = 1;
		in->reg = GPR_RAX;
		in->ea.disp = (int64_t)next_unsigned(c, in->adsize);
	}
	if (o->flags & F_STRING)
		in->mem = 1;
	if (o->flags & F_IMM8)
		in->imm = next_signed(c, 1);
	if (o->flags & F_IMMZ)
		in->imm = next_signed(c, in->opsize == 2 ? 2 : 4);
}

int insn_decode(struct insn *in, const uint8_t *code, unsigned avail, unsigned mode)
{
	struct cursor c = { code, avail, 0, 0 };
	const struct opc *o;
	bool opsz = false, adsz = false;
	int seg = -1;
	uint8_t b;

	memset(in, 0, sizeof(*in));
	in->mode = mode;
	in->ea.base = in->ea.index = -1;
	in->ea.scale = 1;
	in->ea.seg = SEG_DS;
	b = prefixes(&c, in, &opsz, &adsz, &seg);
	o = c.err ? NULL : opcode(&c, in, b);
	if (o) {
		in->op = o->op;
		in->dst = o->dst;
		in->src = o->src;
		in->opsize = (o->flags & F_BYTE) ? 1 : operand_size(in, opsz);
		in->srcsize = source_size(in, o->flags);
		in->adsize = address_size(in, adsz);
		if (o->flags & F_MODRM) {
			unsigned digit = modrm(&c, in);

			if (o->flags & F_GROUP)
				in->op = groups[o->op][digit];
		}
		if (seg >= 0)
			in->ea.seg = seg;
		if (in->op != BAD)
			operands(&c, in, o);
	}
	in->len = MIN(c.pos, INSN_MAX);
	memcpy(in->bytes, code, MIN(in->len, avail));
	if (c.err)
		return c.err;
	if (!o || in->op == BAD || (in->lock && (!in->mem || in->dst != OPND_RM ||
						 !(lockable & 1u << in->op))))
		return -E_NOSUP;
	return 0;
}

int insn_unsupported(const struct insn *in, uint64_t rip, char *buf, size_t size)
{
	char hex[3 * INSN_MAX + 1] = "";
	unsigned i, n = 0;

	for (i = 0; i < in->len; i++)
		n += fmt_snprintf(hex + n, sizeof(hex) - n, "%s%02x", i ? " " : "",
				  in->bytes[i]);
	return fmt_snprintf(buf, size, "unsupported opcode %s at rip 0x%llx", hex,
			    (unsigned long long)rip);
}

unsigned insn_code_size(uint64_t cr0, uint64_t efer, uint64_t rflags, uint16_t cs_attr)
{
	if (!(cr0 & CR0_PE) || (rflags & RFLAGS_VM))
		return 2;
	if ((efer & EFER_LMA) && (cs_attr & SEG_L))
		return 8;
	return (cs_attr & SEG_DB) ? 4 : 2;
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

uint64_t insn_ea_offset(const struct insn *in, const struct insn_regs *r)
{
	const struct insn_ea *ea = &in->ea;
	uint64_t off = (uint64_t)ea->disp;

	if (ea->base >= 0)
		off += r->gpr[ea->base];
	if (ea->index >= 0)
		off += r->gpr[ea->index] * ea->scale;
	if (ea->rip_rel)
		off += r->rip + in->len;
	return off & size_mask(in->adsize);
}

/* segment:offset to linear; in 64-bit mode only FS and GS have a base (SDM 3.2.4) */
static uint64_t linear(const struct insn *in, unsigned seg, uint64_t off,
		       const uint64_t seg_base[6])
{
	if (in->mode == 8)
		return off + (seg == SEG_FS || seg == SEG_GS ? seg_base[seg] : 0);
	return (seg_base[seg] + off) & 0xffffffffu;
}

/* BT with a register bit offset reaches the operand-size unit the signed offset falls
 * in, anywhere from -2^(n-1) to 2^(n-1)-1 bits away (SDM Vol. 2, BT) */
static uint64_t bt_displacement(const struct insn *in, const struct insn_regs *r)
{
	unsigned bits = 8 * in->opsize;
	uint64_t v = r->gpr[in->reg] & size_mask(in->opsize);
	int64_t off = (int64_t)(v << (64 - bits)) >> (64 - bits);

	return (uint64_t)(off >> (__builtin_ctz(bits))) * in->opsize;
}

static bool writes_rm(const struct insn *in)
{
	switch (in->op) {
	case INSN_CMP:
	case INSN_TEST:
	case INSN_BT:
		return false;
	default:
		return in->dst == OPND_RM;
	}
}

static unsigned string_refs(const struct insn *in, const struct insn_regs *r,
			    const uint64_t seg_base[6], struct insn_ref ref[2])
{
	uint64_t amask = size_mask(in->adsize);
	struct insn_ref src = { linear(in, in->ea.seg, r->gpr[GPR_RSI] & amask, seg_base),
				in->opsize, in->ea.seg, 0 };
	struct insn_ref dst = { linear(in, SEG_ES, r->gpr[GPR_RDI] & amask, seg_base),
				in->opsize, SEG_ES, GPT_WRITE };

	if (in->rep && !(r->gpr[GPR_RCX] & amask))
		return 0;
	if (in->op == INSN_STOS) {
		ref[0] = dst;
		return 1;
	}
	ref[0] = src;
	if (in->op == INSN_LODS)
		return 1;
	ref[1] = dst;
	return 2;
}

unsigned insn_mem_refs(const struct insn *in, const struct insn_regs *r,
		       const uint64_t seg_base[6], struct insn_ref ref[2])
{
	uint64_t off;

	if (!in->mem)
		return 0;
	if (in->op >= INSN_MOVS)
		return string_refs(in, r, seg_base, ref);
	off = insn_ea_offset(in, r);
	if (in->op >= INSN_BT && in->op <= INSN_BTC && in->src == OPND_REG)
		off = (off + bt_displacement(in, r)) & size_mask(in->adsize);
	ref[0].lin = linear(in, in->ea.seg, off, seg_base);
	ref[0].size = in->dst == OPND_RM ? in->opsize : in->srcsize;
	ref[0].seg = in->ea.seg;
	ref[0].access = writes_rm(in) ? GPT_WRITE : 0;
	return 1;
}
