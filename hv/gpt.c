/* The guest's page-table walk (SDM Vol. 3A 4.3 to 4.8). One walker, driven by a table of
 * levels per paging mode; the modes differ only in their levels, entry size, reserved
 * bits and how an entry names the next table or the page.
 *
 *  4-level  47    39 38    30 29    21 20    12 11      0
 *          | PML4  | PDPT   | PD     | PT     | offset  |   1 GiB and 2 MiB leaves
 *  PAE           31 30 29   21 20    12 11      0
 *                |PDPT| PD   | PT     | offset  |           2 MiB leaves; PDPTEs from CR3
 *  32-bit        31     22 21     12 11      0
 *                | PD     | PT     | offset  |              4 MiB leaves with CR4.PSE
 */
#include "hv/gpt.h"
#include "hv/error.h"
#include "hv/x86.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)

#define MAX_LEVELS 4

/* bits hi..lo set; none when hi < lo */
static uint64_t bits(unsigned hi, unsigned lo)
{
	if (hi < lo)
		return 0;
	return (~0ull >> (63 - hi)) & (~0ull << lo);
}

enum paging { PG_NONE, PG_32, PG_PAE, PG_4L };

struct level {
	uint8_t shift;  /* the lowest linear-address bit this level translates */
	uint8_t bits;   /* how many bits index it */
	uint8_t large;  /* an entry with PS = 1 here maps a page */
	uint8_t rights; /* its R/W, U/S and XD take part in the access rights */
};

struct paging_desc {
	const struct level *lv;
	unsigned nlv;
	unsigned esize; /* bytes per entry */
	uint64_t (*rsvd)(const struct gpt_mode *m, unsigned i, bool leaf_ps);
	uint64_t (*addr)(uint64_t e, unsigned shift, bool ps);
};

/* 32-bit paging (SDM 4.3): no reserved bits but in a 4 MiB PDE, where bits 20:13 are
 * physical-address bits 39:32 (PSE-36) up to MAXPHYADDR (at most 40), and bit 21. */
static uint64_t rsvd_32(const struct gpt_mode *m, unsigned i, bool ps)
{
	unsigned hi = MIN(m->maxphyaddr, 40u);

	if (!ps)
		return 0;
	return bits(21, 13 + (hi > 32 ? hi - 32 : 0));
}

static uint64_t addr_32(uint64_t e, unsigned shift, bool ps)
{
	if (!ps)
		return e & 0xfffff000u;
	return (e & 0xffc00000u) | ((e >> 13) & 0xff) << 32;
}

/* PAE paging (SDM 4.4): a PDPTE reserves 2:1, 8:5 and 63:M; other entries 62:M, bit 63
 * without EFER.NXE, and 20:13 in a 2 MiB leaf. */
static uint64_t rsvd_pae(const struct gpt_mode *m, unsigned i, bool ps)
{
	uint64_t r;

	if (i == 0)
		return bits(2, 1) | bits(8, 5) | bits(63, m->maxphyaddr);
	r = bits(62, m->maxphyaddr);
	if (!(m->efer & EFER_NXE))
		r |= PTE_XD;
	if (ps)
		r |= bits(20, 13);
	return r;
}

/* 4-level paging (SDM 4.5): 51:M everywhere (62:52 are ignored), bit 63 without NXE,
 * PS in a PML4E, and the bits between 13 and the page size in a large leaf (bit 12 is
 * PAT there). */
static uint64_t rsvd_4l(const struct gpt_mode *m, unsigned i, bool ps)
{
	uint64_t r = bits(51, m->maxphyaddr);

	if (!(m->efer & EFER_NXE))
		r |= PTE_XD;
	if (i == 0)
		r |= PTE_PS;
	if (ps)
		r |= bits(i == 1 ? 29 : 20, 13);
	return r;
}

static uint64_t addr_64(uint64_t e, unsigned shift, bool ps)
{
	return e & bits(51, ps ? shift : 12);
}

static const struct level lv_32[] = { { 22, 10, 1, 1 }, { 12, 10, 0, 1 } };
/* PDPTEs in PAE paging hold no access rights and no Accessed flag */
static const struct level lv_pae[] = { { 30, 2, 0, 0 }, { 21, 9, 1, 1 }, { 12, 9, 0, 1 } };
static const struct level lv_4l[] = { { 39, 9, 0, 1 }, { 30, 9, 1, 1 }, { 21, 9, 1, 1 },
				      { 12, 9, 0, 1 } };

