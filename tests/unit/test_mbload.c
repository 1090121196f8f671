#include <stdlib.h>
#include <string.h>
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "hv/mbload.h"
#include "tests/unit/stubs.h"

/* --- a fake guest RAM whose callbacks fail the test on any write outside it --- */

struct ram {
	uint8_t *buf; /* NULL: a RAM that must never be written */
	uint64_t size;
	unsigned writes;
};

static void check_range(struct ram *r, uint64_t gpa, uint64_t len)
{
	assert_non_null(r->buf);
	assert_true(len > 0);
	assert_true(gpa < r->size && len <= r->size - gpa);
	r->writes++;
}

static void ram_write(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	struct ram *r = ctx;

	check_range(r, gpa, len);
	memcpy(r->buf + gpa, src, len);
}

static void ram_zero(void *ctx, uint64_t gpa, uint64_t len)
{
	struct ram *r = ctx;

	check_range(r, gpa, len);
	memset(r->buf + gpa, 0, len);
}

static struct mb_guest_mem ram_new(struct ram *r, uint64_t size, bool backed)
{
	r->size = size;
	r->writes = 0;
	r->buf = backed ? malloc(size) : NULL;
	if (backed) {
		assert_non_null(r->buf);
		memset(r->buf, 0xAA, size); /* so the test sees what the loader zeroed */
	}
	return (struct mb_guest_mem){ .size = size, .ctx = r, .write = ram_write,
				      .zero = ram_zero };
}

static uint32_t g32(const struct ram *r, uint64_t gpa)
{
	uint32_t v;

	assert_true(gpa + 4 <= r->size);
	memcpy(&v, r->buf + gpa, 4);
	return v;
}

static const char *gstr(const struct ram *r, uint64_t gpa)
{
	assert_true(gpa < r->size);
	assert_true(strnlen((const char *)r->buf + gpa, r->size - gpa) < r->size - gpa);
	return (const char *)r->buf + gpa;
}

/* --- building kernel images in memory --- */

#define IMG_MAX (64 * 1024)
#define MAX_SEGS 8
#define PT_LOAD 1
#define PT_NOTE 4
#define PF_X 1
#define PF_W 2
#define PF_R 4

struct tseg {
	uint32_t type, flags;
	uint64_t paddr, vaddr, filesz, memsz; /* vaddr 0: same as paddr */
};

struct kspec {
	bool is64;
	struct tseg segs[MAX_SEGS];
	unsigned n;
	uint64_t entry;
	uint32_t mbflags;
	uint64_t hdr_off;
};

struct img {
	uint8_t b[IMG_MAX];
	uint64_t size, hdr_off, phoff;
	uint64_t seg_off[MAX_SEGS];
	bool is64;
};

static uint8_t pat(unsigned seg, uint64_t i)
{
	return (uint8_t)(0x41 + seg * 17 + i * 7);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void put_mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, MB_HEADER_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, -(MB_HEADER_MAGIC + flags));
}

/* A kernel: code at 1 MiB, data + bss after it, a note and an empty PT_LOAD that the
 * loader must ignore. */
static struct kspec good_spec(bool is64)
{
	return (struct kspec){
		.is64 = is64,
		.segs = {
			{ PT_LOAD, PF_R | PF_X, 0x100000, 0, 0x1800, 0x1800 },
			{ PT_NOTE, PF_R, 0, 0, 0x20, 0x20 },
			{ PT_LOAD, PF_R | PF_W, 0x102000, 0, 0x100, 0x3000 },
			{ PT_LOAD, PF_R, 0, 0, 0, 0 },
		},
		.n = 4,
		.entry = 0x100010,
		.mbflags = MB_HF_PAGE_ALIGN | MB_HF_MEMINFO,
		.hdr_off = 0x800,
	};
}

