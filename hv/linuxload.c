/* The Linux/x86 boot protocol, the loader's side. Everything is checked before anything
 * is written: parse the setup header, work out where the kernel runs and how much RAM
 * it needs there, place the initrd and the command line, and only then copy. The image
 * is read only inside [data, data + size). Offsets are boot.rst's and zero-page.rst's. */
#include <stdarg.h>
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/linuxload.h"
#include "hv/x86_rules.h"

typedef unsigned long long ull; /* for fmt's %ll */

/* The setup header: offsets in the image, and in the zero page, which holds a copy of
 * it at the same offsets. */
#define HDR_START 0x1f1
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_HARDWARE_SUBARCH 0x23c
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_KERNEL_INFO 0x268
#define HDR_MIN_END 0x264 /* a 2.10 header runs through init_size */
#define HDR_MAX_END 0x290 /* the room boot_params has for it (edd_mbr_sig_buffer follows) */

#define BOOT_FLAG 0xaa55
#define HDRS 0x53726448 /* "HdrS" */
#define LTOP 0x506f544c /* "LToP", kernel_info's magic */
#define JMP_SHORT 0xeb
#define LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01
#define VID_NORMAL 0xffff
#define LOADER_UNDEFINED 0xff /* type_of_loader: no assigned ID */
#define INITRD_MAX_OLD 0x37ffffffu /* initrd_addr_max before 2.03 (and when 0) */
#define CMDLINE_SIZE_OLD 255       /* cmdline_size before 2.06 */

/* boot_params beyond the setup header (zero-page.rst) */
#define ZP_ACPI_RSDP 0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0
#define ZP_RSDP_VERSION 0x020e /* kernels of 2.14 on read acpi_rsdp_addr */

/* Below this the first megabyte is the legacy hole: VGA memory and option ROMs. */
#define VGA_BASE 0xa0000ull

/* Page-table and GDT bits the loader writes into guest memory. */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define NR_PD 4 /* page directories: 4 GiB in 2 MiB pages */
#define GDT_ENTRIES 4

