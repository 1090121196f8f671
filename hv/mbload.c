/* The Multiboot v1 guest loader. Everything is checked before anything is written:
 * parse the header and the kernel's segments, lay out the modules and the information
 * block, and only then copy. The image is read only inside [data, data + size). */
#include <stdarg.h>
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/mbload.h"

typedef unsigned long long ull; /* for fmt's %ll */

/* The guest's RAM as a PC lays it out (and as the memory map tells the guest):
 *
 *   0          0x9FC00     0xA0000             0xE0000           0x100000          ram
 *   | available | EBDA (res) | (hole: VGA, ROMs) | firmware (res)  | available ... |
 *
 * The firmware area holds the ACPI tables (hv/dev/acpi_tables.h). Nothing is loaded or
 * placed in [LOW_TOP, HIGH_BASE), nor on page 0. */
#define LOW_TOP 0x9FC00ULL
#define FIRMWARE_BASE 0xE0000ULL
#define HIGH_BASE 0x100000ULL
#define TOP32 0xFFFFFFFFULL /* the guest starts in 32-bit mode: all of it below 4 GiB */
#define LOADER_NAME "tern"

/* Multiboot header (spec 3.1.1); the address fields only with MB_HF_AOUT_KLUDGE. */
struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
#define MB_HEADER_LEN 12
#define MB_HEADER_AOUT_LEN 32
#define MB_HF_REQUIRED 0xFFFFu /* bits a loader must understand to boot the kernel */
#define MB_HF_KNOWN (MB_HF_PAGE_ALIGN | MB_HF_MEMINFO)
#define MB_HINT_SEARCH (64 * KIB) /* how far to look for a misplaced header, for the message */

/* ELF, just what the loader reads (System V gABI, little-endian). */
#define ELF_CLASS 4
#define ELF_DATA 5
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EM_386 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PF_X 1

struct elf32_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf32_phdr {
	uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};
struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf32_ehdr) == 52 && sizeof(struct elf64_ehdr) == 64, "ehdr");
_Static_assert(sizeof(struct elf32_phdr) == 32 && sizeof(struct elf64_phdr) == 56, "phdr");

/* One range to load: filesz bytes from the file at off, then zeros up to memsz. */
struct seg {
	uint64_t paddr, vaddr, off, filesz, memsz;
	bool exec;
};

struct kernel {
	const uint8_t *data;
	uint64_t size;
	uint64_t ram; /* the guest's RAM; 0 when unknown (mb_check) */
	struct mb_header hdr;
	uint64_t hdr_off;
	bool aout; /* load aout_seg, not the program headers */
	struct seg aout_seg;
	bool elf64;
	uint64_t phoff;
	unsigned phnum, phentsize;
	uint64_t entry_v; /* as the image states it (virtual, for ELF) */
	uint32_t entry;   /* physical */
	uint64_t end;     /* highest loaded byte + 1 */
};

struct diag {
	char *buf;
	size_t size;
};

static __printf(3, 4) int fail(struct diag *d, int err, const char *fmt, ...)
{
	va_list ap;

	if (d->buf && d->size) {
		va_start(ap, fmt);
		fmt_vsnprintf(d->buf, d->size, fmt, ap);
		va_end(ap);
	}
	return -err;
}