static void build(struct img *im, const struct kspec *s)
{
	uint8_t *b = im->b;
	unsigned ehsize = s->is64 ? 64 : 52, phsize = s->is64 ? 56 : 32;
	uint64_t off = MAX(0x1000, (s->hdr_off + 32 + 0xfff) & ~0xfffULL);

	memset(im, 0, sizeof(*im));
	im->is64 = s->is64;
	im->phoff = ehsize;
	im->hdr_off = s->hdr_off;
	memcpy(b, "\177ELF", 4);
	b[4] = s->is64 ? 2 : 1; /* class */
	b[5] = 1;               /* little-endian */
	b[6] = 1;               /* version */
	put16(b + 16, 2);       /* ET_EXEC */
	put16(b + 18, s->is64 ? 62 : 3);
	put32(b + 20, 1);
	if (s->is64) {
		put64(b + 24, s->entry);
		put64(b + 32, ehsize);
		put16(b + 52, ehsize);
		put16(b + 54, phsize);
		put16(b + 56, s->n);
	} else {
		put32(b + 24, s->entry);
		put32(b + 28, ehsize);
		put16(b + 40, ehsize);
		put16(b + 42, phsize);
		put16(b + 44, s->n);
	}
	for (unsigned i = 0; i < s->n; i++) {
		const struct tseg *t = &s->segs[i];
		uint8_t *ph = b + ehsize + i * phsize;
		uint64_t vaddr = t->vaddr ? t->vaddr : t->paddr;

		im->seg_off[i] = off;
		if (s->is64) {
			put32(ph, t->type);
			put32(ph + 4, t->flags);
			put64(ph + 8, off);
			put64(ph + 16, vaddr);
			put64(ph + 24, t->paddr);
			put64(ph + 32, t->filesz);
			put64(ph + 40, t->memsz);
		} else {
			put32(ph, t->type);
			put32(ph + 4, off);
			put32(ph + 8, vaddr);
			put32(ph + 12, t->paddr);
			put32(ph + 16, t->filesz);
			put32(ph + 20, t->memsz);
			put32(ph + 24, t->flags);
		}
		assert_true(off + t->filesz <= IMG_MAX);
		for (uint64_t j = 0; j < t->filesz; j++)
			b[off + j] = pat(i, j);
		off += t->filesz;
	}
	put_mb_header(b + s->hdr_off, s->mbflags);
	im->size = MAX(off, s->hdr_off + 32);
}

/* A raw image with the a.out kludge: the file is loaded at load_addr; the header sits at
 * hdr_off inside it. */
#define AOUT_LOAD 0x200000
#define AOUT_HDR 0x40
#define AOUT_FILE 0x2100
#define AOUT_BSS_END (AOUT_LOAD + 0x5000)
#define AOUT_ENTRY (AOUT_LOAD + 0x80)

static void build_aout(struct img *im)
{
	uint8_t *h = im->b + AOUT_HDR;

	memset(im, 0, sizeof(*im));
	for (uint64_t j = 0; j < AOUT_FILE; j++)
		im->b[j] = pat(0, j);
	put_mb_header(h, MB_HF_PAGE_ALIGN | MB_HF_MEMINFO | MB_HF_AOUT_KLUDGE);
	put32(h + 12, AOUT_LOAD + AOUT_HDR); /* header_addr */
	put32(h + 16, AOUT_LOAD);            /* load_addr */
	put32(h + 20, 0);                    /* load_end_addr: the whole file */
	put32(h + 24, AOUT_BSS_END);
	put32(h + 28, AOUT_ENTRY);
	im->size = AOUT_FILE;
	im->hdr_off = AOUT_HDR;
}

/* Keeps the header's checksum right after a test changed its flags. */
static void fix_checksum(struct img *im)
{
	uint8_t *h = im->b + im->hdr_off;
	uint32_t magic, flags;

	memcpy(&magic, h, 4);
	memcpy(&flags, h + 4, 4);
	put32(h + 8, -(magic + flags));
}

static char err[256];

/* Loads from a heap copy of exactly the image's size, so ASan sees any read past it. */
static int load(const struct mb_guest_mem *mem, const struct img *im, const char *cmdline,
		const struct mb_blob *mods, unsigned nr, struct mb_boot *out)
{
	uint8_t *copy = malloc(im->size ? im->size : 1);
	struct mb_blob k;
	int rc;

	assert_non_null(copy);
	memcpy(copy, im->b, im->size);
	k = (struct mb_blob){ copy, im->size, cmdline };
	memset(err, 'x', sizeof(err));
	rc = mb_load(mem, &k, mods, nr, out, err, sizeof(err));
	assert_non_null(memchr(err, 0, sizeof(err)));
	free(copy);
	return rc;
}

static void check_segment(const struct ram *r, const struct img *im, const struct kspec *s,
			  unsigned i)
{
	const struct tseg *t = &s->segs[i];

	assert_memory_equal(r->buf + t->paddr, im->b + im->seg_off[i], t->filesz);
	for (uint64_t j = t->filesz; j < t->memsz; j++)
		assert_int_equal(r->buf[t->paddr + j], 0);
}

