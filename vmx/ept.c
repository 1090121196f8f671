#include "hv/error.h"
#include "vmx/ept.h"

/* Entry layout (SDM 29.3.2):
 *   [2:0] R W X   [5:3] memory type (leaves)   [7] 2 MiB page (in a PD entry)
 *   [8] accessed  [9] dirty   [51:12] address
 * Levels: 3 = PML4 [47:39], 2 = PDPT [38:30], 1 = PD [29:21], 0 = PT [20:12]. */
#define EPT_MT_WB (6ull << 3)
#define EPT_PS (1ull << 7)
#define EPT_ADDR 0x000ffffffffff000ull
#define EPT_PERM_MASK 7ull
#define EPT_DIRTY (1ull << 9)

static unsigned index_at(uint64_t g, int level)
{
	return (g >> (12 + 9 * level)) & 511;
}

static uint64_t *entries(const struct ept *e, uint64_t table)
{
	return e->ops->virt(table);
}

static uint64_t new_table(struct ept *e)
{
	uint64_t t = e->ops->alloc();

	if (t)
		e->table_pages++;
	return t;
}

int ept_init(struct ept *e, const struct ept_ops *ops)
{
	e->ops = ops;
	e->table_pages = 0;
	e->root = new_table(e);
	return e->root ? 0 : -E_NOMEM;
}

static void free_level(struct ept *e, uint64_t table, int level)
{
	uint64_t *t = entries(e, table);

	for (int i = 0; level > 0 && i < 512; i++)
		if ((t[i] & EPT_PERM_MASK) && !(t[i] & EPT_PS))
			free_level(e, t[i] & EPT_ADDR, level - 1);
	e->ops->free(table);
	e->table_pages--;
}

void ept_destroy(struct ept *e)
{
	if (e->root)
		free_level(e, e->root, 3);
	e->root = 0;
}

/* Walks down to the table at `level` for g, creating tables on the way. Returns NULL on
 * allocation failure or when a large page sits in the way. */
static uint64_t *walk_create(struct ept *e, uint64_t g, int level)
{
	uint64_t table = e->root;

	for (int l = 3; l > level; l--) {
		uint64_t *ent = &entries(e, table)[index_at(g, l)];
		if (!(*ent & EPT_PERM_MASK)) {
			uint64_t t = new_table(e);
			if (!t)
				return NULL;
			*ent = t | EPT_RWX;
		} else if (*ent & EPT_PS) {
			return NULL;
		}
		table = *ent & EPT_ADDR;
	}
	return &entries(e, table)[index_at(g, level)];
}

int ept_map(struct ept *e, gpa_t g, hpa_t h, uint64_t size, unsigned perm)
{
	int level = size == EPT_PAGE_2M ? 1 : 0;
	uint64_t *ent;

	if ((size != EPT_PAGE_4K && size != EPT_PAGE_2M) || (g.v | h.v) & (size - 1) ||
	    (perm & ~EPT_RWX) || g.v >> 48)
		return -E_INVAL;
	ent = walk_create(e, g.v, level);
	if (!ent)
		return -E_NOMEM;
	if (*ent & EPT_PERM_MASK)
		return -E_EXIST;
	*ent = h.v | EPT_MT_WB | perm | (level ? EPT_PS : 0);
	return 0;
}

/* The leaf entry for g and its level, or NULL. */
static uint64_t *find_leaf(const struct ept *e, uint64_t g, int *level)
{
	uint64_t table = e->root;

	if (g >> 48)
		return NULL;
	for (int l = 3; l >= 0; l--) {
		uint64_t *ent = &entries(e, table)[index_at(g, l)];
		if (!(*ent & EPT_PERM_MASK))
			return NULL;
		if (l == 0 || (*ent & EPT_PS)) {
			*level = l;
			return ent;
		}
		table = *ent & EPT_ADDR;
	}
	return NULL;
}

bool ept_translate(const struct ept *e, gpa_t g, hpa_t *h, unsigned *perm)
{
	int level;
	uint64_t *ent = find_leaf(e, g.v, &level);
	uint64_t span = 1ull << (12 + 9 * level);

	if (!ent)
		return false;
	*h = hpa((*ent & EPT_ADDR & ~(span - 1)) + (g.v & (span - 1)));
	*perm = *ent & EPT_PERM_MASK;
	return true;
}

int ept_unmap_4k(struct ept *e, gpa_t g)
{
	int level;
	uint64_t *ent = find_leaf(e, g.v, &level);

	if (!ent || level != 0)
		return -E_INVAL;
	*ent = 0;
	return 0;
}

/* Replaces a 2 MiB leaf by a table of 512 4 KiB leaves with the same rights. */
static int split_2m(struct ept *e, uint64_t *ent)
{
	uint64_t base = *ent & EPT_ADDR, keep = *ent & (EPT_PERM_MASK | (7ull << 3));
	uint64_t t = new_table(e), *pt;

	if (!t)
		return -E_NOMEM;
	pt = entries(e, t);
	for (int i = 0; i < 512; i++)
		pt[i] = (base + (uint64_t)i * EPT_PAGE_4K) | keep;
	*ent = t | EPT_RWX;
	return 0;
}