static const char *size_str(char *buf, size_t n, uint64_t bytes)
{
	if (bytes % MIB == 0)
		fmt_snprintf(buf, n, "%llu MiB", (ull)(bytes / MIB));
	else
		fmt_snprintf(buf, n, "%llu KiB", (ull)(bytes / KIB));
	return buf;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* --- the Multiboot header --- */

static int find_header(struct kernel *k, struct diag *d)
{
	uint64_t limit = MIN(k->size, MB_SEARCH), bad = UINT64_MAX, off;

	for (off = 0; off + MB_HEADER_LEN <= limit; off += 4) {
		const uint8_t *p = k->data + off;

		if (rd32(p) != MB_HEADER_MAGIC)
			continue;
		if ((uint32_t)(rd32(p) + rd32(p + 4) + rd32(p + 8)) == 0) {
			k->hdr_off = off;
			memcpy(&k->hdr, p, MB_HEADER_LEN);
			return 0;
		}
		if (bad == UINT64_MAX)
			bad = off;
	}
	if (bad != UINT64_MAX)
		return fail(d, E_FORMAT, "the Multiboot header at offset 0x%llx has a bad checksum",
			    (ull)bad);
	/* Not where it must be: say so if it is a little further on. */
	limit = MIN(k->size, MB_HINT_SEARCH);
	for (off = 0; off + 4 <= limit; off += 4)
		if (rd32(k->data + off) == MB_HEADER_MAGIC)
			return fail(d, E_FORMAT,
				    "the Multiboot header at offset 0x%llx does not lie within "
				    "the image's first 8 KiB",
				    (ull)off);
	return fail(d, E_FORMAT, "no Multiboot header (magic 0x1badb002) in the first 8 KiB");
}

static int check_flags(struct kernel *k, struct diag *d)
{
	uint32_t f = k->hdr.flags;

	if (f & MB_HF_VIDEO)
		return fail(d, E_NOSUP, "the kernel requires video mode information, which tern "
					"does not provide");
	if (f & MB_HF_REQUIRED & ~MB_HF_KNOWN)
		return fail(d, E_NOSUP,
			    "the kernel's Multiboot header requires features tern does not know "
			    "(flags 0x%x)",
			    f);
	if (!(f & MB_HF_AOUT_KLUDGE))
		return 0;
	if (k->hdr_off + MB_HEADER_AOUT_LEN > MIN(k->size, MB_SEARCH))
		return fail(d, E_FORMAT,
			    "the Multiboot header at offset 0x%llx has address fields (flag 16) "
			    "that run past %s",
			    (ull)k->hdr_off, k->size < MB_SEARCH ? "the end of the file" : "8 KiB");
	memcpy(&k->hdr, k->data + k->hdr_off, MB_HEADER_AOUT_LEN);
	return 0;
}

/* --- the kernel's layout: the a.out kludge's addresses, or ELF program headers --- */

/* Spec 3.1.3: the file offset to load from is the header's offset minus
 * (header_addr - load_addr); load_end_addr 0 means to the end of the file, and
 * bss_end_addr 0 means no bss. */
static int parse_aout(struct kernel *k, struct diag *d)
{
	const struct mb_header *h = &k->hdr;
	uint64_t back, off, len, memsz;

	if (h->load_addr > h->header_addr)
		return fail(d, E_FORMAT, "a.out kludge: load_addr 0x%x lies above header_addr 0x%x",
			    h->load_addr, h->header_addr);
	back = h->header_addr - h->load_addr;
	if (back > k->hdr_off)
		return fail(d, E_FORMAT,
			    "a.out kludge: header_addr - load_addr = 0x%llx, but the header is "
			    "at file offset 0x%llx: loading would start before the file",
			    (ull)back, (ull)k->hdr_off);
	off = k->hdr_off - back;
	if (!h->load_end_addr) {
		len = k->size - off;
	} else if (h->load_end_addr < h->load_addr) {
		return fail(d, E_FORMAT,
			    "a.out kludge: load_end_addr 0x%x lies below load_addr 0x%x",
			    h->load_end_addr, h->load_addr);
	} else {
		len = h->load_end_addr - h->load_addr;
		if (len > k->size - off)
			return fail(d, E_FORMAT,
				    "a.out kludge: 0x%llx bytes to load from file offset 0x%llx, "
				    "but the file ends at 0x%llx",
				    (ull)len, (ull)off, (ull)k->size);
	}
	memsz = len;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + len)
			return fail(d, E_FORMAT,
				    "a.out kludge: bss_end_addr 0x%x lies below the end of the "
				    "loaded data 0x%llx",
				    h->bss_end_addr, (ull)(h->load_addr + len));
		memsz = h->bss_end_addr - h->load_addr;
	}
	k->aout = true;
	k->aout_seg = (struct seg){ .paddr = h->load_addr, .vaddr = h->load_addr, .off = off,
				    .filesz = len, .memsz = memsz, .exec = true };
	k->entry_v = h->entry_addr;
	return 0;
}

