/* The guest page-table walk against tables built in a fake guest RAM. */
#include <stdio.h>
#include <string.h>
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/x86.h"
#include "tests/unit/stubs.h"

#define RAM_SIZE (4 * MIB)
#define P (1ull << 0)
#define RW (1ull << 1)
#define US (1ull << 2)
#define A (1ull << 5)
#define D (1ull << 6)
#define PS (1ull << 7)
#define XD (1ull << 63)

static uint8_t ram[RAM_SIZE];
static uint64_t next_table;
static unsigned writes; /* A/D updates the walk made */

static bool ram_read(void *ctx, uint64_t gpa, uint64_t *val, unsigned size)
{
	if (gpa >= RAM_SIZE || gpa + size > RAM_SIZE)
		return false;
	*val = 0;
	memcpy(val, ram + gpa, size);
	return true;
}

static bool ram_write(void *ctx, uint64_t gpa, uint64_t val, unsigned size)
{
	if (gpa >= RAM_SIZE || gpa + size > RAM_SIZE)
		return false;
	memcpy(ram + gpa, &val, size);
	writes++;
	return true;
}

static const struct gpt_mem mem = { NULL, ram_read, ram_write };

static uint64_t peek(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, ram + gpa, size);
	return v;
}

static void poke(uint64_t gpa, uint64_t v, unsigned size)
{
	memcpy(ram + gpa, &v, size);
}

/* A paging mode's shape, for building its tables. */
struct shape {
	unsigned n, esize;
	unsigned shift[4];
	bool pae; /* PDPTEs take no flags but P */
};

static const struct shape s32 = { 2, 4, { 22, 12 }, false };
static const struct shape spae = { 3, 8, { 30, 21, 12 }, true };
static const struct shape s4l = { 4, 8, { 39, 30, 21, 12 }, false };

static unsigned index_bits(const struct shape *s, unsigned lvl)
{
	if (s->esize == 4)
		return 10;
	return (s->pae && lvl == 0) ? 2 : 9;
}

static uint64_t new_table(void)
{
	uint64_t t = next_table;

	next_table += PAGE_SIZE;
	assert_true(next_table <= RAM_SIZE);
	memset(ram + t, 0, PAGE_SIZE);
	return t;
}

/* where the entry of level lvl for lin lives, creating tables (P RW US) on the way */
static uint64_t entry_at(const struct shape *s, uint64_t root, uint64_t lin, unsigned lvl)
{
	uint64_t table = root;
	unsigned i;

	for (i = 0;; i++) {
		uint64_t idx = (lin >> s->shift[i]) & ((1u << index_bits(s, i)) - 1);
		uint64_t where = table + idx * s->esize, e;

		if (i == lvl)
			return where;
		e = peek(where, s->esize);
		if (!(e & P)) {
			e = new_table() | P | (s->pae && i == 0 ? 0 : RW | US);
			poke(where, e, s->esize);
		}
		table = e & 0x000ffffffffff000ull;
	}
}

static void map(const struct shape *s, uint64_t root, uint64_t lin, unsigned lvl,
		uint64_t leaf)
{
	poke(entry_at(s, root, lin, lvl), leaf, s->esize);
}

static void reset(void)
{
	memset(ram, 0, sizeof(ram));
	next_table = 0x100000;
	writes = 0;
}

static struct gpt_mode mode_32(void)
{
	reset();
	return (struct gpt_mode){ .cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = new_table(),
				  .maxphyaddr = 36 };
}

static struct gpt_mode mode_pae(void)
{
	reset();
	/* the PDPT is 32-byte aligned, not page aligned; PWT and PCD are set in CR3 */
	return (struct gpt_mode){ .cr0 = CR0_PE | CR0_PG | CR0_WP, .cr4 = CR4_PAE,
				  .cr3 = new_table() + 0x20 + 0x18, .efer = EFER_NXE,
				  .maxphyaddr = 40 };
}

static struct gpt_mode mode_4l(void)
{
	reset();
	return (struct gpt_mode){ .cr0 = CR0_PE | CR0_PG | CR0_WP, .cr4 = CR4_PAE,
				  .cr3 = new_table(), .efer = EFER_LME | EFER_LMA | EFER_NXE,
				  .maxphyaddr = 46 };
}

static uint64_t root(const struct gpt_mode *m)
{
	if (m->cr4 & CR4_PAE && !(m->efer & EFER_LMA))
		return m->cr3 & ~0x1full;
	return m->cr3 & ~0xfffull;
}

