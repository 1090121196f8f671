#include "hv/boot.h"
#include "hv/lib/string.h"

void boot_add_mem(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type)
{
	struct boot_mem *last = bi->nr_mem ? &bi->mem[bi->nr_mem - 1] : NULL;

	if (!len)
		return;
	/* Firmware maps come in many small adjacent pieces: merge them. */
	if (last && last->type == type && last->base + last->len == base) {
		last->len += len;
		return;
	}
	if (bi->nr_mem == BOOT_MAX_MEM) {
		/* Losing a usable range only wastes RAM; losing a reserved one would be
		 * dangerous, so the last slot absorbs the rest as reserved. */
		last->type = BOOT_MEM_RESERVED;
		last->len = base + len - last->base;
		return;
	}
	bi->mem[bi->nr_mem++] = (struct boot_mem){ base, len, type };
}

void boot_add_used(struct boot_info *bi, uint64_t base, uint64_t len)
{
	if (bi->nr_used < BOOT_MAX_USED && len)
		bi->used[bi->nr_used++] = (struct boot_mem){ base, len, BOOT_MEM_LOADED };
}

bool boot_used_overlaps(const struct boot_info *bi, uint64_t base, uint64_t len)
{
	for (uint32_t i = 0; i < bi->nr_used; i++) {
		const struct boot_mem *u = &bi->used[i];
		if (base < u->base + u->len && u->base < base + len)
			return true;
	}
	return false;
}

/* Below 640 KiB: 0xA0000 up is video memory and ROM; the EBDA under it is reserved in
 * any map that knows of it. */
#define LOW_TOP 0xa0000ull

uint64_t boot_reserve_low(struct boot_info *bi, uint32_t npages)
{
	uint64_t len = (uint64_t)npages * PAGE_SIZE, best = 0;

	if (!npages || bi->nr_used == BOOT_MAX_USED)
		return 0;
	for (uint32_t i = 0; i < bi->nr_mem; i++) {
		const struct boot_mem *m = &bi->mem[i];
		uint64_t lo = ALIGN_UP(MAX(m->base, PAGE_SIZE), PAGE_SIZE);
		uint64_t end = MIN(m->base + m->len, LOW_TOP);

		if (m->type != BOOT_MEM_USABLE || end < lo + len)
			continue;
		for (uint64_t at = ALIGN_DOWN(end - len, PAGE_SIZE); at >= lo && at > best;
		     at -= PAGE_SIZE) {
			if (!boot_used_overlaps(bi, at, len)) {
				best = at;
				break;
			}
		}
	}
	if (best)
		boot_add_used(bi, best, len);
	return best;
}

void boot_module_name(char *name, size_t size, const char *path)
{
	const char *start = path, *end;

	for (const char *p = path; *p; p++)
		if (*p == '/' || *p == '\\')
			start = p + 1;
	end = strrchr(start, '.');
	if (!end || end == start)
		end = start + strlen(start);
	size_t n = (size_t)(end - start);
	if (n >= size)
		n = size - 1;
	memcpy(name, start, n);
	name[n] = 0;
}

const char *boot_loader_name(uint32_t loader)
{
	switch (loader) {
	case BOOT_LOADER_UEFI:
		return "uefi";
	case BOOT_LOADER_MULTIBOOT2:
		return "multiboot2";
	default:
		return "unknown";
	}
}