static int parse_elf(struct kernel *k, struct diag *d)
{
	const uint8_t *id = k->data;
	uint16_t type, machine, want, phsize;
	uint64_t ehsize;

	if (k->size < 16 || memcmp(id, "\177ELF", 4))
		return fail(d, E_FORMAT, "not an ELF file, and the Multiboot header has no "
					 "load addresses (flag 16)");
	if (id[ELF_CLASS] != ELFCLASS32 && id[ELF_CLASS] != ELFCLASS64)
		return fail(d, E_FORMAT, "ELF class %u is neither ELF32 nor ELF64", id[ELF_CLASS]);
	if (id[ELF_DATA] != ELFDATA2LSB)
		return fail(d, E_FORMAT, "the ELF file is not little-endian");
	k->elf64 = id[ELF_CLASS] == ELFCLASS64;
	ehsize = k->elf64 ? sizeof(struct elf64_ehdr) : sizeof(struct elf32_ehdr);
	if (k->size < ehsize)
		return fail(d, E_FORMAT,
			    "truncated: the ELF header needs %llu bytes, the file has %llu",
			    (ull)ehsize, (ull)k->size);
	if (k->elf64) {
		struct elf64_ehdr e;

		memcpy(&e, k->data, sizeof(e));
		type = e.type, machine = e.machine, k->entry_v = e.entry, k->phoff = e.phoff;
		k->phnum = e.phnum, k->phentsize = e.phentsize;
	} else {
		struct elf32_ehdr e;

		memcpy(&e, k->data, sizeof(e));
		type = e.type, machine = e.machine, k->entry_v = e.entry, k->phoff = e.phoff;
		k->phnum = e.phnum, k->phentsize = e.phentsize;
	}
	want = k->elf64 ? EM_X86_64 : EM_386;
	phsize = k->elf64 ? sizeof(struct elf64_phdr) : sizeof(struct elf32_phdr);
	if (type != ET_EXEC)
		return fail(d, E_FORMAT, "ELF type %u is not an executable (ET_EXEC)", type);
	if (machine != want)
		return fail(d, E_FORMAT, "ELF%u for machine %u; tern loads ELF32 for i386 (3) and "
					 "ELF64 for x86-64 (62)",
			    k->elf64 ? 64 : 32, machine);
	if (k->phnum > MB_MAX_PHDRS)
		return fail(d, E_NOSUP, "%u program headers, more than tern's limit of %u",
			    k->phnum, MB_MAX_PHDRS);
	if (k->phnum && k->phentsize < phsize)
		return fail(d, E_FORMAT, "program header size %u, less than the %u of ELF%u",
			    k->phentsize, phsize, k->elf64 ? 64 : 32);
	if (k->phoff > k->size || (uint64_t)k->phnum * k->phentsize > k->size - k->phoff)
		return fail(d, E_FORMAT,
			    "truncated: the program headers at 0x%llx+0x%llx run past the end "
			    "of the file (%llu bytes)",
			    (ull)k->phoff, (ull)k->phnum * k->phentsize, (ull)k->size);
	return 0;
}

static unsigned nr_segs(const struct kernel *k)
{
	return k->aout ? 1 : k->phnum;
}

/* Fills s from program header i; false when it is not PT_LOAD. */
static bool get_seg(const struct kernel *k, unsigned i, struct seg *s)
{
	const uint8_t *p;

	if (k->aout) {
		*s = k->aout_seg;
		return true;
	}
	p = k->data + k->phoff + (uint64_t)i * k->phentsize; /* inside: parse_elf checked */
	if (k->elf64) {
		struct elf64_phdr ph;

		memcpy(&ph, p, sizeof(ph));
		*s = (struct seg){ ph.paddr, ph.vaddr, ph.offset, ph.filesz, ph.memsz,
				   ph.flags & PF_X };
		return ph.type == PT_LOAD;
	}
	struct elf32_phdr ph;

	memcpy(&ph, p, sizeof(ph));
	*s = (struct seg){ ph.paddr, ph.vaddr, ph.offset, ph.filesz, ph.memsz, ph.flags & PF_X };
	return ph.type == PT_LOAD;
}

/* A PT_LOAD to act on; empty ones (both sizes 0) load nothing and are skipped. */
static bool get_load(const struct kernel *k, unsigned i, struct seg *s)
{
	return get_seg(k, i, s) && (s->filesz || s->memsz);
}

static const char *seg_name(const struct kernel *k, unsigned i, char *buf, size_t n)
{
	if (k->aout)
		return "the a.out-kludge image";
	fmt_snprintf(buf, n, "segment %u", i);
	return buf;
}

