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