/* a walk expected to succeed */
static uint64_t xlate(const struct gpt_mode *m, uint64_t lin, unsigned access)
{
	uint64_t gpa = 0;
	uint32_t pf = 0xdead;

	assert_int_equal(gpt_walk(m, &mem, lin, access, &gpa, &pf), 0);
	assert_int_equal(pf, 0xdead);
	return gpa;
}

/* a walk expected to fault, with nothing written */
static uint32_t fault(const struct gpt_mode *m, uint64_t lin, unsigned access)
{
	uint64_t gpa = 0x5a5a;
	uint32_t pf = 0;
	unsigned before = writes;

	assert_int_equal(gpt_walk(m, &mem, lin, access, &gpa, &pf), -E_FAULT);
	assert_int_equal(gpa, 0x5a5a);
	assert_int_equal(writes, before);
	return pf;
}

static void test_no_paging(void **state)
{
	struct gpt_mode m = { .cr0 = CR0_PE, .maxphyaddr = 36 };

	reset();
	assert_int_equal(xlate(&m, 0xfee00030, GPT_WRITE), 0xfee00030);
	m.cr0 = 0;
	assert_int_equal(xlate(&m, 0xb8000, GPT_FETCH), 0xb8000);
	assert_int_equal(writes, 0);
}

static void test_32bit_4k(void **state)
{
	struct gpt_mode m = mode_32();
	uint64_t lin = 0xc0123456, pde, pte;

	map(&s32, root(&m), lin, 1, 0x00345000 | P | RW);
	pde = entry_at(&s32, root(&m), lin, 0);
	pte = entry_at(&s32, root(&m), lin, 1);
	assert_int_equal(xlate(&m, lin, 0), 0x00345456);
	assert_int_equal(peek(pde, 4) & (A | D), A);
	assert_int_equal(peek(pte, 4) & (A | D), A); /* a read leaves D clear */
	assert_int_equal(writes, 2);
	assert_int_equal(xlate(&m, lin, 0), 0x00345456);
	assert_int_equal(writes, 2); /* flags already set: nothing written */
	assert_int_equal(xlate(&m, lin, GPT_WRITE), 0x00345456);
	assert_int_equal(peek(pte, 4) & (A | D), A | D);
	assert_int_equal(peek(pde, 4) & D, 0); /* D only in the leaf */
	assert_int_equal(writes, 3);
	/* bit 7 of a PTE is PAT, not PS; other high bits are the frame */
	poke(pte, 0xfffff000 | P | RW | PS, 4);
	assert_int_equal(xlate(&m, lin, 0), 0xfffff456);
}

static void test_32bit_4m(void **state)
{
	struct gpt_mode m = mode_32();
	uint64_t lin = 0x80654321, pde = entry_at(&s32, root(&m), lin, 0);
	uint64_t pt = new_table();

	/* with CR4.PSE the PDE maps 4 MiB; bits 16:13 are physical 35:32 (PSE-36) */
	poke(pde, 0x12800000 | (0x5ull << 13) | PS | P | RW, 4);
	poke(pt + ((lin >> 12) & 0x3ff) * 4, 0x00777000 | P, 4);
	m.cr4 = CR4_PSE;
	assert_int_equal(xlate(&m, lin, GPT_WRITE), 0x512a54321ull);
	assert_int_equal(peek(pde, 4) & (A | D), A | D);
	/* without CR4.PSE, PS is ignored: the same frame bits name a page table */
	m.cr4 = 0;
	poke(pde, pt | PS | P, 4);
	assert_int_equal(xlate(&m, lin, 0), 0x00777321);
	/* bit 21, and PSE-36 bits above MAXPHYADDR, are reserved */
	m.cr4 = CR4_PSE;
	poke(pde, 0x12800000 | (1ull << 21) | PS | P, 4);
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
	poke(pde, 0x12800000 | (1ull << 17) | PS | P, 4); /* physical bit 36, M = 36 */
	assert_int_equal(fault(&m, lin, GPT_WRITE), PFEC_P | PFEC_RSVD | PFEC_W);
	m.maxphyaddr = 40;
	assert_int_equal(xlate(&m, lin, 0), 0x1012a54321ull);
	/* a 32-bit PTE has no reserved bits at all */
	m.cr4 = 0;
	poke(pde, pt | P, 4);
	poke(pt + ((lin >> 12) & 0x3ff) * 4, 0xffffffff, 4);
	assert_int_equal(xlate(&m, lin, 0), 0xfffff321);
}

