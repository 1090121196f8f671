/* The Multiboot2 loader: turns GRUB's boot information tags into the boot contract. */
#include "hv/ap_start.h"
#include "hv/boot.h"
#include "hv/lib/string.h"

enum {
	TAG_END = 0,
	TAG_CMDLINE = 1,
	TAG_MODULE = 3,
	TAG_MMAP = 6,
	TAG_ACPI_OLD = 14,
	TAG_ACPI_NEW = 15,
};

struct tag {
	uint32_t type, size;
};

struct tag_module {
	struct tag t;
	uint32_t start, end;
	char string[];
};

struct tag_mmap {
	struct tag t;
	uint32_t entry_size, entry_version;
	uint8_t entries[];
};

struct mmap_entry {
	uint64_t base, len;
	uint32_t type, reserved;
};

extern char __image_start[], __image_end[];

static struct boot_info bi;

static uint32_t mem_type(uint32_t mb_type)
{
	switch (mb_type) {
	case 1:
		return BOOT_MEM_USABLE;
	case 3:
	case 4:
		return BOOT_MEM_ACPI;
	default:
		return BOOT_MEM_RESERVED;
	}
}

static void add_module(const struct tag_module *m)
{
	struct boot_module *bm = &bi.modules[bi.nr_modules];
	const char *s = m->string, *sp;

	if (bi.nr_modules == BOOT_MAX_MODULES || m->end < m->start)
		return;
	/* The module string is "<name> <args>"; tools/mkimg writes it so. */
	while (*s == ' ')
		s++;
	sp = strchr(s, ' ');
	if (!sp)
		sp = s + strlen(s);
	if (sp == s) {
		strlcpy(bm->name, "module", sizeof(bm->name));
	} else {
		char word[128];
		strlcpy(word, s, MIN(sizeof(word), (size_t)(sp - s) + 1));
		boot_module_name(bm->name, sizeof(bm->name), word);
	}
	while (*sp == ' ')
		sp++;
	strlcpy(bm->args, sp, sizeof(bm->args));
	bm->base = m->start;
	bm->size = m->end - m->start;
	boot_add_used(&bi, bm->base, bm->size);
	bi.nr_modules++;
}

static void add_mmap(const struct tag_mmap *t)
{
	for (uint32_t off = 0; off + t->entry_size <= t->t.size - sizeof(*t);
	     off += t->entry_size) {
		const struct mmap_entry *e = (const void *)(t->entries + off);
		boot_add_mem(&bi, e->base, e->len, mem_type(e->type));
	}
}

__noreturn void mb2_main(uint32_t info)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)info;
	uint32_t total = *(const uint32_t *)p;

	bi.loader = BOOT_LOADER_MULTIBOOT2;
	boot_add_used(&bi, (uintptr_t)__image_start, __image_end - __image_start);
	boot_add_used(&bi, info, total);
	for (uint32_t off = 8; off + sizeof(struct tag) <= total;) {
		const struct tag *t = (const void *)(p + off);
		if (t->type == TAG_END || t->size < sizeof(*t))
			break;
		switch (t->type) {
		case TAG_CMDLINE:
			strlcpy(bi.cmdline, (const char *)(t + 1), sizeof(bi.cmdline));
			break;
		case TAG_MODULE:
			add_module((const void *)t);
			break;
		case TAG_MMAP:
			add_mmap((const void *)t);
			break;
		case TAG_ACPI_NEW:
			bi.rsdp = (uintptr_t)(t + 1);
			break;
		case TAG_ACPI_OLD:
			if (!bi.rsdp)
				bi.rsdp = (uintptr_t)(t + 1);
			break;
		}
		off += ALIGN_UP(t->size, 8);
	}
	/* After the map and every module are known, so the pages avoid all of them. */
	bi.ap_start = boot_reserve_low(&bi, AP_START_PAGES);
	hv_main(&bi);
}