static int check_seg(const struct kernel *k, unsigned i, const struct seg *s, struct diag *d)
{
	char name[24], ram[24];
	const char *what = seg_name(k, i, name, sizeof(name));
	uint64_t end;

	if (s->filesz > s->memsz)
		return fail(d, E_FORMAT, "%s: file size 0x%llx exceeds its memory size 0x%llx",
			    what, (ull)s->filesz, (ull)s->memsz);
	if (s->off > k->size || s->filesz > k->size - s->off)
		return fail(d, E_FORMAT,
			    "truncated: %s's data at file offset 0x%llx+0x%llx runs past the end "
			    "of the file (%llu bytes)",
			    what, (ull)s->off, (ull)s->filesz, (ull)k->size);
	if (s->memsz > UINT64_MAX - s->paddr)
		return fail(d, E_FORMAT, "%s at 0x%llx+0x%llx wraps around the address space", what,
			    (ull)s->paddr, (ull)s->memsz);
	end = s->paddr + s->memsz;
	if (k->ram && end > k->ram)
		return fail(d, E_RANGE, "%s at 0x%llx+0x%llx lies outside the guest's %s", what,
			    (ull)s->paddr, (ull)s->memsz, size_str(ram, sizeof(ram), k->ram));
	if (end > TOP32 + 1)
		return fail(d, E_RANGE, "%s at 0x%llx+0x%llx lies above 4 GiB, out of a 32-bit "
					"guest's reach",
			    what, (ull)s->paddr, (ull)s->memsz);
	if (s->paddr < PAGE_SIZE)
		return fail(d, E_RANGE, "%s at 0x%llx+0x%llx overlaps the guest's first page", what,
			    (ull)s->paddr, (ull)s->memsz);
	if (s->paddr < HIGH_BASE && end > LOW_TOP)
		return fail(d, E_RANGE,
			    "%s at 0x%llx+0x%llx overlaps the legacy area 0x9fc00-0x100000 "
			    "(EBDA, VGA, BIOS)",
			    what, (ull)s->paddr, (ull)s->memsz);
	return 0;
}

static int check_segs(struct kernel *k, struct diag *d)
{
	struct seg s, t;
	unsigned loads = 0;
	int rc;

	for (unsigned i = 0; i < nr_segs(k); i++) {
		if (!get_load(k, i, &s))
			continue;
		rc = check_seg(k, i, &s, d);
		if (rc)
			return rc;
		for (unsigned j = 0; j < i; j++)
			if (get_load(k, j, &t) && s.paddr < t.paddr + t.memsz &&
			    t.paddr < s.paddr + s.memsz)
				return fail(d, E_FORMAT,
					    "segments %u (0x%llx+0x%llx) and %u (0x%llx+0x%llx) "
					    "overlap",
					    j, (ull)t.paddr, (ull)t.memsz, i, (ull)s.paddr,
					    (ull)s.memsz);
		k->end = MAX(k->end, s.paddr + s.memsz);
		loads++;
	}
	if (!loads)
		return fail(d, E_FORMAT, "%s",
			    k->aout ? "a.out kludge: nothing to load"
				    : "no loadable segment (PT_LOAD) in the ELF file");
	return 0;
}

/* ELF entry points are virtual: the CPU starts at the physical address the containing
 * segment puts it (as GRUB does). Every segment ends below 4 GiB (check_seg). */
static int set_entry(struct kernel *k, struct diag *d)
{
	struct seg s;

	if (k->entry_v > TOP32)
		return fail(d, E_RANGE, "entry point 0x%llx lies above 4 GiB; the guest starts in "
					"32-bit mode",
			    (ull)k->entry_v);
	for (unsigned i = 0; i < nr_segs(k); i++)
		if (get_load(k, i, &s) && s.exec && k->entry_v >= s.vaddr &&
		    k->entry_v - s.vaddr < s.filesz) {
			k->entry = (uint32_t)(s.paddr + (k->entry_v - s.vaddr));
			return 0;
		}
	return fail(d, E_FORMAT, "entry point 0x%llx lies in no loaded executable segment",
		    (ull)k->entry_v);
}