struct bzimage {
	const uint8_t *data;
	uint64_t size;
	uint16_t version;
	uint64_t setup_len; /* boot sector and setup: where the protected-mode kernel starts */
	uint64_t pm_size;   /* the protected-mode kernel, syssize paragraphs */
	uint64_t hdr_end;   /* the setup header is [HDR_START, hdr_end) */
	uint64_t run_at, init_size;
	uint64_t initrd_max; /* the last byte an initrd may occupy */
	uint64_t cmdline_max; /* characters, without the NUL */
	bool long_mode;
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

static uint8_t rd8(const struct bzimage *k, uint64_t off)
{
	return k->data[off];
}

static uint16_t rd16(const struct bzimage *k, uint64_t off)
{
	uint16_t v;

	memcpy(&v, k->data + off, sizeof(v));
	return v;
}

static uint32_t rd32(const struct bzimage *k, uint64_t off)
{
	uint32_t v;

	memcpy(&v, k->data + off, sizeof(v));
	return v;
}

static uint64_t rd64(const struct bzimage *k, uint64_t off)
{
	uint64_t v;

	memcpy(&v, k->data + off, sizeof(v));
	return v;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

bool lx_probe(const uint8_t *data, uint64_t size)
{
	uint32_t magic;

	if (!data || size < HDR_VERSION + 2)
		return false;
	memcpy(&magic, data + HDR_MAGIC, sizeof(magic));
	return magic == HDRS;
}

/* --- the setup header --- */

static int parse_header(struct bzimage *k, struct diag *d)
{
	unsigned sects;

	if (!lx_probe(k->data, k->size))
		return fail(d, E_FORMAT, "not a bzImage: no Linux boot header ('HdrS' at 0x202)");
	k->version = rd16(k, HDR_VERSION);
	if (k->version < LX_MIN_VERSION)
		return fail(d, E_NOSUP, "boot protocol %u.%02u is older than 2.10, the oldest "
					"tern loads",
			    k->version >> 8, k->version & 0xff);
	if (k->size < HDR_MAX_END)
		return fail(d, E_FORMAT, "truncated: %llu bytes end inside the setup header",
			    (ull)k->size);
	if (rd16(k, HDR_BOOT_FLAG) != BOOT_FLAG)
		return fail(d, E_FORMAT, "corrupt: boot_flag is 0x%x, not 0xaa55",
			    rd16(k, HDR_BOOT_FLAG));
	/* The jump over the header doubles as its length (boot.rst, "32-bit Boot Protocol"). */
	k->hdr_end = HDR_MAGIC + rd8(k, HDR_JUMP + 1);
	if (rd8(k, HDR_JUMP) != JMP_SHORT || k->hdr_end < HDR_MIN_END || k->hdr_end > HDR_MAX_END)
		return fail(d, E_FORMAT, "corrupt: the jump at 0x200 (%02x %02x) gives no setup "
					 "header between 0x264 and 0x290",
			    rd8(k, HDR_JUMP), rd8(k, HDR_JUMP + 1));
	if (!(rd8(k, HDR_LOADFLAGS) & LOADED_HIGH))
		return fail(d, E_NOSUP, "a zImage (loaded below 1 MiB); tern loads bzImages only");
	sects = rd8(k, HDR_SETUP_SECTS);
	k->setup_len = (uint64_t)((sects ? sects : 4) + 1) * 512;
	k->pm_size = (uint64_t)rd32(k, HDR_SYSSIZE) * 16;
	if (!k->pm_size)
		return fail(d, E_FORMAT, "corrupt: syssize 0, no protected-mode kernel");
	if (k->setup_len > k->size || k->pm_size > k->size - k->setup_len)
		return fail(d, E_FORMAT,
			    "truncated: the header promises %llu bytes (setup %llu, kernel %llu), "
			    "the file has %llu",
			    (ull)(k->setup_len + k->pm_size), (ull)k->setup_len, (ull)k->pm_size,
			    (ull)k->size);
	return 0;
}

/* The compressed payload's format, by its magic (boot.rst, payload_offset). */
static bool payload_magic(const uint8_t *p, uint64_t len)
{
	static const struct {
		uint8_t n, b[4];
	} magic[] = {
		{ 2, { 0x1f, 0x8b } },       { 2, { 0x1f, 0x9e } }, /* gzip */
		{ 2, { 0x42, 0x5a } },       /* bzip2 */
		{ 2, { 0x5d, 0x00 } },       /* LZMA */
		{ 2, { 0xfd, 0x37 } },       /* XZ */
		{ 2, { 0x02, 0x21 } },       /* LZ4 */
		{ 2, { 0x28, 0xb5 } },       /* ZSTD */
		{ 4, { 0x7f, 'E', 'L', 'F' } }, /* uncompressed */
	};

	for (unsigned i = 0; i < ARRAY_SIZE(magic); i++)
		if (len >= magic[i].n && !memcmp(p, magic[i].b, magic[i].n))
			return true;
	return false;
}

/* Fields that point into the protected-mode kernel must land inside it. */
static int check_payload(const struct bzimage *k, struct diag *d)
{
	const uint8_t *pm = k->data + k->setup_len;
	uint64_t off = rd32(k, HDR_PAYLOAD_OFFSET), len = rd32(k, HDR_PAYLOAD_LENGTH), ki;

	if (off || len) { /* 2.08 on; a kernel may leave both 0 */
		if (!len || off > k->pm_size || len > k->pm_size - off)
			return fail(d, E_FORMAT, "corrupt: the payload at 0x%llx+0x%llx lies "
						 "outside the %llu-byte kernel",
				    (ull)off, (ull)len, (ull)k->pm_size);
		if (!payload_magic(pm + off, len))
			return fail(d, E_FORMAT, "corrupt: the payload at 0x%llx starts %02x %02x, "
						 "no compression format the kernel knows",
				    (ull)off, pm[off], len > 1 ? pm[off + 1] : 0);
	}
	if (k->version < 0x020f || k->hdr_end < HDR_KERNEL_INFO + 4)
		return 0;
	ki = rd32(k, HDR_KERNEL_INFO);
	if (ki > k->pm_size || k->pm_size - ki < 12 || memcmp(pm + ki, "LToP", 4))
		return fail(d, E_FORMAT, "corrupt: no kernel_info ('LToP') at offset 0x%llx",
			    (ull)ki);
	return 0;
}

/* Where the kernel runs and the RAM it needs there before it reads its memory map
 * (boot.rst, init_size): a relocatable kernel loaded at 1 MiB runs at 1 MiB aligned
 * up, but never below its preferred address, as its decompressor moves it there. */
static int parse_layout(struct bzimage *k, struct diag *d)
{
	uint64_t align = rd32(k, HDR_KERNEL_ALIGNMENT), pref = rd64(k, HDR_PREF_ADDRESS);
	bool reloc = rd8(k, HDR_RELOCATABLE);

	k->init_size = rd32(k, HDR_INIT_SIZE);
	if (k->init_size < k->pm_size)
		return fail(d, E_FORMAT, "corrupt: init_size 0x%llx is less than the kernel's "
					 "0x%llx bytes",
			    (ull)k->init_size, (ull)k->pm_size);
	if (reloc && (!pow2(align) || align > GIB))
		return fail(d, E_FORMAT, "corrupt: kernel_alignment 0x%llx is not a power of two "
					 "up to 1 GiB",
			    (ull)align);
	if (pref && pref < LX_KERNEL)
		return fail(d, E_FORMAT, "corrupt: pref_address 0x%llx lies below 1 MiB",
			    (ull)pref);
	k->run_at = reloc ? MAX(ALIGN_UP(LX_KERNEL, align), pref) : (pref ? pref : LX_KERNEL);
	k->initrd_max = rd32(k, HDR_INITRD_ADDR_MAX) ? rd32(k, HDR_INITRD_ADDR_MAX)
						      : INITRD_MAX_OLD;
	k->cmdline_max = k->version >= 0x0206 ? rd32(k, HDR_CMDLINE_SIZE) : CMDLINE_SIZE_OLD;
	k->long_mode = k->version >= 0x020c && (rd16(k, HDR_XLOADFLAGS) & XLF_KERNEL_64);
	return 0;
}

static int parse(struct bzimage *k, const uint8_t *data, uint64_t size, struct diag *d)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->data = data, k->size = size;
	rc = parse_header(k, d);
	if (!rc)
		rc = check_payload(k, d);
	if (!rc)
		rc = parse_layout(k, d);
	return rc;
}

/* --- the e820 map --- */

struct hole {
	uint64_t base, end;
	uint32_t type; /* E820_RESERVED, or 0: left out of the map */
};

static void sort_holes(struct hole *h, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && h[j].base < h[j - 1].base; j--) {
			struct hole t = h[j];
			h[j] = h[j - 1], h[j - 1] = t;
		}
}