static const struct paging_desc paging[] = {
	[PG_32] = { lv_32, ARRAY_SIZE(lv_32), 4, rsvd_32, addr_32 },
	[PG_PAE] = { lv_pae, ARRAY_SIZE(lv_pae), 8, rsvd_pae, addr_64 },
	[PG_4L] = { lv_4l, ARRAY_SIZE(lv_4l), 8, rsvd_4l, addr_64 },
};

static enum paging paging_mode(const struct gpt_mode *m)
{
	if (!(m->cr0 & CR0_PG))
		return PG_NONE;
	if (m->efer & EFER_LMA)
		return PG_4L;
	return (m->cr4 & CR4_PAE) ? PG_PAE : PG_32;
}

static uint64_t table_base(const struct gpt_mode *m, enum paging pg)
{
	if (pg == PG_32)
		return m->cr3 & 0xfffff000u;
	if (pg == PG_PAE)
		return m->cr3 & 0xffffffe0u;
	return m->cr3 & bits(m->maxphyaddr - 1, 12);
}

/* What a walk found: the entries it used, and the rights they give together. */
struct walk {
	uint64_t where[MAX_LEVELS];
	uint64_t entry[MAX_LEVELS];
	unsigned n;
	bool user, writable, nx;
	uint64_t gpa;
};

/* A user access is one at CPL 3 the program asked for; implicit ones are supervisor. */
static bool user_access(const struct gpt_mode *m, unsigned access)
{
	return m->cpl == 3 && !(access & GPT_IMPLICIT);
}

static uint32_t pf_code(const struct gpt_mode *m, unsigned access, uint32_t why)
{
	uint32_t code = why | (access & GPT_WRITE ? PFEC_W : 0);

	if (user_access(m, access))
		code |= PFEC_U;
	/* I/D only where execute rights exist to check (SDM 4.7) */
	if ((access & GPT_FETCH) && ((m->cr4 & CR4_SMEP) ||
				     ((m->cr4 & CR4_PAE) && (m->efer & EFER_NXE))))
		code |= PFEC_I;
	return code;
}

static bool read_entry(const struct gpt_mode *m, const struct gpt_mem *mem, enum paging pg,
		       const struct walk *w, uint64_t idx, uint64_t *e)
{
	/* the PDPTE registers, when the caller has them, are what the CPU uses (4.4.1) */
	if (pg == PG_PAE && w->n == 0 && m->pdpte) {
		*e = m->pdpte[idx];
		return true;
	}
	*e = 0;
	return mem->read(mem->ctx, w->where[w->n], e, paging[pg].esize);
}

/* Walks the tables for lin; 0, or -E_FAULT with the reason bits (P, RSVD) in *why. */
static int walk(const struct gpt_mode *m, const struct gpt_mem *mem, enum paging pg,
		uint64_t lin, struct walk *w, uint32_t *why)
{
	const struct paging_desc *d = &paging[pg];
	uint64_t table = table_base(m, pg);
	bool nxe = pg != PG_32 && (m->efer & EFER_NXE);

	w->user = w->writable = true;
	w->nx = false;
	w->gpa = 0;
	for (w->n = 0;; w->n++) {
		const struct level *l = &d->lv[w->n];
		uint64_t idx = (lin >> l->shift) & ((1u << l->bits) - 1), e;
		bool ps;

		w->where[w->n] = table + idx * d->esize;
		if (!read_entry(m, mem, pg, w, idx, &e))
			return -E_RANGE;
		w->entry[w->n] = e;
		if (!(e & PTE_P)) {
			*why = 0;
			return -E_FAULT;
		}
		/* PS means a page only where the mode has large pages (32-bit: CR4.PSE) */
		ps = l->large && (e & PTE_PS) && (pg != PG_32 || (m->cr4 & CR4_PSE));
		if (e & d->rsvd(m, w->n, ps)) {
			*why = PFEC_P | PFEC_RSVD;
			return -E_FAULT;
		}
		if (l->rights) {
			w->user &= !!(e & PTE_US);
			w->writable &= !!(e & PTE_RW);
			w->nx |= nxe && (e & PTE_XD);
		}
		table = d->addr(e, l->shift, ps);
		if (ps || w->n + 1 == d->nlv) {
			w->gpa = table | (lin & bits(l->shift - 1, 0));
			w->n++;
			return 0;
		}
	}
}

