/* String port I/O: INS and OUTS element by element, each element's memory translated
 * through the guest's page tables before its port is touched (SDM Vol. 2, INS/OUTS;
 * Vol. 1 19.3 for the repeat). */
#include "hv/strio.h"
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/vcpu_state.h"
#include "hv/x86.h"

/* An element's memory: one piece, or two when it crosses a page boundary. */
struct piece {
	uint64_t gpa;
	unsigned len;
};

/* The last page translated: a REP INSW of a sector walks the tables once per page. */
struct tlb {
	bool valid;
	uint64_t lin_page, gpa_page;
};

static uint64_t mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* an address register by the address size: 32 bits zero-extend, 16 bits merge */
static void set_addr_reg(struct insn_regs *r, unsigned reg, unsigned adsize, uint64_t v)
{
	if (adsize == 2)
		r->gpr[reg] = (r->gpr[reg] & ~0xffffull) | (v & 0xffff);
	else
		r->gpr[reg] = v & mask(adsize);
}

static int translate(const struct strio_ops *ops, struct tlb *t, uint64_t lin,
		     unsigned access, uint64_t *gpa, struct strio_fault *f)
{
	uint64_t page = lin & ~(PAGE_SIZE - 1);
	int err;

	if (t->valid && t->lin_page == page) {
		*gpa = t->gpa_page | (lin & (PAGE_SIZE - 1));
		return 0;
	}
	err = ops->translate(ops->ctx, lin, access, gpa, &f->error);
	if (err == -E_FAULT)
		f->cr2 = lin;
	if (err)
		return err;
	*t = (struct tlb){ true, page, *gpa & ~(PAGE_SIZE - 1) };
	return 0;
}

/* the pieces of the element at lin; returns how many, or a translation's error */
static int locate(const struct strio *s, const struct strio_ops *ops, struct tlb *t,
		  uint64_t lin, struct piece p[2], struct strio_fault *f)
{
	unsigned access = s->in ? GPT_WRITE : 0;
	unsigned first = MIN(s->size, PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
	uint64_t next = (lin + first) & (s->mode == 8 ? ~0ull : 0xffffffffu);
	int err;

	if ((err = translate(ops, t, lin, access, &p[0].gpa, f)))
		return err;
	p[0].len = first;
	if (first == s->size)
		return 1;
	if ((err = translate(ops, t, next, access, &p[1].gpa, f)))
		return err;
	p[1].len = s->size - first;
	return 2;
}

/* a split element goes byte by byte */
static bool mem_read(const struct strio_ops *ops, const struct piece *p, int n,
		     unsigned size, uint32_t *val)
{
	uint64_t v = 0, b;
	unsigned shift = 0, j;
	int i;

	if (n == 1) {
		if (!ops->mem_read(ops->ctx, p[0].gpa, &v, size))
			return false;
		*val = v & mask(size);
		return true;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < p[i].len; j++, shift += 8) {
			b = 0;
			if (!ops->mem_read(ops->ctx, p[i].gpa + j, &b, 1))
				return false;
			v |= (b & 0xff) << shift;
		}
	}
	*val = v;
	return true;
}

static bool mem_write(const struct strio_ops *ops, const struct piece *p, int n,
		      unsigned size, uint32_t val)
{
	unsigned j;
	int i;

	if (n == 1)
		return ops->mem_write(ops->ctx, p[0].gpa, val, size);
	for (i = 0; i < n; i++) {
		for (j = 0; j < p[i].len; j++, val >>= 8)
			if (!ops->mem_write(ops->ctx, p[i].gpa + j, val & 0xff, 1))
				return false;
	}
	return true;
}

/* where rSI or rDI points: in 64-bit code only FS and GS have a base (SDM 3.2.4) */
static uint64_t linear(const struct strio *s, const struct insn_regs *r,
		       const uint64_t seg_base[6])
{
	unsigned seg = s->in ? SEG_ES : s->seg;
	uint64_t off = r->gpr[s->in ? GPR_RDI : GPR_RSI] & mask(s->adsize);

	if (s->mode == 8)
		return off + (seg == SEG_FS || seg == SEG_GS ? seg_base[seg] : 0);
	return (seg_base[seg] + off) & 0xffffffffu;
}

/* one element between the port and the memory rSI or rDI points at */
static int element(const struct strio *s, struct insn_regs *r, const uint64_t seg_base[6],
		   const struct strio_ops *ops, struct tlb *t, struct strio_fault *f)
{
	uint64_t lin = linear(s, r, seg_base);
	struct piece p[2];
	uint32_t v = 0;
	int n = locate(s, ops, t, lin, p, f);

	if (n < 0)
		return n;
	if (s->in) {
		if (!ops->port_in(ops->ctx, s->port, s->size, &v))
			return -E_IO;
		return mem_write(ops, p, n, s->size, v & mask(s->size)) ? 0 : -E_RANGE;
	}
	if (!mem_read(ops, p, n, s->size, &v))
		return -E_RANGE;
	return ops->port_out(ops->ctx, s->port, s->size, v) ? 0 : -E_IO;
}

int strio_run(const struct strio *s, struct insn_regs *r, const uint64_t seg_base[6],
	      const struct strio_ops *ops, unsigned max, struct strio_fault *f)
{
	unsigned reg = s->in ? GPR_RDI : GPR_RSI;
	uint64_t delta = (r->rflags & RFLAGS_DF) ? -(uint64_t)s->size : s->size;
	uint64_t count = s->rep ? r->gpr[GPR_RCX] & mask(s->adsize) : 1;
	struct tlb t = { false, 0, 0 };
	int err;

	for (; count && max; max--) {
		if ((err = element(s, r, seg_base, ops, &t, f)))
			return err;
		set_addr_reg(r, reg, s->adsize, r->gpr[reg] + delta);
		count--;
		if (s->rep)
			set_addr_reg(r, GPR_RCX, s->adsize, count);
	}
	return count ? INSN_MORE : INSN_DONE;
}