static void add(struct e820_entry *out, unsigned max, unsigned *n, uint64_t base, uint64_t end,
		uint32_t type)
{
	if (end > base && *n < max)
		out[(*n)++] = (struct e820_entry){ base, end - base, type };
}

/* Holes in RAM: the reserved ranges (listed as such) and the legacy hole (left out, as
 * a BIOS leaves it out of its map). */
unsigned lx_e820(uint64_t ram, struct e820_entry *out, unsigned max)
{
	const struct acpi_range *res;
	struct hole hole[16];
	unsigned nr, n = 0, nh = 0;
	uint64_t at = 0;

	res = acpi_reserved_ranges(&nr);
	for (unsigned i = 0; i < nr && nh < ARRAY_SIZE(hole) - 1; i++)
		hole[nh++] = (struct hole){ res[i].base, res[i].base + res[i].len, E820_RESERVED };
	hole[nh++] = (struct hole){ VGA_BASE, ACPI_AREA_BASE, 0 };
	sort_holes(hole, nh);
	for (unsigned i = 0; i < nh; i++) {
		add(out, max, &n, at, MIN(hole[i].base, ram), E820_RAM);
		if (hole[i].type)
			add(out, max, &n, hole[i].base, hole[i].end, hole[i].type);
		at = MAX(at, hole[i].end);
	}
	add(out, max, &n, at, ram, E820_RAM);
	return n;
}

/* --- placing the initrd and checking the whole fits --- */

struct plan {
	uint64_t ram, init_end, initrd;
	struct e820_entry map[LX_E820_MAX];
	unsigned nr_map;
	uint64_t cmdline_len;
};