static void test_pae(void **state)
{
	struct gpt_mode m = mode_pae();
	uint64_t lin = 0x7fe12345, lin2m = 0xc0345678, pdpte, pde;

	map(&spae, root(&m), lin, 2, 0xabcdef000ull | P | RW | US);
	map(&spae, root(&m), lin2m, 1, 0x3400000ull | PS | P | RW);
	pdpte = entry_at(&spae, root(&m), lin, 0);
	pde = entry_at(&spae, root(&m), lin2m, 1);
	assert_int_equal(pdpte, root(&m) + 8); /* at CR3 bits 31:5, index 1 */
	assert_int_equal(xlate(&m, lin, GPT_WRITE), 0xabcdef345ull);
	/* PDPTEs have no Accessed flag: bit 5 is reserved there */
	assert_int_equal(peek(pdpte, 8) & A, 0);
	assert_int_equal(xlate(&m, lin2m, GPT_WRITE), 0x3545678);
	assert_int_equal(peek(pde, 8) & (A | D), A | D);
	/* reserved: a PDPTE's RW bit, a 2 MiB leaf's bit 13, bits above MAXPHYADDR,
	 * and XD without EFER.NXE */
	poke(pdpte, peek(pdpte, 8) | RW, 8);
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
	poke(pdpte, peek(pdpte, 8) & ~RW, 8);
	poke(pde, peek(pde, 8) | (1ull << 13), 8);
	assert_int_equal(fault(&m, lin2m, 0), PFEC_P | PFEC_RSVD);
	poke(pde, (peek(pde, 8) & ~(1ull << 13)) | (1ull << 40), 8);
	assert_int_equal(fault(&m, lin2m, 0), PFEC_P | PFEC_RSVD);
	poke(pde, (peek(pde, 8) & ~(1ull << 40)) | XD, 8);
	assert_int_equal(fault(&m, lin2m, GPT_FETCH), PFEC_P | PFEC_I);
	assert_int_equal(xlate(&m, lin2m, 0), 0x3545678);
	m.efer = 0;
	assert_int_equal(fault(&m, lin2m, 0), PFEC_P | PFEC_RSVD);
	/* no NX: fetch faults carry no I/D bit */
	poke(pde, 0, 8);
	assert_int_equal(fault(&m, lin2m, GPT_FETCH), 0);
}

static void test_pae_pdpte_registers(void **state)
{
	struct gpt_mode m = mode_pae();
	uint64_t lin = 0x40001000, regs[4] = { 0 };

	map(&spae, root(&m), lin, 2, 0x222000 | P);
	/* the CPU's PDPTE registers win over what memory at CR3 now says */
	regs[1] = peek(entry_at(&spae, root(&m), lin, 0), 8);
	poke(entry_at(&spae, root(&m), lin, 0), 0, 8);
	assert_int_equal(fault(&m, lin, 0), 0);
	m.pdpte = regs;
	assert_int_equal(xlate(&m, lin, 0), 0x222000);
	regs[1] = 0;
	assert_int_equal(fault(&m, lin, GPT_WRITE), PFEC_W);
}

static void test_4level(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t l4k = 0xffff800012345678ull, l2m = 0x00007f0000234567ull;
	uint64_t l1g = 0xffffffff80123456ull;
	unsigned i;

	map(&s4l, root(&m), l4k, 3, 0x3ffffffff000ull | P | RW); /* up to bit 45: M = 46 */
	map(&s4l, root(&m), l2m, 2, 0x40000000ull | PS | P | RW | US);
	map(&s4l, root(&m), l1g, 1, 0x1c0000000ull | PS | P | RW);
	assert_int_equal(xlate(&m, l4k, GPT_WRITE), 0x3ffffffff678ull);
	assert_int_equal(xlate(&m, l2m, 0), 0x40034567ull);
	assert_int_equal(xlate(&m, l1g, GPT_FETCH), 0x1c0123456ull);
	for (i = 0; i < 4; i++)
		assert_int_equal(peek(entry_at(&s4l, root(&m), l4k, i), 8) & A, A);
	assert_int_equal(peek(entry_at(&s4l, root(&m), l4k, 3), 8) & D, D);
	assert_int_equal(peek(entry_at(&s4l, root(&m), l1g, 1), 8) & D, 0);
	/* bits 62:52 are ignored, not reserved */
	poke(entry_at(&s4l, root(&m), l4k, 3), peek(entry_at(&s4l, root(&m), l4k, 3), 8) |
	     0x7ff0000000000000ull, 8);
	assert_int_equal(xlate(&m, l4k, 0), 0x3ffffffff678ull);
	/* PAT (bit 12) in a large leaf is not an address bit */
	map(&s4l, root(&m), l2m, 2, 0x40000000ull | (1ull << 12) | PS | P | RW | US);
	assert_int_equal(xlate(&m, l2m, 0), 0x40034567ull);
	/* non-canonical: #GP, not a walk; LA57 and protection keys: refused */
	assert_int_equal(gpt_walk(&m, &mem, 0x0000800000000000ull, 0, &(uint64_t){ 0 },
				  &(uint32_t){ 0 }), -E_INVAL);
	m.cr4 |= CR4_LA57;
	assert_int_equal(gpt_walk(&m, &mem, l4k, 0, &(uint64_t){ 0 }, &(uint32_t){ 0 }),
			 -E_NOSUP);
}