/* The information structure every successful load leaves, for a 16 MiB guest. */
static void check_info(const struct ram *r, const struct mb_boot *b, const char *cmdline)
{
	struct multiboot_info mbi;
	struct multiboot_mmap_entry e[4];
	static const struct multiboot_mmap_entry want[4] = {
		{ 20, 0, 0x9FC00, MB_MMAP_AVAILABLE },
		{ 20, 0x9FC00, 0x400, MB_MMAP_RESERVED },
		{ 20, 0xE0000, 0x20000, MB_MMAP_RESERVED },
		{ 20, 0x100000, 15 * MIB, MB_MMAP_AVAILABLE },
	};

	assert_int_equal(b->mbi % PAGE_SIZE, 0);
	assert_true(b->mbi + sizeof(mbi) <= b->end && b->end <= r->size);
	memcpy(&mbi, r->buf + b->mbi, sizeof(mbi));
	assert_int_equal(mbi.flags, MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP |
					    MB_INFO_LOADER_NAME);
	assert_int_equal(mbi.mem_lower, 639);
	assert_int_equal(mbi.mem_upper, 15 * 1024);
	assert_string_equal(gstr(r, mbi.cmdline), cmdline);
	assert_string_equal(gstr(r, mbi.boot_loader_name), "tern");
	assert_int_equal(mbi.mmap_length, sizeof(e));
	assert_true(mbi.mmap_addr % 4 == 0 && mbi.mmap_addr + sizeof(e) <= b->end);
	memcpy(e, r->buf + mbi.mmap_addr, sizeof(e));
	assert_memory_equal(e, want, sizeof(e));
	assert_true(mbi.cmdline < b->end && mbi.mods_addr + 16 * mbi.mods_count <= b->end);
}

/* --- loading --- */

static void test_elf32_loads(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	uint8_t m0[5000], m1[10];
	const struct mb_blob mods[] = {
		{ m0, sizeof(m0), "initrd root=/" },
		{ m1, sizeof(m1), NULL },
	};
	struct multiboot_info mbi;
	struct multiboot_mod mod[2];
	struct mb_boot b;
	uint64_t prev_end = 0x105000; /* the bss ends there */

	for (unsigned i = 0; i < sizeof(m0); i++)
		m0[i] = (uint8_t)(i * 3);
	memset(m1, 0x5A, sizeof(m1));
	build(&im, &s);
	assert_int_equal(load(&mem, &im, "console=ttyS0 quiet", mods, 2, &b), 0);
	assert_string_equal(err, "");
	check_segment(&r, &im, &s, 0);
	check_segment(&r, &im, &s, 2);
	assert_int_equal(r.buf[0x101800], 0xAA); /* between the segments: untouched */
	assert_int_equal(r.buf[0], 0xAA);
	assert_int_equal(b.entry, 0x100010);
	check_info(&r, &b, "console=ttyS0 quiet");

	memcpy(&mbi, r.buf + b.mbi, sizeof(mbi));
	assert_int_equal(mbi.mods_count, 2);
	memcpy(mod, r.buf + mbi.mods_addr, sizeof(mod));
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(mod[i].mod_start % PAGE_SIZE, 0);
		assert_true(mod[i].mod_start >= prev_end);
		assert_int_equal(mod[i].mod_end - mod[i].mod_start, mods[i].size);
		assert_memory_equal(r.buf + mod[i].mod_start, mods[i].data, mods[i].size);
		assert_int_equal(mod[i].reserved, 0);
		prev_end = mod[i].mod_end;
	}
	assert_true(b.mbi >= prev_end);
	assert_string_equal(gstr(&r, mod[0].string), "initrd root=/");
	assert_string_equal(gstr(&r, mod[1].string), "");
	free(r.buf);
}

static void test_elf64_loads(void **state)
{
	struct kspec s = good_spec(true);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	struct multiboot_info mbi;
	struct mb_boot b;

	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
	check_segment(&r, &im, &s, 0);
	check_segment(&r, &im, &s, 2);
	assert_int_equal(b.entry, 0x100010);
	assert_int_equal(b.mbi, 0x105000); /* the page after the bss */
	check_info(&r, &b, "");
	memcpy(&mbi, r.buf + b.mbi, sizeof(mbi));
	assert_int_equal(mbi.mods_count, 0);
	free(r.buf);
}

