/* Instructions tern carries out for a guest because they touch devices: a MOV (or
 * another instruction hv/insn.c knows) on device memory, and string port I/O. The CPU
 * reports only where the access went; the instruction comes from the guest's memory,
 * through its own page tables, as the CPU fetched it. */
#include "hv/backend.h"
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/insn.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/pc.h"
#include "hv/strio.h"
#include "hv/vcpu.h"
#include "hv/vm.h"

#define STRIO_BATCH 4096 /* elements a string I/O exit moves before the guest runs again */

static bool mem_read(void *ctx, uint64_t g, uint64_t *val, unsigned size)
{
	*val = 0;
	return gpa_read(ctx, gpa(g), val, size);
}

static bool mem_write(void *ctx, uint64_t g, uint64_t val, unsigned size)
{
	return gpa_write(ctx, gpa(g), &val, size);
}

/* The instruction's operands may be RAM (a MOVS from a buffer to a device) or device
 * memory. */
static bool bus_read(void *ctx, uint64_t g, uint64_t *val, unsigned size)
{
	struct vcpu *v = ctx;

	if (g < v->vm->mem_size)
		return mem_read(v->vm, g, val, size);
	return pc_mmio(v->vm, v->index, g, size, false, val);
}

static bool bus_write(void *ctx, uint64_t g, uint64_t val, unsigned size)
{
	struct vcpu *v = ctx;

	if (g < v->vm->mem_size)
		return mem_write(v->vm, g, val, size);
	return pc_mmio(v->vm, v->index, g, size, true, &val);
}

struct cpu_view {
	struct gpt_mode mode;
	uint64_t seg_base[6];
	uint16_t cs_attr;
	unsigned code_size;
};

static void view(struct vcpu *v, struct cpu_view *c)
{
	const struct hv_backend *b = hv_backend();
	struct seg_state s;

	memset(c, 0, sizeof(*c));
	for (int i = SEG_ES; i <= SEG_GS; i++) {
		b->get_seg(v, i, &s);
		c->seg_base[i] = s.base;
		if (i == SEG_CS)
			c->cs_attr = s.attr;
		if (i == SEG_SS) /* CPL is SS.DPL (SDM 5.5) */
			c->mode.cpl = (s.attr >> SEG_DPL_SHIFT) & 3;
	}
	c->mode.cr0 = b->get_sreg(v, SREG_CR0);
	c->mode.cr3 = b->get_sreg(v, SREG_CR3);
	c->mode.cr4 = b->get_sreg(v, SREG_CR4);
	c->mode.efer = b->get_sreg(v, SREG_EFER);
	c->mode.ac = v->rflags & RFLAGS_AC;
	c->mode.maxphyaddr = cpu_maxphyaddr(&v->vm->cpu);
	c->code_size = insn_code_size(c->mode.cr0, c->mode.efer, v->rflags, c->cs_attr);
}

static unsigned inject_pf(struct vcpu *v, uint64_t cr2, uint32_t error)
{
	hv_backend()->set_sreg(v, SREG_CR2, cr2);
	hv_backend()->inject_exception(v, VEC_PF, true, error);
	return VA_RESUME;
}

/* Fetches the bytes at CS:RIP, up to a page boundary's worth at a time. */
static int fetch(struct vcpu *v, const struct cpu_view *c, uint8_t *code, unsigned *n,
		 uint64_t *cr2, uint32_t *pfe)
{
	const struct gpt_mem mem = { v->vm, mem_read, mem_write };
	uint64_t lin = c->seg_base[SEG_CS] + v->rip, fault;
	struct gpt_span span[2];
	int k, got = 0;

	if (c->code_size != 8)
		lin &= 0xffffffffu;
	k = gpt_walk_range(&c->mode, &mem, lin, INSN_MAX, GPT_FETCH, span, &fault, pfe);
	if (k < 0) {
		*cr2 = fault;
		return k;
	}
	for (int i = 0; i < k; i++) {
		if (!gpa_read(v->vm, gpa(span[i].gpa), code + got, span[i].len))
			return -E_RANGE;
		got += (int)span[i].len;
	}
	*n = (unsigned)got;
	return 0;
}

static void regs_in(const struct vcpu *v, struct insn_regs *r)
{
	memcpy(r->gpr, v->gpr, sizeof(r->gpr));
	r->rip = v->rip;
	r->rflags = v->rflags;
}

static void regs_out(struct vcpu *v, const struct insn_regs *r)
{
	memcpy(v->gpr, r->gpr, sizeof(v->gpr));
	v->rip = r->rip;
	v->rflags = r->rflags;
}

