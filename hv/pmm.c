#include "hv/lib/string.h"
#include "hv/pmm.h"

#define LOW_MEMORY (1 * MIB) /* real-mode leftovers, and AP start-up later: never allocated */

static bool test_bit(const struct pmm *p, uint64_t i)
{
	return p->bits[i / 64] & (1ULL << (i % 64));
}

static void set_used(struct pmm *p, uint64_t i)
{
	if (!test_bit(p, i)) {
		p->bits[i / 64] |= 1ULL << (i % 64);
		p->free_pages--;
	}
}

static void set_free(struct pmm *p, uint64_t i)
{
	if (test_bit(p, i)) {
		p->bits[i / 64] &= ~(1ULL << (i % 64));
		p->free_pages++;
	}
}

void pmm_setup(struct pmm *p, uint64_t *bits, uint64_t npages)
{
	p->bits = bits;
	p->npages = npages;
	p->free_pages = 0;
	p->total_pages = 0;
	p->hint = 1;
	memset(bits, 0xff, ALIGN_UP(npages, 64) / 8);
}

void pmm_free_range(struct pmm *p, uint64_t base, uint64_t len)
{
	uint64_t first = ALIGN_UP(base, PAGE_SIZE) / PAGE_SIZE;
	uint64_t end = ALIGN_DOWN(base + len, PAGE_SIZE) / PAGE_SIZE;

	if (end > p->npages)
		end = p->npages;
	if (first == 0)
		first = 1; /* address 0 means failure */
	for (uint64_t i = first; i < end; i++)
		set_free(p, i);
}

void pmm_reserve_range(struct pmm *p, uint64_t base, uint64_t len)
{
	uint64_t first = ALIGN_DOWN(base, PAGE_SIZE) / PAGE_SIZE;
	uint64_t end = ALIGN_UP(base + len, PAGE_SIZE) / PAGE_SIZE;

	if (end > p->npages)
		end = p->npages;
	for (uint64_t i = first; i < end; i++)
		set_used(p, i);
}

static uint64_t find_run(const struct pmm *p, uint64_t from, uint64_t to, uint64_t n,
			 uint64_t align)
{
	uint64_t i = ALIGN_UP(from, align);

	while (i + n <= to) {
		uint64_t j = 0;
		while (j < n && !test_bit(p, i + j))
			j++;
		if (j == n)
			return i;
		i = ALIGN_UP(i + j + 1, align);
	}
	return 0;
}

uint64_t pmm_alloc_in(struct pmm *p, uint64_t n, uint64_t align_pages)
{
	uint64_t i;

	if (!n || n > p->free_pages)
		return 0;
	if (!align_pages)
		align_pages = 1;
	i = find_run(p, p->hint, p->npages, n, align_pages);
	if (!i)
		i = find_run(p, 1, p->npages, n, align_pages);
	if (!i)
		return 0;
	for (uint64_t j = 0; j < n; j++)
		set_used(p, i + j);
	p->hint = i + n;
	return i * PAGE_SIZE;
}

void pmm_free_in(struct pmm *p, uint64_t addr, uint64_t n)
{
	uint64_t first = addr / PAGE_SIZE;

	for (uint64_t i = first; i < first + n && i < p->npages; i++)
		set_free(p, i);
	if (first < p->hint)
		p->hint = first ? first : 1;
}

/* --- the host's allocator --- */

static struct pmm host;

static bool is_ram(uint32_t type)
{
	return type == BOOT_MEM_USABLE || type == BOOT_MEM_RECLAIM || type == BOOT_MEM_LOADED;
}

/* The bitmap lives in the first usable range that holds it, above low memory and clear
 * of everything the loader still occupies. */
static uint64_t place_bitmap(const struct boot_info *bi, uint64_t bytes)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct boot_mem *m = &bi->mem[i];
		if (m->type != BOOT_MEM_USABLE)
			continue;
		uint64_t end = m->base + m->len;
		for (uint64_t at = ALIGN_UP(MAX(m->base, LOW_MEMORY), PAGE_SIZE); at + bytes <= end;
		     at += PAGE_SIZE) {
			if (!boot_used_overlaps(bi, at, bytes))
				return at;
		}
	}
	return 0;
}

int pmm_init(const struct boot_info *bi)
{
	uint64_t top = 0, bytes, at;

	for (uint32_t i = 0; i < bi->nr_mem; i++)
		if (is_ram(bi->mem[i].type))
			top = MAX(top, bi->mem[i].base + bi->mem[i].len);
	if (!top)
		return -1;
	bytes = ALIGN_UP(ALIGN_UP(top / PAGE_SIZE, 64) / 8, PAGE_SIZE);
	at = place_bitmap(bi, bytes);
	if (!at)
		return -1;
	pmm_setup(&host, (uint64_t *)(uintptr_t)at, top / PAGE_SIZE);
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct boot_mem *m = &bi->mem[i];
		if (is_ram(m->type))
			host.total_pages += m->len / PAGE_SIZE;
		if (m->type == BOOT_MEM_USABLE)
			pmm_free_range(&host, m->base, m->len);
	}
	pmm_reserve_range(&host, 0, LOW_MEMORY);
	for (uint32_t i = 0; i < bi->nr_used; i++)
		pmm_reserve_range(&host, bi->used[i].base, bi->used[i].len);
	pmm_reserve_range(&host, at, bytes);
	return 0;
}

void pmm_reclaim(const struct boot_info *bi)
{
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct boot_mem *m = &bi->mem[i];
		if (m->type != BOOT_MEM_RECLAIM)
			continue;
		pmm_free_range(&host, m->base, m->len);
		pmm_reserve_range(&host, 0, LOW_MEMORY);
	}
	for (uint32_t i = 0; i < bi->nr_used; i++)
		pmm_reserve_range(&host, bi->used[i].base, bi->used[i].len);
}

uint64_t pmm_alloc(uint64_t npages)
{
	return pmm_alloc_aligned(npages, 1);
}

uint64_t pmm_alloc_aligned(uint64_t npages, uint64_t align_pages)
{
	uint64_t a = pmm_alloc_in(&host, npages, align_pages);

	if (a)
		memset((void *)(uintptr_t)a, 0, npages * PAGE_SIZE);
	return a;
}

void pmm_free(uint64_t addr, uint64_t npages)
{
	pmm_free_in(&host, addr, npages);
}

struct pmm_stats pmm_stats(void)
{
	return (struct pmm_stats){ host.total_pages * PAGE_SIZE, host.free_pages * PAGE_SIZE };
}