/* The highest page-aligned place for size bytes inside one RAM entry, at or above lo
 * and ending at or below hi; 0 when there is none. */
static uint64_t place_high(const struct plan *p, uint64_t size, uint64_t lo, uint64_t hi)
{
	for (unsigned i = p->nr_map; i-- > 0;) {
		const struct e820_entry *e = &p->map[i];
		uint64_t top = MIN(e->addr + e->size, hi), at;

		if (e->type != E820_RAM || top < size)
			continue;
		at = ALIGN_DOWN(top - size, PAGE_SIZE);
		if (at >= MAX(e->addr, lo))
			return at;
	}
	return 0;
}

static int plan(struct plan *p, const struct bzimage *k, const struct mb_blob *kernel,
		const struct mb_blob *initrd, struct diag *d)
{
	uint64_t need = k->run_at + k->init_size, size = initrd ? initrd->size : 0;

	p->nr_map = lx_e820(p->ram, p->map, LX_E820_MAX);
	p->init_end = MAX(LX_KERNEL + k->pm_size, need);
	if (p->init_end > p->ram)
		return fail(d, E_RANGE,
			    "the kernel needs RAM up to %llu MiB (it runs at 0x%llx and needs "
			    "0x%llx bytes there), the VM has %llu MiB",
			    (ull)((p->init_end + MIB - 1) / MIB), (ull)k->run_at,
			    (ull)k->init_size, (ull)(p->ram / MIB));
	p->cmdline_len = kernel->cmdline ? strlen(kernel->cmdline) : 0;
	if (p->cmdline_len > k->cmdline_max || p->cmdline_len >= LX_CMDLINE_MAX)
		return fail(d, E_RANGE, "the command line has %llu characters, more than the %llu "
					"the kernel takes",
			    (ull)p->cmdline_len, (ull)MIN(k->cmdline_max, LX_CMDLINE_MAX - 1));
	if (!size)
		return 0;
	p->initrd = place_high(p, size, p->init_end, MIN(p->ram, k->initrd_max + 1));
	if (!p->initrd)
		return fail(d, E_NOMEM, "the initrd (%llu KiB) does not fit between the kernel's "
					"%llu MiB and the end of RAM below %llu MiB",
			    (ull)((size + KIB - 1) / KIB), (ull)((p->init_end + MIB - 1) / MIB),
			    (ull)(MIN(p->ram, k->initrd_max + 1) / MIB));
	return 0;
}

/* --- writing --- */

static void put(const struct mb_guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	if (len)
		m->write(m->ctx, gpa, src, len);
}