static int parse_kernel(struct kernel *k, const uint8_t *data, uint64_t size, uint64_t ram,
			struct diag *d)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->data = data, k->size = size, k->ram = ram;
	rc = find_header(k, d);
	if (!rc)
		rc = check_flags(k, d);
	if (!rc)
		rc = k->hdr.flags & MB_HF_AOUT_KLUDGE ? parse_aout(k, d) : parse_elf(k, d);
	if (!rc)
		rc = check_segs(k, d);
	if (!rc)
		rc = set_entry(k, d);
	return rc;
}

/* --- what follows the kernel: modules, then one block with the information --- */

struct layout {
	const struct mb_guest_mem *mem;
	const struct mb_blob *kernel, *mods;
	unsigned nr_mods;
	struct multiboot_mmap_entry mmap[4];
	unsigned nr_mmap;
	uint64_t block, block_len, end;
};

/* Page-aligned room for len bytes at or above *cursor, not in the legacy area.
 * Saturates, so an impossible request ends up past any RAM instead of wrapping. */
static uint64_t place(uint64_t *cursor, uint64_t len)
{
	uint64_t at = *cursor > UINT64_MAX - PAGE_SIZE ? UINT64_MAX : ALIGN_UP(*cursor, PAGE_SIZE);

	if (at < HIGH_BASE && sat_add(at, len) > LOW_TOP)
		at = HIGH_BASE;
	*cursor = sat_add(at, len);
	return at;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* The guest's memory map: the PC layout above, cut to its RAM. */
static unsigned build_mmap(uint64_t ram, struct multiboot_mmap_entry *e)
{
	static const struct {
		uint64_t base, len;
		uint32_t type;
	} pc[] = {
		{ 0, LOW_TOP, MB_MMAP_AVAILABLE },
		{ LOW_TOP, 0xA0000 - LOW_TOP, MB_MMAP_RESERVED },
		{ FIRMWARE_BASE, HIGH_BASE - FIRMWARE_BASE, MB_MMAP_RESERVED },
		{ HIGH_BASE, UINT64_MAX - HIGH_BASE, MB_MMAP_AVAILABLE },
	};
	unsigned n = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(pc); i++) {
		if (pc[i].base >= ram)
			continue;
		e[n++] = (struct multiboot_mmap_entry){
			.size = sizeof(*e) - sizeof(e->size),
			.base_addr = pc[i].base,
			.length = MIN(pc[i].len, ram - pc[i].base),
			.type = pc[i].type,
		};
	}
	return n;
}

/* Block: multiboot_info, module list, memory map, then the strings. */
static uint64_t mods_at(const struct layout *l)
{
	return l->block + sizeof(struct multiboot_info);
}

static uint64_t mmap_at(const struct layout *l)
{
	return mods_at(l) + (uint64_t)l->nr_mods * sizeof(struct multiboot_mod);
}

static uint64_t strings_at(const struct layout *l)
{
	return mmap_at(l) + l->nr_mmap * sizeof(struct multiboot_mmap_entry);
}

static int plan(struct layout *l, const struct kernel *k, struct diag *d)
{
	uint64_t cursor = k->end, top = MIN(l->mem->size, TOP32), strings;
	char ram[24];

	l->nr_mmap = build_mmap(l->mem->size, l->mmap);
	strings = strlen(str_or_empty(l->kernel->cmdline)) + 1 + sizeof(LOADER_NAME);
	for (unsigned i = 0; i < l->nr_mods; i++) {
		place(&cursor, l->mods[i].size);
		strings += strlen(str_or_empty(l->mods[i].cmdline)) + 1;
	}
	l->block = 0; /* so strings_at() is the strings' offset in the block */
	l->block_len = strings_at(l) + strings;
	l->block = place(&cursor, l->block_len);
	l->end = cursor;
	if (l->end <= top)
		return 0;
	if (l->mem->size > TOP32)
		return fail(d, E_NOMEM, "the kernel, %u modules and the Multiboot information need "
					"%llu KiB more than fits below 4 GiB",
			    l->nr_mods, (ull)((l->end - top + KIB - 1) / KIB));
	return fail(d, E_NOMEM, "the kernel, %u modules and the Multiboot information need %llu "
				"KiB more than the guest's %s",
		    l->nr_mods, (ull)((l->end - top + KIB - 1) / KIB),
		    size_str(ram, sizeof(ram), l->mem->size));
}