static void test_4level_reserved(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t lin = 0x0000123456789000ull;
	uint64_t pml4e, pdpte, pde;

	map(&s4l, root(&m), lin, 3, 0x5000 | P | RW);
	pml4e = entry_at(&s4l, root(&m), lin, 0);
	pdpte = entry_at(&s4l, root(&m), lin, 1);
	pde = entry_at(&s4l, root(&m), lin, 2);
	/* PS in a PML4E */
	poke(pml4e, peek(pml4e, 8) | PS, 8);
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
	poke(pml4e, peek(pml4e, 8) & ~PS, 8);
	/* a table address above MAXPHYADDR */
	poke(pde, peek(pde, 8) | (1ull << 46), 8);
	assert_int_equal(fault(&m, lin, GPT_WRITE), PFEC_P | PFEC_RSVD | PFEC_W);
	m.maxphyaddr = 47; /* now the bit is an address: of a table outside RAM */
	assert_int_equal(gpt_walk(&m, &mem, lin, 0, &(uint64_t){ 0 }, &(uint32_t){ 0 }),
			 -E_RANGE);
	m.maxphyaddr = 46;
	poke(pde, peek(pde, 8) & ~(1ull << 46), 8);
	/* a 1 GiB leaf reserves bits 29:13 */
	poke(pdpte, 0x40000000ull | (1ull << 29) | PS | P, 8);
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
	/* not present beats reserved bits: they are not looked at */
	poke(pdpte, 0x40000000ull | (1ull << 29) | PS, 8);
	assert_int_equal(fault(&m, lin, 0), 0);
	/* XD without NXE */
	poke(pdpte, 0x40000000ull | PS | P | XD, 8);
	m.efer &= ~EFER_NXE;
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
	m.efer |= EFER_NXE;
	assert_int_equal(xlate(&m, lin, 0), 0x56789000ull);
	assert_int_equal(fault(&m, lin, GPT_FETCH), PFEC_P | PFEC_I);
}