/* A higher-half kernel: the entry is virtual and the CPU starts at its physical twin. */
static void test_entry_translated_to_physical(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	struct mb_boot b;

	s.segs[0].vaddr = 0xC0100000;
	s.segs[2].vaddr = 0xC0102000;
	s.entry = 0xC0100123;
	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
	assert_int_equal(b.entry, 0x100123);
	check_segment(&r, &im, &s, 0);
	free(r.buf);
}

static void test_aout_kludge_loads(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	struct mb_boot b;

	build_aout(&im);
	assert_int_equal(load(&mem, &im, "x", NULL, 0, &b), 0);
	assert_memory_equal(r.buf + AOUT_LOAD, im.b, AOUT_FILE);
	for (uint64_t a = AOUT_LOAD + AOUT_FILE; a < AOUT_BSS_END; a++)
		assert_int_equal(r.buf[a], 0);
	assert_int_equal(b.entry, AOUT_ENTRY);
	assert_int_equal(b.mbi, AOUT_BSS_END);
	check_info(&r, &b, "x");

	/* load_end_addr set: only that much is loaded, the rest of the file is not */
	put32(im.b + AOUT_HDR + 20, AOUT_LOAD + 0x1000);
	free(r.buf);
	mem = ram_new(&r, 16 * MIB, true);
	assert_int_equal(load(&mem, &im, "x", NULL, 0, &b), 0);
	assert_memory_equal(r.buf + AOUT_LOAD, im.b, 0x1000);
	assert_int_equal(r.buf[AOUT_LOAD + 0x1000], 0);
	free(r.buf);
}

/* Modules go above the kernel but never into [0x9FC00, 0x100000). */
static void test_modules_skip_legacy_area(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	static uint8_t big[0x90000];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	const struct mb_blob mod = { big, sizeof(big), "big" };
	struct multiboot_mod m;
	struct multiboot_info mbi;
	struct mb_boot b;

	s.segs[0] = (struct tseg){ PT_LOAD, PF_R | PF_X, 0x10000, 0, 0x100, 0x1000 };
	s.n = 1;
	s.entry = 0x10000;
	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, &mod, 1, &b), 0);
	memcpy(&mbi, r.buf + b.mbi, sizeof(mbi));
	memcpy(&m, r.buf + mbi.mods_addr, sizeof(m));
	assert_int_equal(m.mod_start, 0x100000);
	assert_int_equal(b.mbi, 0x190000); /* in order: after the module */
	free(r.buf);
}

static void test_small_guest_memory_map(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 2 * MIB, true);
	struct multiboot_info mbi;
	struct multiboot_mmap_entry last;
	struct mb_boot b;

	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
	memcpy(&mbi, r.buf + b.mbi, sizeof(mbi));
	assert_int_equal(mbi.mem_upper, 1024);
	assert_int_equal(mbi.mmap_length, 4 * sizeof(last));
	memcpy(&last, r.buf + mbi.mmap_addr + 3 * sizeof(last), sizeof(last));
	assert_int_equal(last.base_addr, 0x100000);
	assert_int_equal(last.length, MIB);
	free(r.buf);
}

/* The map agrees with the platform: every range it reserves (the EBDA, the firmware area
 * with the ACPI tables, the APIC pages) is marked reserved where RAM reaches it, and no
 * available range overlaps one. */