static void put(const struct mb_guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	if (len)
		m->write(m->ctx, gpa, src, len);
}

static void write_kernel(const struct mb_guest_mem *m, const struct kernel *k)
{
	struct seg s;

	for (unsigned i = 0; i < nr_segs(k); i++) {
		if (!get_load(k, i, &s))
			continue;
		put(m, s.paddr, k->data + s.off, s.filesz);
		if (s.memsz > s.filesz)
			m->zero(m->ctx, s.paddr + s.filesz, s.memsz - s.filesz);
	}
}

/* Writes a string at *at and returns where it went. */
static uint32_t put_str(const struct mb_guest_mem *m, uint64_t *at, const char *s)
{
	uint64_t where = *at, len = strlen(s) + 1;

	put(m, where, s, len);
	*at += len;
	return (uint32_t)where;
}

/* Every address here is below l->end <= 4 GiB - 1 (plan), so the casts keep them whole. */
static void write_rest(const struct layout *l, const struct kernel *k)
{
	const struct mb_guest_mem *m = l->mem;
	uint64_t cursor = k->end, str = strings_at(l);
	struct multiboot_info mbi = {
		.flags = MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
			 MB_INFO_LOADER_NAME,
		.mem_lower = (uint32_t)(MIN(m->size, LOW_TOP) / KIB),
		.mem_upper = m->size > HIGH_BASE ? (uint32_t)MIN((m->size - HIGH_BASE) / KIB,
								  UINT32_MAX) : 0,
		.mods_count = l->nr_mods,
		.mods_addr = (uint32_t)mods_at(l),
		.mmap_length = l->nr_mmap * sizeof(struct multiboot_mmap_entry),
		.mmap_addr = (uint32_t)mmap_at(l),
	};

	mbi.cmdline = put_str(m, &str, str_or_empty(l->kernel->cmdline));
	mbi.boot_loader_name = put_str(m, &str, LOADER_NAME);
	for (unsigned i = 0; i < l->nr_mods; i++) {
		const struct mb_blob *b = &l->mods[i];
		uint64_t at = place(&cursor, b->size);
		struct multiboot_mod mod = {
			.mod_start = (uint32_t)at,
			.mod_end = (uint32_t)(at + b->size),
			.string = put_str(m, &str, str_or_empty(b->cmdline)),
		};

		put(m, at, b->data, b->size);
		put(m, mods_at(l) + i * sizeof(mod), &mod, sizeof(mod));
	}
	put(m, mmap_at(l), l->mmap, l->nr_mmap * sizeof(l->mmap[0]));
	put(m, l->block, &mbi, sizeof(mbi));
}

int mb_load(const struct mb_guest_mem *mem, const struct mb_blob *kernel,
	    const struct mb_blob *mods, unsigned nr_mods, struct mb_boot *out, char *err,
	    size_t err_size)
{
	struct diag d = { err, err_size };
	struct kernel k;
	struct layout l;
	int rc;

	if (err && err_size)
		err[0] = 0;
	if (!mem || !mem->write || !mem->zero || !mem->size || !kernel || !kernel->data ||
	    !out || (nr_mods && !mods))
		return fail(&d, E_INVAL, "mb_load: missing argument");
	for (unsigned i = 0; i < nr_mods; i++)
		if (!mods[i].data && mods[i].size)
			return fail(&d, E_INVAL, "module %u has no data", i);
	rc = parse_kernel(&k, kernel->data, kernel->size, mem->size, &d);
	if (rc)
		return rc;
	l = (struct layout){ .mem = mem, .kernel = kernel, .mods = mods, .nr_mods = nr_mods };
	rc = plan(&l, &k, &d);
	if (rc)
		return rc;
	write_kernel(mem, &k);
	write_rest(&l, &k);
	*out = (struct mb_boot){ .entry = k.entry, .mbi = (uint32_t)l.block,
				 .end = (uint32_t)l.end };
	return 0;
}

int mb_check(const uint8_t *data, uint64_t size, char *err, size_t err_size)
{
	struct diag d = { err, err_size };
	struct kernel k;

	if (err && err_size)
		err[0] = 0;
	if (!data)
		return fail(&d, E_INVAL, "mb_check: no image");
	return parse_kernel(&k, data, size, 0, &d);
}