int ept_set_perm_4k(struct ept *e, gpa_t g, unsigned perm)
{
	int level, err;
	uint64_t *ent = find_leaf(e, g.v, &level);

	if (!ent || level > 1 || (perm & ~EPT_RWX) || !perm)
		return -E_INVAL;
	if (level == 1) {
		err = split_2m(e, ent);
		if (err)
			return err;
		ent = find_leaf(e, g.v, &level);
	}
	*ent = (*ent & ~EPT_PERM_MASK) | perm;
	return 0;
}

/* Visits every 4 KiB leaf below table (at level), with its guest-physical address. */
static void each_leaf(struct ept *e, uint64_t table, int level, uint64_t base,
		      void (*fn)(struct ept *e, uint64_t *ent, uint64_t g, void *ctx), void *ctx)
{
	uint64_t *t = entries(e, table);

	for (uint64_t i = 0; i < 512; i++) {
		uint64_t g = base + (i << (12 + 9 * level));
		if (!(t[i] & EPT_PERM_MASK) || (level > 0 && (t[i] & EPT_PS)))
			continue;
		if (level == 0)
			fn(e, &t[i], g, ctx);
		else
			each_leaf(e, t[i] & EPT_ADDR, level - 1, g, fn, ctx);
	}
}

struct split_ctx {
	int err;
};

static void split_in_pd(struct ept *e, uint64_t table, struct split_ctx *c)
{
	uint64_t *t = entries(e, table);

	for (int i = 0; i < 512 && !c->err; i++)
		if ((t[i] & EPT_PERM_MASK) && (t[i] & EPT_PS))
			c->err = split_2m(e, &t[i]);
}

int ept_split_all(struct ept *e)
{
	uint64_t *pml4 = entries(e, e->root);
	struct split_ctx c = { 0 };

	for (int i = 0; i < 512 && !c.err; i++) {
		if (!(pml4[i] & EPT_PERM_MASK))
			continue;
		uint64_t *pdpt = entries(e, pml4[i] & EPT_ADDR);
		for (int j = 0; j < 512 && !c.err; j++)
			if ((pdpt[j] & EPT_PERM_MASK) && !(pdpt[j] & EPT_PS))
				split_in_pd(e, pdpt[j] & EPT_ADDR, &c);
	}
	return c.err;
}

static void clear_write(struct ept *e, uint64_t *ent, uint64_t g, void *ctx)
{
	*ent &= ~(uint64_t)EPT_W;
}

static void set_write(struct ept *e, uint64_t *ent, uint64_t g, void *ctx)
{
	*ent |= EPT_W;
}

void ept_set_write_all(struct ept *e, bool writable)
{
	each_leaf(e, e->root, 3, 0, writable ? set_write : clear_write, NULL);
}

int ept_set_write(struct ept *e, gpa_t g, bool writable)
{
	int level;
	uint64_t *ent = find_leaf(e, g.v, &level);

	if (!ent || level != 0)
		return -E_INVAL;
	*ent = writable ? *ent | EPT_W : *ent & ~(uint64_t)EPT_W;
	return 0;
}

static void clear_dirty(struct ept *e, uint64_t *ent, uint64_t g, void *ctx)
{
	*ent &= ~EPT_DIRTY;
}

void ept_clear_dirty_all(struct ept *e)
{
	each_leaf(e, e->root, 3, 0, clear_dirty, NULL);
}

bool ept_test_clear_dirty(struct ept *e, gpa_t g)
{
	int level;
	uint64_t *ent = find_leaf(e, g.v, &level);
	bool was;

	if (!ent || level != 0)
		return false;
	was = *ent & EPT_DIRTY;
	*ent &= ~EPT_DIRTY;
	return was;
}

struct collect_ctx {
	void (*mark)(void *ctx, uint64_t pfn);
	void *ctx;
	uint64_t n;
};

static void collect(struct ept *e, uint64_t *ent, uint64_t g, void *ctx)
{
	struct collect_ctx *c = ctx;

	if (*ent & EPT_DIRTY) {
		*ent &= ~EPT_DIRTY;
		c->mark(c->ctx, g >> 12);
		c->n++;
	}
}

uint64_t ept_collect_dirty(struct ept *e, void (*mark)(void *ctx, uint64_t pfn), void *ctx)
{
	struct collect_ctx c = { mark, ctx, 0 };

	each_leaf(e, e->root, 3, 0, collect, &c);
	return c.n;
}

uint64_t ept_pointer(const struct ept *e, bool ad)
{
	return e->root | 6 /* WB */ | (3 << 3) /* 4 levels */ | (ad ? 1u << 6 : 0);
}