static void test_memory_map_keeps_platform_ranges(void **state)
{
	static const uint64_t sizes[] = { 2 * MIB, 16 * MIB, 48 * MIB + 4 * KIB };
	unsigned nr_res;
	const struct acpi_range *res = acpi_reserved_ranges(&nr_res);

	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct kspec spec = good_spec(false);
		static struct img im;
		struct ram r;
		struct mb_guest_mem mem = ram_new(&r, sizes[s], true);
		struct multiboot_info mbi;
		struct multiboot_mmap_entry e[8];
		struct mb_boot b;
		unsigned n;

		build(&im, &spec);
		assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
		memcpy(&mbi, r.buf + b.mbi, sizeof(mbi));
		n = mbi.mmap_length / sizeof(e[0]);
		assert_true(n > 0 && n <= ARRAY_SIZE(e));
		memcpy(e, r.buf + mbi.mmap_addr, n * sizeof(e[0]));
		for (unsigned i = 0; i < n; i++) {
			assert_true(e[i].base_addr + e[i].length <= sizes[s]);
			if (i)
				assert_true(e[i].base_addr >= e[i - 1].base_addr + e[i - 1].length);
		}
		assert_int_equal(e[n - 1].type, MB_MMAP_AVAILABLE);
		assert_int_equal(e[n - 1].base_addr + e[n - 1].length, sizes[s]);
		for (unsigned k = 0; k < nr_res; k++) {
			uint64_t lo = res[k].base, hi = MIN(res[k].base + res[k].len, sizes[s]);
			uint64_t covered = 0;

			if (lo >= sizes[s])
				continue;
			for (unsigned i = 0; i < n; i++) {
				uint64_t a = MAX(lo, e[i].base_addr);
				uint64_t z = MIN(hi, e[i].base_addr + e[i].length);

				if (a >= z)
					continue;
				assert_int_equal(e[i].type, MB_MMAP_RESERVED);
				covered += z - a;
			}
			assert_int_equal(covered, hi - lo);
		}
		free(r.buf);
	}
}

static void test_header_at_the_edge_of_8k(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	struct mb_boot b;

	s.hdr_off = MB_SEARCH - 12;
	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
	free(r.buf);
}

static void test_check(void **state)
{
	static struct img im;
	struct kspec s = good_spec(true);
	char small[8];

	build(&im, &s);
	assert_int_equal(mb_check(im.b, im.size, err, sizeof(err)), 0);
	build_aout(&im);
	assert_int_equal(mb_check(im.b, im.size, NULL, 0), 0);
	im.b[AOUT_HDR + 8] ^= 1;
	assert_int_equal(mb_check(im.b, im.size, small, sizeof(small)), -E_FORMAT);
	assert_int_equal(strlen(small), sizeof(small) - 1); /* cut, and terminated */
	assert_int_equal(mb_check(im.b, im.size, NULL, 0), -E_FORMAT);
	assert_int_equal(mb_check(im.b, 0, err, sizeof(err)), -E_FORMAT);
}

/* --- refusals: each leaves RAM untouched and says why --- */

struct refusal {
	const char *name;
	void (*make)(struct img *im);
	int err;
	const char *msg; /* a part of the message */
};

#define WITH_SPEC(fn, is64, edit)                  \
	static void fn(struct img *im)             \
	{                                          \
		struct kspec s = good_spec(is64);  \
		edit;                              \
		build(im, &s);                     \
	}
#define PH64(im, i, field) ((im)->b + (im)->phoff + 56 * (i) + (field))

WITH_SPEC(k_video, false, s.mbflags |= MB_HF_VIDEO)
WITH_SPEC(k_unknown_flag, false, s.mbflags |= 1u << 5)
WITH_SPEC(k_header_past_8k, false, s.hdr_off = MB_SEARCH)
WITH_SPEC(k_header_straddles_8k, false, s.hdr_off = MB_SEARCH - 8)
WITH_SPEC(k_outside_ram, false, s.segs[2].paddr = 15 * MIB; s.segs[2].memsz = 2 * MIB)
WITH_SPEC(k_first_page, false, s.segs[2].paddr = 0x800)
WITH_SPEC(k_legacy_area, false, s.segs[2].paddr = 0xA0000)
WITH_SPEC(k_overlap, false, s.segs[2].paddr = 0x101000)
WITH_SPEC(k_filesz_gt_memsz, false, s.segs[2].memsz = 0x80)
WITH_SPEC(k_entry_outside, false, s.entry = 0x200000)
WITH_SPEC(k_entry_in_data, false, s.entry = 0x102010)
WITH_SPEC(k_entry_in_bss, false, s.segs[0].memsz = 0x1c00; s.entry = 0x101900)
WITH_SPEC(k_no_load, false, s.segs[0].type = PT_NOTE; s.segs[2].type = PT_NOTE;
	  s.segs[3].type = PT_NOTE)
WITH_SPEC(k_entry_above_4g, true, s.segs[0].vaddr = 0xffffffff80100000ULL;
	  s.entry = 0xffffffff80100010ULL)
WITH_SPEC(k_above_4g, true, s.segs[2].paddr = 0x100000000ULL)
WITH_SPEC(k_wraps, true, s.segs[2].paddr = 0xfffffffffffff000ULL; s.segs[2].memsz = 0x2000)

