/* Executing a decoded instruction (hv/insn.h) on the guest's registers, its memory
 * operands reached through the bus: one table row per operation says whether the old
 * destination is an input, whether the result is stored, and how it and the flags are
 * computed (SDM Vol. 1 3.4.3.1 and Appendix A; each instruction's page in Vol. 2). */
#include "hv/insn.h"
#include "hv/error.h"
#include "hv/x86.h"

#define STATUS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

static uint64_t mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t sign_extend(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;

	return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* AH, CH, DH, BH: registers 4-7 of an 8-bit operation without REX (SDM Vol. 1 3.4.1.1) */
static bool high_byte(const struct insn *in, unsigned reg, unsigned size)
{
	return size == 1 && !in->rex && reg >= 4 && reg < 8;
}

static uint64_t reg_get(const struct insn *in, const struct insn_regs *r, unsigned reg,
			unsigned size)
{
	if (high_byte(in, reg, size))
		return (r->gpr[reg - 4] >> 8) & 0xff;
	return r->gpr[reg] & mask(size);
}

/* 32-bit results zero-extend to 64 bits; 8- and 16-bit ones leave the rest */
static void reg_set(const struct insn *in, struct insn_regs *r, unsigned reg, unsigned size,
		    uint64_t v)
{
	uint64_t *g;

	if (high_byte(in, reg, size)) {
		g = &r->gpr[reg - 4];
		*g = (*g & ~0xff00ull) | (v & 0xff) << 8;
	} else if (size >= 4) {
		r->gpr[reg] = v & mask(size);
	} else {
		g = &r->gpr[reg];
		*g = (*g & ~mask(size)) | (v & mask(size));
	}
}

/* The state one emulation works on. */
struct emu {
	const struct insn *in;
	struct insn_regs *r;
	const struct insn_bus *bus;
	const uint64_t *gpa;
	uint64_t rflags; /* committed with the registers once every access succeeded */
};

static int opnd_read(struct emu *e, unsigned kind, unsigned size, uint64_t *v)
{
	const struct insn *in = e->in;

	if (kind == OPND_IMM) {
		*v = in->imm & mask(size);
	} else if (kind == OPND_REG) {
		*v = reg_get(in, e->r, in->reg, size);
	} else if (!in->mem) {
		*v = reg_get(in, e->r, in->rm, size);
	} else {
		*v = 0;
		if (!e->bus->read(e->bus->ctx, e->gpa[0], v, size))
			return -E_IO;
		*v &= mask(size);
	}
	return 0;
}

static int opnd_write(struct emu *e, unsigned kind, unsigned size, uint64_t v)
{
	const struct insn *in = e->in;

	if (kind == OPND_REG)
		reg_set(in, e->r, in->reg, size, v);
	else if (!in->mem)
		reg_set(in, e->r, in->rm, size, v);
	else if (!e->bus->write(e->bus->ctx, e->gpa[0], v & mask(size), size))
		return -E_IO;
	return 0;
}

static bool parity_even(uint64_t v)
{
	uint8_t b = v;

	b ^= b >> 4;
	b ^= b >> 2;
	b ^= b >> 1;
	return !(b & 1);
}

/* SF, ZF, PF of a result, the status flags every ALU operation defines alike */
static uint64_t szp(uint64_t res, unsigned size)
{
	uint64_t f = 0;

	if (!(res & mask(size)))
		f |= RFLAGS_ZF;
	if ((res >> (8 * size - 1)) & 1)
		f |= RFLAGS_SF;
	if (parity_even(res))
		f |= RFLAGS_PF;
	return f;
}

static void set_status(uint64_t *rflags, uint64_t which, uint64_t f)
{
	*rflags = (*rflags & ~which) | (f & which);
}

/* a + b + cin, or a - b - cin. The carry (borrow) out of every bit position at once:
 * bit n-1 is CF, bit 3 is AF. */
static uint64_t arith(uint64_t a, uint64_t b, bool cin, bool sub, unsigned size,
		      uint64_t *rflags)
{
	unsigned top = 8 * size - 1;
	uint64_t res, carries, of, f;

	if (sub) {
		res = a - b - cin;
		carries = (~a & b) | (~(a ^ b) & res);
		of = (a ^ b) & (a ^ res);
	} else {
		res = a + b + cin;
		carries = (a & b) | ((a | b) & ~res);
		of = (a ^ res) & (b ^ res);
	}
	res &= mask(size);
	f = szp(res, size);
	if ((carries >> top) & 1)
		f |= RFLAGS_CF;
	if (carries & 8)
		f |= RFLAGS_AF;
	if ((of >> top) & 1)
		f |= RFLAGS_OF;
	set_status(rflags, STATUS, f);
	return res;
}

/* AND, OR, XOR, TEST: CF = OF = 0; AF is undefined, cleared here */
static uint64_t logic(uint64_t res, unsigned size, uint64_t *rflags)
{
	set_status(rflags, STATUS, szp(res, size));
	return res & mask(size);
}

typedef uint64_t (*op_fn)(const struct insn *in, uint64_t a, uint64_t b, uint64_t *rflags);

static uint64_t op_add(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return arith(a, b, false, false, in->opsize, f);
}

static uint64_t op_adc(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return arith(a, b, *f & RFLAGS_CF, false, in->opsize, f);
}

static uint64_t op_sub(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return arith(a, b, false, true, in->opsize, f);
}

static uint64_t op_sbb(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return arith(a, b, *f & RFLAGS_CF, true, in->opsize, f);
}

static uint64_t op_and(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return logic(a & b, in->opsize, f);
}

static uint64_t op_or(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return logic(a | b, in->opsize, f);
}

static uint64_t op_xor(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return logic(a ^ b, in->opsize, f);
}

static uint64_t op_mov(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return b;
}

static uint64_t op_movsx(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return sign_extend(b, in->srcsize);
}

/* BT*: CF is the bit, taken modulo the operand size (a register offset's whole units
 * were folded into the address: insn_mem_refs()); ZF is kept, OF SF AF PF undefined
 * and kept here */
static uint64_t bit_of(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	uint64_t bit = 1ull << (b & (8 * in->opsize - 1));

	set_status(f, RFLAGS_CF, (a & bit) ? RFLAGS_CF : 0);
	return bit;
}

static uint64_t op_bt(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	bit_of(in, a, b, f);
	return a;
}

static uint64_t op_bts(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return a | bit_of(in, a, b, f);
}

static uint64_t op_btr(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return a & ~bit_of(in, a, b, f);
}

static uint64_t op_btc(const struct insn *in, uint64_t a, uint64_t b, uint64_t *f)
{
	return a ^ bit_of(in, a, b, f);
}

struct op_desc {
	uint8_t reads_dst;  /* the destination's old value is an input */
	uint8_t writes_dst; /* the result is stored there */
	op_fn fn;
};

static const struct op_desc ops[INSN_OPS] = {
	[INSN_ADD] = { 1, 1, op_add },    [INSN_OR] = { 1, 1, op_or },
	[INSN_ADC] = { 1, 1, op_adc },    [INSN_SBB] = { 1, 1, op_sbb },
	[INSN_AND] = { 1, 1, op_and },    [INSN_SUB] = { 1, 1, op_sub },
	[INSN_XOR] = { 1, 1, op_xor },    [INSN_CMP] = { 1, 0, op_sub },
	[INSN_TEST] = { 1, 0, op_and },   [INSN_MOV] = { 0, 1, op_mov },
	[INSN_MOVZX] = { 0, 1, op_mov },  [INSN_MOVSX] = { 0, 1, op_movsx },
	[INSN_BT] = { 1, 0, op_bt },      [INSN_BTS] = { 1, 1, op_bts },
	[INSN_BTR] = { 1, 1, op_btr },    [INSN_BTC] = { 1, 1, op_btc },
};

static void advance(const struct insn *in, struct insn_regs *r)
{
	r->rip = (r->rip + in->len) & mask(in->mode);
}

/* XCHG: memory first, so a failed write leaves the register as it was */
static int exchange(struct emu *e)
{
	unsigned size = e->in->opsize;
	uint64_t a, b;
	int err;

	if ((err = opnd_read(e, OPND_RM, size, &a)) || (err = opnd_read(e, OPND_REG, size, &b)))
		return err;
	if ((err = opnd_write(e, OPND_RM, size, b)))
		return err;
	return opnd_write(e, OPND_REG, size, a);
}

static int alu(struct emu *e)
{
	const struct insn *in = e->in;
	const struct op_desc *d = &ops[in->op];
	uint64_t a = 0, b, res;
	int err;

	if ((err = opnd_read(e, in->src, in->srcsize, &b)))
		return err;
	if (d->reads_dst && (err = opnd_read(e, in->dst, in->opsize, &a)))
		return err;
	res = d->fn(in, a, b, &e->rflags);
	if (d->writes_dst)
		return opnd_write(e, in->dst, in->opsize, res);
	return 0;
}

/* rSI or rDI moved by one element, as an address-size register (a 32-bit one
 * zero-extends, a 16-bit one keeps its upper bits) */
static void step_index(const struct insn *in, struct insn_regs *r, unsigned reg)
{
	uint64_t delta = (r->rflags & RFLAGS_DF) ? -(uint64_t)in->opsize : in->opsize;

	reg_set(in, r, reg, in->adsize, r->gpr[reg] + delta);
}

/* One element of MOVS, STOS or LODS; gpa[] as insn_mem_refs() gave them. */
static int string_element(struct emu *e)
{
	const struct insn *in = e->in;
	const struct insn_bus *bus = e->bus;
	struct insn_regs *r = e->r;
	unsigned size = in->opsize;
	uint64_t v = 0;

	if (in->op == INSN_STOS)
		return bus->write(bus->ctx, e->gpa[0], r->gpr[GPR_RAX] & mask(size), size) ?
		       0 : -E_IO;
	if (!bus->read(bus->ctx, e->gpa[0], &v, size))
		return -E_IO;
	v &= mask(size);
	if (in->op == INSN_LODS)
		reg_set(in, r, GPR_RAX, size, v);
	else if (!bus->write(bus->ctx, e->gpa[1], v, size))
		return -E_IO;
	return 0;
}

static int string_op(struct emu *e)
{
	const struct insn *in = e->in;
	struct insn_regs *r = e->r;
	uint64_t count = r->gpr[GPR_RCX] & mask(in->adsize);
	int err;

	if (in->rep && !count) {
		advance(in, r);
		return INSN_DONE;
	}
	if ((err = string_element(e)))
		return err;
	if (in->op != INSN_STOS)
		step_index(in, r, GPR_RSI);
	if (in->op != INSN_LODS)
		step_index(in, r, GPR_RDI);
	if (in->rep) {
		reg_set(in, r, GPR_RCX, in->adsize, count - 1);
		if (count > 1)
			return INSN_MORE;
	}
	advance(in, r);
	return INSN_DONE;
}

int insn_emulate(const struct insn *in, struct insn_regs *r, const struct insn_bus *bus,
		 const uint64_t gpa[2])
{
	struct emu e = { in, r, bus, gpa, r->rflags };
	struct insn_regs saved = *r;
	int err;

	if (in->op >= INSN_OPS)
		return -E_NOSUP;
	if (in->op >= INSN_MOVS)
		return string_op(&e);
	err = in->op == INSN_XCHG ? exchange(&e) : alu(&e);
	if (err) {
		*r = saved;
		return err;
	}
	r->rflags = e.rflags;
	advance(in, r);
	return INSN_DONE;
}