/* An access to guest-physical g outside RAM: a device's registers, or nothing. */
unsigned vcpu_mmio(struct vcpu *v, uint64_t g, bool write, bool fetch_access)
{
	const struct gpt_mem mem = { v->vm, mem_read, mem_write };
	const struct insn_bus bus = { v, bus_read, bus_write };
	struct cpu_view c;
	struct insn in;
	struct insn_regs r;
	struct insn_ref ref[2];
	uint64_t gpas[2] = { 0, 0 }, cr2 = 0;
	uint8_t code[INSN_MAX];
	unsigned n = 0, nrefs;
	uint32_t pfe = 0;
	char why[96];
	int e;

	if (fetch_access || !pc_mmio_owner(v->vm, v->index, g)) {
		vm_kill(v->vm, "%s of guest-physical 0x%llx outside its %llu MiB of RAM, at rip 0x%llx",
			fetch_access ? "instruction fetch" : write ? "write" : "read",
			(unsigned long long)g, (unsigned long long)(v->vm->mem_size / MIB),
			(unsigned long long)v->rip);
		return VA_STOP;
	}
	view(v, &c);
	e = fetch(v, &c, code, &n, &cr2, &pfe);
	if (e == -E_FAULT)
		return inject_pf(v, cr2, pfe);
	if (e)
		return vcpu_kill(v, "device access by an instruction tern cannot read");
	e = insn_decode(&in, code, n, c.code_size);
	if (e) {
		insn_unsupported(&in, v->rip, why, sizeof(why));
		vm_kill(v->vm, "device memory at 0x%llx: %s", (unsigned long long)g, why);
		return VA_STOP;
	}
	regs_in(v, &r);
	/* REP string instructions: a batch of elements, then the guest again */
	for (unsigned i = 0; i < STRIO_BATCH; i++) {
		nrefs = insn_mem_refs(&in, &r, c.seg_base, ref);
		for (unsigned k = 0; k < nrefs; k++) {
			e = gpt_walk(&c.mode, &mem, ref[k].lin, ref[k].access, &gpas[k], &pfe);
			if (e == -E_FAULT) {
				regs_out(v, &r);
				return inject_pf(v, ref[k].lin, pfe);
			}
			if (e)
				return vcpu_kill(v, "device access through unreadable page tables");
		}
		e = insn_emulate(&in, &r, &bus, gpas);
		if (e < 0)
			return vcpu_kill(v, "device access that reaches no device");
		if (e == INSN_DONE)
			break;
	}
	regs_out(v, &r);
	return vcpu_after_apic(v, v->vm->state == VM_RUNNING && !v->vm->pc->request ? VA_RESUME
										 : VA_STOP);
}

static int strio_translate(void *ctx, uint64_t lin, unsigned access, uint64_t *g,
			   uint32_t *pfe)
{
	struct cpu_view *c = ((void **)ctx)[1];
	const struct gpt_mem mem = { ((void **)ctx)[0], mem_read, mem_write };

	return gpt_walk(&c->mode, &mem, lin, access, g, pfe);
}

static bool port_in(void *ctx, uint16_t port, unsigned size, uint32_t *val)
{
	return pc_io(((void **)ctx)[0], port, size, true, val);
}

static bool port_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	return pc_io(((void **)ctx)[0], port, size, false, &val);
}

static bool strio_read(void *ctx, uint64_t g, uint64_t *val, unsigned size)
{
	return mem_read(((void **)ctx)[0], g, val, size);
}

static bool strio_write(void *ctx, uint64_t g, uint64_t val, unsigned size)
{
	return mem_write(((void **)ctx)[0], g, val, size);
}

/* INS and OUTS, with or without REP. seg: the segment OUTS reads (INS: ES). */
unsigned vcpu_string_io(struct vcpu *v, uint16_t port, unsigned size, bool in, bool rep,
			unsigned adsize, unsigned seg)
{
	struct cpu_view c;
	void *ctx[2] = { v->vm, &c };
	const struct strio_ops ops = { ctx, strio_translate, strio_read, strio_write, port_in,
				       port_out };
	struct strio s = { port, (uint8_t)size, in, rep, (uint8_t)adsize, 0, (uint8_t)seg };
	struct strio_fault f;
	struct insn_regs r;
	int e;

	view(v, &c);
	s.mode = (uint8_t)c.code_size;
	regs_in(v, &r);
	e = strio_run(&s, &r, c.seg_base, &ops, STRIO_BATCH, &f);
	regs_out(v, &r);
	if (e == -E_FAULT)
		return inject_pf(v, f.cr2, f.error);
	if (e < 0 && (v->vm->state != VM_RUNNING || v->vm->pc->request))
		return VA_STOP; /* the device ended the VM (the exit port) or reset it */
	if (e < 0)
		return vcpu_kill(v, "string I/O on a buffer outside the guest's RAM");
	if (v->vm->state != VM_RUNNING || v->vm->pc->request)
		return e == INSN_DONE ? VA_SKIP | VA_STOP : VA_STOP;
	return e == INSN_DONE ? VA_SKIP : VA_RESUME;
}