static void k_no_header(struct img *im)
{
	k_video(im);
	memset(im->b + im->hdr_off, 0, 12);
}

static void k_good32(struct img *im)
{
	struct kspec s = good_spec(false);

	build(im, &s);
}

static void k_bad_checksum(struct img *im)
{
	k_good32(im);
	im->b[im->hdr_off + 8]++;
}

/* ELF header fields: e_type 16, e_machine 18, e_phoff 28, e_phentsize 42, e_phnum 44 */
#define WITH_ELF32(fn, edit)               \
	static void fn(struct img *im)     \
	{                                  \
		k_good32(im);              \
		edit;                      \
	}
/* a.out-kludge fields after the header's start: load_addr 16, load_end_addr 20,
 * bss_end_addr 24, entry_addr 28 */
#define WITH_AOUT(fn, field, value)                              \
	static void fn(struct img *im)                           \
	{                                                        \
		build_aout(im);                                  \
		put32(im->b + AOUT_HDR + (field), (value));      \
	}

WITH_ELF32(k_bad_magic, im->b[1] = 'e')
WITH_ELF32(k_bad_class, im->b[4] = 3)
WITH_ELF32(k_big_endian, im->b[5] = 2)
WITH_ELF32(k_not_exec, put16(im->b + 16, 3))
WITH_ELF32(k_wrong_machine, put16(im->b + 18, 62))
WITH_ELF32(k_too_many_phdrs, put16(im->b + 44, 65))
WITH_ELF32(k_small_phentsize, put16(im->b + 42, 16))
WITH_ELF32(k_phdrs_past_eof, put32(im->b + 28, im->size - 40))
WITH_ELF32(k_truncated, im->size = im->seg_off[2] + 0x80)
WITH_AOUT(k_aout_load_above_header, 16, AOUT_LOAD + 0x100)
WITH_AOUT(k_aout_before_file, 16, AOUT_LOAD - 0x1000)
WITH_AOUT(k_aout_past_eof, 20, AOUT_LOAD + AOUT_FILE + 1)
WITH_AOUT(k_aout_end_below_load, 20, AOUT_LOAD - 1)
WITH_AOUT(k_aout_bss_below_end, 24, AOUT_LOAD + 0x1000)
WITH_AOUT(k_aout_entry_outside, 28, AOUT_LOAD + AOUT_FILE)

/* The header moved to the file's start, the file cut after it. */
static void k_ehdr_truncated(struct img *im)
{
	k_good32(im);
	memmove(im->b + 0x20, im->b + im->hdr_off, 12);
	im->size = 0x2c;
	im->hdr_off = 0x20;
}

static void k_aout_short_header(struct img *im)
{
	build_aout(im);
	memmove(im->b, im->b + AOUT_HDR, 12);
	im->hdr_off = 0;
	im->size = 24;
}

static void k_offset_huge(struct img *im)
{
	struct kspec s = good_spec(true);

	build(im, &s);
	put64(PH64(im, 2, 8), UINT64_MAX - 0x10);
}