/* Access rights (SDM 4.6.1): U/S and R/W must allow the access in every entry used. */
static bool allowed(const struct gpt_mode *m, unsigned access, const struct walk *w)
{
	bool user = user_access(m, access);
	bool smap_off = m->ac && !user && !(access & GPT_IMPLICIT);

	if (access & GPT_FETCH) {
		if (w->nx)
			return false;
		return user ? w->user : !(w->user && (m->cr4 & CR4_SMEP));
	}
	if (user)
		return w->user && (!(access & GPT_WRITE) || w->writable);
	if (w->user && (m->cr4 & CR4_SMAP) && !smap_off)
		return false;
	return !(access & GPT_WRITE) || w->writable || !(m->cr0 & CR0_WP);
}

/* Accessed in every entry used, Dirty in the leaf for a write (SDM 4.8); set only once
 * the walk succeeded, as Intel CPUs do. A CPU sets them with a locked operation: with
 * several vCPUs the caller's write must not lose another's update of the same entry. */
static int set_flags(const struct gpt_mode *m, const struct gpt_mem *mem, enum paging pg,
		     const struct walk *w, unsigned access)
{
	const struct paging_desc *d = &paging[pg];
	unsigned i;

	for (i = 0; i < w->n; i++) {
		uint64_t e = w->entry[i];

		if (!d->lv[i].rights)
			continue;
		e |= PTE_A;
		if (i + 1 == w->n && (access & GPT_WRITE))
			e |= PTE_D;
		if (e != w->entry[i] && !mem->write(mem->ctx, w->where[i], e, d->esize))
			return -E_RANGE;
	}
	return 0;
}

static bool canonical(uint64_t lin)
{
	return (uint64_t)((int64_t)(lin << 16) >> 16) == lin;
}

int gpt_walk(const struct gpt_mode *m, const struct gpt_mem *mem, uint64_t lin,
	     unsigned access, uint64_t *gpa, uint32_t *pf_error)
{
	enum paging pg = paging_mode(m);
	struct walk w;
	uint32_t why;
	int err;

	if (pg == PG_NONE) {
		*gpa = lin & 0xffffffffu;
		return 0;
	}
	if ((m->cr4 & (CR4_LA57 | CR4_PKE | CR4_PKS)) && pg == PG_4L)
		return -E_NOSUP;
	if (pg == PG_4L && !canonical(lin))
		return -E_INVAL;
	err = walk(m, mem, pg, lin, &w, &why);
	if (err == -E_FAULT || (!err && !allowed(m, access, &w))) {
		*pf_error = pf_code(m, access, err ? why : PFEC_P);
		return -E_FAULT;
	}
	if (err)
		return err;
	err = set_flags(m, mem, pg, &w, access);
	if (err)
		return err;
	*gpa = w.gpa;
	return 0;
}

int gpt_walk_range(const struct gpt_mode *m, const struct gpt_mem *mem, uint64_t lin,
		   unsigned len, unsigned access, struct gpt_span span[2], uint64_t *fault_lin,
		   uint32_t *pf_error)
{
	uint64_t wrap = (m->efer & EFER_LMA) ? ~0ull : 0xffffffffu;
	unsigned first = MIN(len, PAGE_SIZE - (lin & (PAGE_SIZE - 1)));
	uint64_t next = (lin + first) & wrap;
	int err;

	if (!len || len > PAGE_SIZE)
		return -E_INVAL;
	*fault_lin = lin;
	err = gpt_walk(m, mem, lin, access, &span[0].gpa, pf_error);
	if (err)
		return err;
	span[0].len = first;
	if (first == len)
		return 1;
	*fault_lin = next;
	err = gpt_walk(m, mem, next, access, &span[1].gpa, pf_error);
	if (err)
		return err;
	span[1].len = len - first;
	return 2;
}