/* Access rights (SDM 4.6): each combination and its error code. */
static void test_rights(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t user_ro = 0x1000, user_rw = 0x2000, sup_rw = 0x3000, sup_ro = 0x4000;

	map(&s4l, root(&m), user_ro, 3, 0x11000 | P | US);
	map(&s4l, root(&m), user_rw, 3, 0x12000 | P | US | RW);
	map(&s4l, root(&m), sup_rw, 3, 0x13000 | P | RW);
	map(&s4l, root(&m), sup_ro, 3, 0x14000 | P);
	/* user mode */
	m.cpl = 3;
	assert_int_equal(xlate(&m, user_ro, 0), 0x11000);
	assert_int_equal(fault(&m, user_ro, GPT_WRITE), PFEC_P | PFEC_W | PFEC_U);
	assert_int_equal(xlate(&m, user_rw, GPT_WRITE), 0x12000);
	assert_int_equal(fault(&m, sup_rw, 0), PFEC_P | PFEC_U);
	assert_int_equal(fault(&m, sup_rw, GPT_FETCH), PFEC_P | PFEC_U | PFEC_I);
	m.cr0 &= ~CR0_WP; /* WP does not matter to user writes */
	assert_int_equal(fault(&m, user_ro, GPT_WRITE), PFEC_P | PFEC_W | PFEC_U);
	/* implicit accesses at CPL 3 are supervisor accesses: U/S = 0 */
	assert_int_equal(xlate(&m, sup_rw, GPT_IMPLICIT | GPT_WRITE), 0x13000);
	/* supervisor: WP */
	m.cpl = 0;
	assert_int_equal(xlate(&m, sup_ro, GPT_WRITE), 0x14000);
	assert_int_equal(xlate(&m, user_ro, GPT_WRITE), 0x11000);
	m.cr0 |= CR0_WP;
	assert_int_equal(fault(&m, sup_ro, GPT_WRITE), PFEC_P | PFEC_W);
	assert_int_equal(fault(&m, user_ro, GPT_WRITE), PFEC_P | PFEC_W);
	/* R/W = 0 at a higher level makes the page read-only too */
	poke(entry_at(&s4l, root(&m), sup_rw, 2),
	     peek(entry_at(&s4l, root(&m), sup_rw, 2), 8) & ~RW, 8);
	assert_int_equal(fault(&m, sup_rw, GPT_WRITE), PFEC_P | PFEC_W);
	assert_int_equal(fault(&m, user_rw, GPT_WRITE), PFEC_P | PFEC_W);
	m.cpl = 3;
	assert_int_equal(fault(&m, user_rw, GPT_WRITE), PFEC_P | PFEC_W | PFEC_U);
	/* U/S = 0 at a higher level makes it a supervisor page */
	poke(entry_at(&s4l, root(&m), user_ro, 1),
	     peek(entry_at(&s4l, root(&m), user_ro, 1), 8) & ~US, 8);
	assert_int_equal(fault(&m, user_ro, 0), PFEC_P | PFEC_U);
}

static void test_smep_smap(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t user = 0x1000, sup = 0x2000;

	map(&s4l, root(&m), user, 3, 0x11000 | P | US | RW);
	map(&s4l, root(&m), sup, 3, 0x12000 | P | RW);
	/* without SMEP and SMAP the kernel reaches user pages */
	assert_int_equal(xlate(&m, user, GPT_FETCH), 0x11000);
	assert_int_equal(xlate(&m, user, GPT_WRITE), 0x11000);
	m.cr4 |= CR4_SMEP;
	assert_int_equal(fault(&m, user, GPT_FETCH), PFEC_P | PFEC_I);
	assert_int_equal(xlate(&m, sup, GPT_FETCH), 0x12000);
	assert_int_equal(xlate(&m, user, 0), 0x11000); /* SMEP is about fetches */
	m.cpl = 3;
	assert_int_equal(xlate(&m, user, GPT_FETCH), 0x11000);
	m.cpl = 0;
	m.cr4 |= CR4_SMAP;
	assert_int_equal(fault(&m, user, 0), PFEC_P);
	assert_int_equal(fault(&m, user, GPT_WRITE), PFEC_P | PFEC_W);
	m.ac = true; /* STAC: explicit accesses are allowed */
	assert_int_equal(xlate(&m, user, GPT_WRITE), 0x11000);
	/* ... but not implicit ones, at any CPL */
	assert_int_equal(fault(&m, user, GPT_IMPLICIT), PFEC_P);
	m.cpl = 3;
	assert_int_equal(fault(&m, user, GPT_IMPLICIT | GPT_WRITE), PFEC_P | PFEC_W);
	assert_int_equal(xlate(&m, user, GPT_WRITE), 0x11000); /* user access: no SMAP */
	/* SMEP gives fetch faults the I/D bit even in 32-bit paging */
	m = mode_32();
	map(&s32, root(&m), user, 1, 0x11000 | P | US);
	map(&s32, root(&m), sup, 1, 0);
	assert_int_equal(fault(&m, sup, GPT_FETCH), 0);
	m.cr4 |= CR4_SMEP;
	assert_int_equal(fault(&m, sup, GPT_FETCH), PFEC_I);
	assert_int_equal(fault(&m, user, GPT_FETCH), PFEC_P | PFEC_I);
}

static void test_not_present_each_level(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t lin = 0x00007fffffffe123ull;
	unsigned lvl;

	map(&s4l, root(&m), lin, 3, 0x9000 | P | RW | US);
	for (lvl = 0; lvl < 4; lvl++) {
		uint64_t e = entry_at(&s4l, root(&m), lin, lvl), v = peek(e, 8);

		poke(e, v & ~P, 8);
		m.cpl = 3;
		assert_int_equal(fault(&m, lin, GPT_WRITE), PFEC_W | PFEC_U);
		m.cpl = 0;
		assert_int_equal(fault(&m, lin, GPT_FETCH), PFEC_I);
		poke(e, v, 8);
	}
	assert_int_equal(xlate(&m, lin, 0), 0x9123);
}