static const struct refusal refusals[] = {
	{ "no header", k_no_header, E_FORMAT, "no Multiboot header" },
	{ "header past 8 KiB", k_header_past_8k, E_FORMAT, "offset 0x2000 does not lie within" },
	{ "header across 8 KiB", k_header_straddles_8k, E_FORMAT, "0x1ff8 does not lie within" },
	{ "bad checksum", k_bad_checksum, E_FORMAT, "offset 0x800 has a bad checksum" },
	{ "video mode", k_video, E_NOSUP,
	  "requires video mode information, which tern does not provide" },
	{ "unknown required flag", k_unknown_flag, E_NOSUP, "flags 0x23" },
	{ "bad ELF magic", k_bad_magic, E_FORMAT, "not an ELF file" },
	{ "bad ELF class", k_bad_class, E_FORMAT, "class 3" },
	{ "big-endian", k_big_endian, E_FORMAT, "not little-endian" },
	{ "not ET_EXEC", k_not_exec, E_FORMAT, "ELF type 3" },
	{ "wrong machine", k_wrong_machine, E_FORMAT, "ELF32 for machine 62" },
	{ "too many program headers", k_too_many_phdrs, E_NOSUP, "65 program headers" },
	{ "small program header size", k_small_phentsize, E_FORMAT, "program header size 16" },
	{ "program headers past EOF", k_phdrs_past_eof, E_FORMAT, "program headers at" },
	{ "ELF header truncated", k_ehdr_truncated, E_FORMAT, "ELF header needs 52 bytes" },
	{ "segment truncated", k_truncated, E_FORMAT, "truncated: segment 2's data" },
	{ "segment offset overflows", k_offset_huge, E_FORMAT, "truncated: segment 2" },
	{ "p_filesz > p_memsz", k_filesz_gt_memsz, E_FORMAT, "segment 2: file size 0x100 exceeds" },
	{ "segment outside RAM", k_outside_ram, E_RANGE,
	  "segment 2 at 0xf00000+0x200000 lies outside the guest's 16 MiB" },
	{ "segment wraps", k_wraps, E_FORMAT, "wraps around" },
	{ "segment on page 0", k_first_page, E_RANGE, "first page" },
	{ "segment in legacy area", k_legacy_area, E_RANGE, "legacy area" },
	{ "overlapping segments", k_overlap, E_FORMAT,
	  "segments 0 (0x100000+0x1800) and 2 (0x101000+0x3000) overlap" },
	{ "no PT_LOAD", k_no_load, E_FORMAT, "no loadable segment" },
	{ "entry outside", k_entry_outside, E_FORMAT, "entry point 0x200000 lies in no loaded" },
	{ "entry in data", k_entry_in_data, E_FORMAT, "executable segment" },
	{ "entry in bss", k_entry_in_bss, E_FORMAT, "executable segment" },
	{ "entry above 4 GiB", k_entry_above_4g, E_RANGE, "32-bit mode" },
	{ "a.out: load_addr > header_addr", k_aout_load_above_header, E_FORMAT,
	  "lies above header_addr" },
	{ "a.out: before the file", k_aout_before_file, E_FORMAT, "before the file" },
	{ "a.out: load_end past EOF", k_aout_past_eof, E_FORMAT, "the file ends at 0x2100" },
	{ "a.out: load_end < load_addr", k_aout_end_below_load, E_FORMAT, "lies below load_addr" },
	{ "a.out: bss_end < load_end", k_aout_bss_below_end, E_FORMAT, "bss_end_addr" },
	{ "a.out: entry outside", k_aout_entry_outside, E_FORMAT, "entry point 0x202100" },
	{ "a.out: header cut short", k_aout_short_header, E_FORMAT,
	  "run past the end of the file" },
};

static void test_refusals(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_boot b = { 1, 2, 3 };

	for (unsigned i = 0; i < ARRAY_SIZE(refusals); i++) {
		const struct refusal *t = &refusals[i];
		struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
		int rc;

		t->make(&im);
		rc = load(&mem, &im, "cmdline", NULL, 0, &b);
		if (rc != -t->err || !strstr(err, t->msg))
			print_message("refusal \"%s\": got %d \"%s\"\n", t->name, rc, err);
		assert_int_equal(rc, -t->err);
		assert_non_null(strstr(err, t->msg));
		assert_int_equal(r.writes, 0);
		assert_true(b.entry == 1 && b.mbi == 2 && b.end == 3);
		/* mb_check refuses the same, except what depends on the guest's RAM */
		assert_int_equal(mb_check(im.b, im.size, NULL, 0) < 0,
				 strstr(t->msg, "outside the guest's") == NULL);
		free(r.buf);
	}
}

/* A guest with more than 4 GiB: still nothing may go above 4 GiB. The RAM is never
 * written (the callbacks fail the test if it is). */
static void test_above_4g(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 8 * GIB, false);
	const struct mb_blob mod = { (const uint8_t *)"", 0xFFFFF000, NULL }; /* never read */
	struct mb_boot b;

	k_above_4g(&im);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), -E_RANGE);
	assert_non_null(strstr(err, "segment 2 at 0x100000000+0x3000 lies above 4 GiB"));
	k_good32(&im);
	assert_int_equal(load(&mem, &im, NULL, &mod, 1, &b), -E_NOMEM);
	assert_non_null(strstr(err, "more than fits below 4 GiB"));
	assert_int_equal(r.writes, 0);
}