static void set16(uint8_t *zp, unsigned off, uint16_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

static void set32(uint8_t *zp, unsigned off, uint32_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

static void set64(uint8_t *zp, unsigned off, uint64_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

/* boot.rst, "Details of Header Fields": the fields a loader writes, on the kernel's copy
 * of its own header; zero-page.rst for the rest. Everything else stays zero. */
static void fill_zero_page(uint8_t *zp, const struct bzimage *k, const struct plan *p,
			   const struct mb_blob *initrd, uint64_t rsdp)
{
	memset(zp, 0, PAGE_SIZE);
	memcpy(zp + HDR_START, k->data + HDR_START, k->hdr_end - HDR_START);
	set16(zp, HDR_VID_MODE, VID_NORMAL);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] = LOADED_HIGH; /* no heap (we skip the real-mode code), not quiet */
	set32(zp, HDR_CMD_LINE_PTR, (uint32_t)LX_CMDLINE);
	set32(zp, ZP_EXT_CMD_LINE_PTR, 0);
	if (initrd && initrd->size) {
		set32(zp, HDR_RAMDISK_IMAGE, (uint32_t)p->initrd);
		set32(zp, HDR_RAMDISK_SIZE, (uint32_t)initrd->size);
		set32(zp, ZP_EXT_RAMDISK_IMAGE, (uint32_t)(p->initrd >> 32));
		set32(zp, ZP_EXT_RAMDISK_SIZE, (uint32_t)(initrd->size >> 32));
	} else {
		set32(zp, HDR_RAMDISK_IMAGE, 0);
		set32(zp, HDR_RAMDISK_SIZE, 0);
	}
	if (k->version >= 0x0207)
		set32(zp, HDR_HARDWARE_SUBARCH, 0); /* the default x86/PC */
	if (rsdp && k->version >= ZP_RSDP_VERSION)
		set64(zp, ZP_ACPI_RSDP, rsdp);
	zp[ZP_E820_ENTRIES] = (uint8_t)p->nr_map;
	memcpy(zp + ZP_E820_TABLE, p->map, p->nr_map * sizeof(p->map[0]));
}

/* A flat 4 GiB descriptor: base 0, limit 0xfffff in pages, present, S, DPL 0. */
static uint64_t flat_desc(unsigned type, bool is64)
{
	uint64_t flags = is64 ? 0xa : 0xc; /* G with L, or G with D/B */

	return 0xffffull | (0xfull << 48) | ((uint64_t)(0x90 | type) << 40) | (flags << 52);
}

/* __BOOT_CS (0x10) and __BOOT_DS (0x18); 0x00 and 0x08 stay empty. */
static void write_gdt(const struct mb_guest_mem *m, bool long_mode)
{
	uint64_t gdt[GDT_ENTRIES] = { 0, 0, flat_desc(0xb, long_mode), flat_desc(0x3, false) };

	put(m, LX_GDT, gdt, sizeof(gdt));
}

/* The 64-bit entry wants the kernel, the zero page and the command line identity-mapped:
 * all of the first 4 GiB is, in 2 MiB pages. */
static void write_page_tables(const struct mb_guest_mem *m)
{
	static uint64_t pt[PAGE_SIZE / 8];
	uint64_t pdpt = LX_PML4 + PAGE_SIZE, pd = pdpt + PAGE_SIZE;

	memset(pt, 0, sizeof(pt));
	pt[0] = pdpt | PTE_P | PTE_RW;
	put(m, LX_PML4, pt, PAGE_SIZE);
	for (unsigned i = 0; i < NR_PD; i++)
		pt[i] = (pd + i * PAGE_SIZE) | PTE_P | PTE_RW;
	put(m, pdpt, pt, PAGE_SIZE);
	for (unsigned i = 0; i < NR_PD; i++) {
		for (unsigned j = 0; j < PAGE_SIZE / 8; j++)
			pt[j] = ((uint64_t)i * GIB + j * 2 * MIB) | PTE_P | PTE_RW | PTE_PS;
		put(m, pd + i * PAGE_SIZE, pt, PAGE_SIZE);
	}
}

static void write_all(const struct mb_guest_mem *m, const struct bzimage *k, const struct plan *p,
		      const struct mb_blob *kernel, const struct mb_blob *initrd, uint64_t rsdp)
{
	static uint8_t zp[PAGE_SIZE];
	const char *cmdline = kernel->cmdline ? kernel->cmdline : "";

	put(m, LX_KERNEL, k->data + k->setup_len, k->pm_size);
	if (initrd && initrd->size)
		put(m, p->initrd, initrd->data, initrd->size);
	put(m, LX_CMDLINE, cmdline, p->cmdline_len + 1);
	write_gdt(m, k->long_mode);
	if (k->long_mode)
		write_page_tables(m);
	fill_zero_page(zp, k, p, initrd, rsdp);
	put(m, LX_ZERO_PAGE, zp, PAGE_SIZE);
}

/* Every check, for a VM of ram bytes; fills k and p. */
static int check_all(struct bzimage *k, struct plan *p, uint64_t ram,
		     const struct mb_blob *kernel, const struct mb_blob *initrd, struct diag *d)
{
	int rc = parse(k, kernel->data, kernel->size, d);

	if (rc)
		return rc;
	memset(p, 0, sizeof(*p));
	p->ram = ram;
	if (p->ram < LX_STACK_TOP)
		return fail(d, E_RANGE, "the VM's RAM ends below the loader's low memory");
	return plan(p, k, kernel, initrd, d);
}

int lx_load(const struct mb_guest_mem *mem, const struct mb_blob *kernel,
	    const struct mb_blob *initrd, uint64_t rsdp, struct lx_boot *out, char *err,
	    size_t err_size)
{
	struct diag d = { err, err_size };
	static struct plan p;
	struct bzimage k;
	int rc;

	if (err && err_size)
		err[0] = 0;
	if (!mem || !mem->write || !mem->zero || !mem->size || !kernel || !kernel->data || !out ||
	    (initrd && initrd->size && !initrd->data))
		return fail(&d, E_INVAL, "lx_load: missing argument");
	rc = check_all(&k, &p, mem->size, kernel, initrd, &d);
	if (rc)
		return rc;
	write_all(mem, &k, &p, kernel, initrd, rsdp);
	*out = (struct lx_boot){
		.version = k.version,
		.long_mode = k.long_mode,
		.entry = k.long_mode ? LX_KERNEL + 0x200 : LX_KERNEL,
		.zero_page = LX_ZERO_PAGE,
		.kernel = LX_KERNEL,
		.kernel_size = k.pm_size,
		.init_end = p.init_end,
		.initrd = initrd && initrd->size ? p.initrd : 0,
		.initrd_size = initrd ? initrd->size : 0,
		.e820_entries = p.nr_map,
	};
	return 0;
}

int lx_check(const uint8_t *data, uint64_t size, char *err, size_t err_size)
{
	struct diag d = { err, err_size };
	struct bzimage k;

	if (err && err_size)
		err[0] = 0;
	if (!data)
		return fail(&d, E_INVAL, "lx_check: no image");
	return parse(&k, data, size, &d);
}

int lx_check_fit(const uint8_t *data, uint64_t size, uint64_t ram, uint64_t initrd_size,
		 const char *cmdline, char *err, size_t err_size)
{
	const struct mb_blob kernel = { data, size, cmdline }, initrd = { NULL, initrd_size, NULL };
	struct diag d = { err, err_size };
	static struct plan p;
	struct bzimage k;

	if (err && err_size)
		err[0] = 0;
	if (!data)
		return fail(&d, E_INVAL, "lx_check_fit: no image");
	return check_all(&k, &p, ram, &kernel, &initrd, &d);
}

/* --- the vCPU at the entry point --- */

#define ATTR_CODE (SEG_P | SEG_S | 0xb) /* execute/read, accessed */
#define ATTR_DATA (SEG_P | SEG_S | 0x3) /* read/write, accessed */
#define ATTR_TSS_BUSY (SEG_P | 0xb)     /* busy TSS: 32-bit, or 64-bit in IA-32e mode */

int lx_boot_state(const struct cpu_model *m, const struct lx_boot *b, struct vcpu_state *s,
		  char *err, size_t err_size)
{
	const struct seg_state data = { .limit = 0xffffffff, .sel = LX_BOOT_DS,
					.attr = SEG_G | SEG_DB | ATTR_DATA };
	struct seg_state code = { .limit = 0xffffffff, .sel = LX_BOOT_CS,
				  .attr = SEG_G | ATTR_CODE };

	if (b->long_mode && !cpu_has(m, F_LM)) {
		fmt_snprintf(err, err_size, "the kernel enters in 64-bit mode, and the VM's CPU "
			     "has no long mode");
		return -E_NOSUP;
	}
	x86_reset_power_on(m, s); /* then what the protocol asks, caches on */
	x86_firmware_mtrrs(s);
	s->rdx = 0;
	s->rip = b->entry;
	s->rsi = b->zero_page;
	s->rsp = LX_STACK_TOP;
	s->cr0 = CR0_PE | CR0_ET;
	code.attr |= b->long_mode ? SEG_L : SEG_DB;
	if (b->long_mode) {
		s->cr0 |= CR0_PG;
		s->cr3 = LX_PML4;
		s->cr4 = CR4_PAE;
		s->efer = EFER_LME | EFER_LMA;
	}
	for (int i = SEG_ES; i <= SEG_GS; i++)
		s->seg[i] = data;
	s->seg[SEG_CS] = code;
	s->seg[SEG_LDTR] = (struct seg_state){ .attr = SEG_UNUSABLE };
	s->seg[SEG_TR] = (struct seg_state){ .limit = 0x67, .attr = ATTR_TSS_BUSY };
	s->gdtr = (struct dt_state){ LX_GDT, GDT_ENTRIES * 8 - 1 };
	s->idtr = (struct dt_state){ 0, 0 };
	return 0;
}