static void test_outside_ram(void **state)
{
	struct gpt_mode m = mode_4l();
	uint64_t lin = 0x1000, gpa;
	uint32_t pf;

	m.cr3 = 64 * GIB; /* the PML4 itself */
	assert_int_equal(gpt_walk(&m, &mem, lin, 0, &gpa, &pf), -E_RANGE);
	m = mode_32();
	poke(entry_at(&s32, root(&m), lin, 0), 0x80000000u | P | RW, 4);
	assert_int_equal(gpt_walk(&m, &mem, lin, 0, &gpa, &pf), -E_RANGE);
	/* the leaf's frame may be anywhere (MMIO): only the tables must be RAM */
	poke(entry_at(&s32, root(&m), lin, 0), 0, 4);
	map(&s32, root(&m), lin, 1, 0xfee00000u | P | RW);
	assert_int_equal(xlate(&m, lin + 0x30, GPT_WRITE), 0xfee00030u);
	/* a 4 MiB PDE for 0xfee00000 is not 4 MiB aligned: bit 21 is reserved */
	poke(entry_at(&s32, root(&m), lin, 0), 0xfee00000u | PS | P | RW, 4);
	m.cr4 = CR4_PSE;
	assert_int_equal(fault(&m, lin, 0), PFEC_P | PFEC_RSVD);
}

static void test_range(void **state)
{
	struct gpt_mode m = mode_32();
	struct gpt_span sp[2];
	uint64_t cr2;
	uint32_t pf;

	map(&s32, root(&m), 0x5000, 1, 0x21000 | P | RW);
	map(&s32, root(&m), 0x6000, 1, 0x37000 | P | RW);
	map(&s32, root(&m), 0xfffff000, 1, 0x40000 | P | RW);
	map(&s32, root(&m), 0, 1, 0x41000 | P);
	/* inside one page */
	assert_int_equal(gpt_walk_range(&m, &mem, 0x5100, 4, 0, sp, &cr2, &pf), 1);
	assert_int_equal(sp[0].gpa, 0x21100);
	assert_int_equal(sp[0].len, 4);
	/* across */
	assert_int_equal(gpt_walk_range(&m, &mem, 0x5ffe, 8, GPT_WRITE, sp, &cr2, &pf), 2);
	assert_int_equal(sp[0].gpa, 0x21ffe);
	assert_int_equal(sp[0].len, 2);
	assert_int_equal(sp[1].gpa, 0x37000);
	assert_int_equal(sp[1].len, 6);
	/* the second page faults: CR2 is its first byte */
	assert_int_equal(gpt_walk_range(&m, &mem, 0x6ffc, 8, 0, sp, &cr2, &pf), -E_FAULT);
	assert_int_equal(cr2, 0x7000);
	assert_int_equal(pf, 0);
	/* the first page faults: CR2 is the address */
	assert_int_equal(gpt_walk_range(&m, &mem, 0x4ffc, 8, 0, sp, &cr2, &pf), -E_FAULT);
	assert_int_equal(cr2, 0x4ffc);
	/* 32-bit linear addresses wrap at 4 GiB; page 0 is read-only */
	assert_int_equal(gpt_walk_range(&m, &mem, 0xfffffffe, 4, 0, sp, &cr2, &pf), 2);
	assert_int_equal(sp[0].gpa, 0x40ffe);
	assert_int_equal(sp[1].gpa, 0x41000);
	assert_int_equal(gpt_walk_range(&m, &mem, 0xfffffffe, 4, GPT_WRITE, sp, &cr2, &pf),
			 -E_FAULT);
	assert_int_equal(cr2, 0);
	assert_int_equal(pf, PFEC_P | PFEC_W);
	assert_int_equal(gpt_walk_range(&m, &mem, 0x5000, 0, 0, sp, &cr2, &pf), -E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_32bit_4k),
		cmocka_unit_test(test_32bit_4m),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_pae_pdpte_registers),
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_4level_reserved),
		cmocka_unit_test(test_rights),
		cmocka_unit_test(test_smep_smap),
		cmocka_unit_test(test_not_present_each_level),
		cmocka_unit_test(test_outside_ram),
		cmocka_unit_test(test_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