static void test_modules_do_not_fit(void **state)
{
	struct kspec s = good_spec(false);
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, true);
	uint8_t *big = calloc(1, 15 * MIB);
	struct mb_blob mods[2] = { { big, 15 * MIB, NULL }, { big, 1, NULL } };
	struct mb_boot b;

	build(&im, &s);
	assert_int_equal(load(&mem, &im, NULL, mods, 2, &b), -E_NOMEM);
	assert_non_null(strstr(err, "need 25 KiB more than the guest's 16 MiB"));
	assert_int_equal(r.writes, 0);
	/* a module of 2^64-1 bytes must not wrap the layout */
	mods[1].size = UINT64_MAX;
	assert_int_equal(load(&mem, &im, NULL, mods, 2, &b), -E_NOMEM);
	assert_int_equal(r.writes, 0);
	free(big);
	free(r.buf);
}

static void test_bad_arguments(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 16 * MIB, false);
	const struct mb_blob nodata = { NULL, 10, NULL };
	struct mb_boot b;

	k_good32(&im);
	assert_int_equal(load(&mem, &im, NULL, NULL, 1, &b), -E_INVAL);
	assert_int_equal(load(&mem, &im, NULL, &nodata, 1, &b), -E_INVAL);
	assert_string_equal(err, "module 0 has no data");
	assert_int_equal(mb_load(&mem, NULL, NULL, 0, &b, NULL, 0), -E_INVAL);
}

/* --- fuzzing: mutated images never crash, read outside the image or write outside RAM --- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mutate(struct img *im)
{
	static const uint32_t words[] = { 0, 1, 0xffffffff, 0x80000000, 0x1000, 0x100000,
					  0x3ff000, 0x400000, 0xfffff000, 0x7fffffff };
	unsigned n = 1 + rnd() % 6;

	for (unsigned i = 0; i < n; i++) {
		uint64_t span = rnd() % 3 == 0 ? im->size : MIN(im->size, 0x200);
		uint64_t at = rnd() % 4 == 0 ? im->hdr_off + rnd() % 32 : rnd() % span;

		if (at + 4 <= im->size && rnd() % 2)
			put32(im->b + (at & ~3ULL), words[rnd() % ARRAY_SIZE(words)]);
		else if (at < im->size)
			im->b[at] = (uint8_t)rnd();
	}
	if (rnd() % 2)
		fix_checksum(im);
	if (rnd() % 8 == 0)
		im->size = rnd() % (im->size + 1);
}

static void test_fuzz(void **state)
{
	static struct img base[3], im;
	struct kspec s32 = good_spec(false), s64 = good_spec(true);
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 4 * MIB, true);
	static uint8_t modbuf[3000];
	const struct mb_blob mod = { modbuf, sizeof(modbuf), "m" };
	unsigned ok = 0;

	build(&base[0], &s32);
	build(&base[1], &s64);
	build_aout(&base[2]);
	for (unsigned iter = 0; iter < 6000; iter++) {
		struct mb_boot b = { 0 };
		int rc, chk;

		im = base[iter % 3];
		mutate(&im);
		rc = load(&mem, &im, "fuzz", &mod, 1, &b);
		chk = mb_check(im.b, im.size, NULL, 0);
		if (rc) {
			assert_true(rc == -E_FORMAT || rc == -E_NOSUP || rc == -E_RANGE ||
				    rc == -E_NOMEM);
			assert_true(err[0] != 0);
			continue;
		}
		ok++;
		assert_int_equal(chk, 0);
		assert_true(b.entry >= PAGE_SIZE && b.entry < mem.size);
		assert_int_equal(b.mbi % PAGE_SIZE, 0);
		assert_true(b.mbi + sizeof(struct multiboot_info) <= b.end && b.end <= mem.size);
		assert_int_equal(g32(&r, b.mbi + 20), 1); /* mods_count */
	}
	print_message("fuzz: %u of 6000 mutated images loaded\n", ok);
	assert_true(ok > 0);
	free(r.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf32_loads),
		cmocka_unit_test(test_elf64_loads),
		cmocka_unit_test(test_entry_translated_to_physical),
		cmocka_unit_test(test_aout_kludge_loads),
		cmocka_unit_test(test_modules_skip_legacy_area),
		cmocka_unit_test(test_small_guest_memory_map),
		cmocka_unit_test(test_memory_map_keeps_platform_ranges),
		cmocka_unit_test(test_header_at_the_edge_of_8k),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_above_4g),
		cmocka_unit_test(test_modules_do_not_fit),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests_name("mbload", tests, NULL, NULL);
}
