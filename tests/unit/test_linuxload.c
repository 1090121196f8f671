#include <stdlib.h>
#include <string.h>
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "hv/linuxload.h"
#include "hv/x86_rules.h"
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
		memset(r->buf, 0xAA, size); /* so the test sees what the loader wrote */
	}
	return (struct mb_guest_mem){ .size = size, .ctx = r, .write = ram_write,
				      .zero = ram_zero };
}

static uint8_t g8(const struct ram *r, uint64_t gpa)
{
	assert_true(gpa < r->size);
	return r->buf[gpa];
}

static uint16_t g16(const struct ram *r, uint64_t gpa)
{
	uint16_t v;

	assert_true(gpa + 2 <= r->size);
	memcpy(&v, r->buf + gpa, 2);
	return v;
}

static uint32_t g32(const struct ram *r, uint64_t gpa)
{
	uint32_t v;

	assert_true(gpa + 4 <= r->size);
	memcpy(&v, r->buf + gpa, 4);
	return v;
}

static uint64_t g64(const struct ram *r, uint64_t gpa)
{
	uint64_t v;

	assert_true(gpa + 8 <= r->size);
	memcpy(&v, r->buf + gpa, 8);
	return v;
}

/* --- bzImages built in memory (boot.rst's header; offsets are the image's) --- */

#define SETUP_SECTS 4
#define SETUP_LEN ((SETUP_SECTS + 1) * 512)
#define PM_LEN (64 * 1024)
#define IMG_LEN (SETUP_LEN + PM_LEN)
#define PAYLOAD_OFF 0x100
#define PAYLOAD_LEN 0x1000
#define KINFO_OFF 0x2000
#define INIT_SIZE (4 * MIB)
#define PREF (16 * MIB) /* so the kernel runs at 16 MiB and needs RAM up to 20 MiB */

struct img {
	uint8_t b[IMG_LEN];
	uint64_t size;
};

static void p8(struct img *im, unsigned off, uint8_t v) { im->b[off] = v; }
static void p16(struct img *im, unsigned off, uint16_t v) { memcpy(im->b + off, &v, 2); }
static void p32(struct img *im, unsigned off, uint32_t v) { memcpy(im->b + off, &v, 4); }
static void p64(struct img *im, unsigned off, uint64_t v) { memcpy(im->b + off, &v, 8); }

/* A 2.15 kernel with a 64-bit entry point, like Debian's 6.1 (smaller). */
static void build(struct img *im)
{
	memset(im, 0, sizeof(*im));
	im->size = IMG_LEN;
	for (unsigned i = 0; i < IMG_LEN; i++)
		im->b[i] = (uint8_t)(0x31 + i * 7);
	p8(im, 0x1f1, SETUP_SECTS);
	p16(im, 0x1f2, 1);                  /* root_flags */
	p32(im, 0x1f4, PM_LEN / 16);        /* syssize */
	p16(im, 0x1fa, 0xfffd);             /* vid_mode: "ask" */
	p16(im, 0x1fe, 0xaa55);
	p8(im, 0x200, 0xeb);
	p8(im, 0x201, 0x6a);                /* header ends at 0x26c */
	memcpy(im->b + 0x202, "HdrS", 4);
	p16(im, 0x206, 0x020f);
	p8(im, 0x210, 0);                   /* type_of_loader */
	p8(im, 0x211, 0x01);                /* LOADED_HIGH */
	p32(im, 0x214, 0x100000);           /* code32_start */
	p32(im, 0x218, 0);
	p32(im, 0x21c, 0);
	p32(im, 0x228, 0);
	p32(im, 0x22c, 0x7fffffff);         /* initrd_addr_max */
	p32(im, 0x230, 0x200000);           /* kernel_alignment */
	p8(im, 0x234, 1);                   /* relocatable */
	p8(im, 0x235, 21);
	p16(im, 0x236, 0x1);                /* XLF_KERNEL_64 */
	p32(im, 0x238, 2047);               /* cmdline_size */
	p32(im, 0x23c, 0);
	p64(im, 0x240, 0);
	p32(im, 0x248, PAYLOAD_OFF);
	p32(im, 0x24c, PAYLOAD_LEN);
	p64(im, 0x250, 0);                  /* setup_data */
	p64(im, 0x258, PREF);
	p32(im, 0x260, INIT_SIZE);
	p32(im, 0x264, 0);                  /* handover_offset */
	p32(im, 0x268, KINFO_OFF);
	memcpy(im->b + SETUP_LEN + PAYLOAD_OFF, "\xfd" "7zXZ", 6);
	memcpy(im->b + SETUP_LEN + KINFO_OFF, "LToP\x10\0\0\0\x10\0\0\0", 12);
}

/* The oldest kernel tern loads: protocol 2.10, 32-bit entry only, header to 0x264. */
static void build_old(struct img *im)
{
	build(im);
	p16(im, 0x206, 0x020a);
	p8(im, 0x201, 0x62);
	p16(im, 0x236, 0);
	p32(im, 0x248, 0);
	p32(im, 0x24c, 0);
}

static char err[200];

static int load(struct mb_guest_mem *mem, const struct img *im, const char *cmdline,
		const uint8_t *initrd, uint64_t initrd_size, struct lx_boot *b)
{
	const struct mb_blob k = { im->b, im->size, cmdline };
	const struct mb_blob rd = { initrd, initrd_size, NULL };

	return lx_load(mem, &k, initrd ? &rd : NULL, 0xe0000, b, err, sizeof(err));
}

/* --- a CPU model (as test_x86_rules.c's, trimmed) --- */

#define BIT(n) (1u << (n))

static void skylake(struct cpu_model *m, bool lm)
{
	memset(m, 0, sizeof(*m));
	assert_true(cpu_model_set(m, 1, 0, 0x000506e3, 0x00010800,
				  BIT(0) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(23) | BIT(26),
				  0x0f8bfbffu));
	assert_true(cpu_model_set(m, 0xd, 0, 0x3, 0x240, 0x240, 0));
	assert_true(cpu_model_set(m, 0x80000001u, 0, 0, 0, 0x1,
				  BIT(11) | BIT(20) | (lm ? BIT(29) : 0)));
	assert_true(cpu_model_set(m, 0x80000008u, 0, 0x3027, 0, 0, 0));
}

/* --- the e820 map --- */

static void assert_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_pc_layout(void **state)
{
	struct e820_entry e[LX_E820_MAX];
	unsigned n = lx_e820(128 * MIB, e, LX_E820_MAX);

	assert_int_equal(n, 6);
	assert_entry(&e[0], 0, 0x9fc00, E820_RAM);
	assert_entry(&e[1], 0x9fc00, 0x400, E820_RESERVED);        /* EBDA */
	assert_entry(&e[2], 0xe0000, 0x20000, E820_RESERVED);      /* ACPI tables, BIOS */
	assert_entry(&e[3], 0x100000, 127 * MIB, E820_RAM);
	assert_entry(&e[4], ACPI_IOAPIC_BASE, PAGE_SIZE, E820_RESERVED);
	assert_entry(&e[5], ACPI_LAPIC_BASE, PAGE_SIZE, E820_RESERVED);
}

/* Every reserved range of the platform is in the map, whatever the RAM; no RAM entry
 * overlaps one, nor the legacy hole; entries come in address order. */
static void test_e820_any_size(void **state)
{
	static const uint64_t sizes[] = { 0x80000, 0x9fc00, 0xa0000, 0x100000, 2 * MIB,
					  130 * MIB, 3 * GIB, 0xfec00000ull };
	unsigned nr;
	const struct acpi_range *res = acpi_reserved_ranges(&nr);

	for (unsigned s = 0; s < ARRAY_SIZE(sizes); s++) {
		struct e820_entry e[LX_E820_MAX];
		unsigned n = lx_e820(sizes[s], e, LX_E820_MAX);
		uint64_t ram = 0;

		for (unsigned i = 0; i < n; i++) {
			if (i)
				assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);
			if (e[i].type != E820_RAM)
				continue;
			ram += e[i].size;
			assert_true(e[i].addr + e[i].size <= sizes[s]);
			assert_false(e[i].addr < 0xe0000 && e[i].addr + e[i].size > 0xa0000);
			for (unsigned j = 0; j < nr; j++)
				assert_false(e[i].addr < res[j].base + res[j].len &&
					     res[j].base < e[i].addr + e[i].size);
		}
		for (unsigned j = 0; j < nr; j++) {
			bool found = false;
			for (unsigned i = 0; i < n; i++)
				found |= e[i].type == E820_RESERVED && e[i].addr == res[j].base &&
					 e[i].size == res[j].len;
			assert_true(found);
		}
		/* all RAM but the holes is usable */
		{
			uint64_t expect = MIN(sizes[s], 0x9fc00) +
					  (sizes[s] > 0x100000 ? sizes[s] - 0x100000 : 0);
			assert_int_equal(ram, expect);
		}
	}
}

static void test_e820_truncated_to_room(void **state)
{
	struct e820_entry e[3];

	assert_int_equal(lx_e820(64 * MIB, e, 3), 3);
	assert_entry(&e[2], 0xe0000, 0x20000, E820_RESERVED);
}

/* --- loading --- */

static void test_loads_64bit_kernel(void **state)
{
	static struct img im;
	static uint8_t rd[100 * 1024 + 123];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, true);
	const char *cmd = "console=ttyS0,115200 quiet";
	struct e820_entry e[LX_E820_MAX];
	struct lx_boot b;
	unsigned n;

	build(&im);
	for (unsigned i = 0; i < sizeof(rd); i++)
		rd[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(load(&mem, &im, cmd, rd, sizeof(rd), &b), 0);
	assert_string_equal(err, "");
	assert_int_equal(b.version, 0x020f);
	assert_int_equal(b.long_mode, 1);
	assert_int_equal(b.entry, 0x100200);
	assert_int_equal(b.zero_page, LX_ZERO_PAGE);
	assert_int_equal(b.init_end, PREF + INIT_SIZE);

	/* the protected-mode kernel at 1 MiB, the setup code nowhere */
	assert_memory_equal(r.buf + LX_KERNEL, im.b + SETUP_LEN, PM_LEN);
	assert_int_equal(g8(&r, LX_KERNEL + PM_LEN), 0xAA);

	/* the initrd as high as it goes, page-aligned, above what the kernel needs */
	assert_int_equal(b.initrd, (32 * MIB - sizeof(rd)) & ~(PAGE_SIZE - 1));
	assert_int_equal(b.initrd_size, sizeof(rd));
	assert_true(b.initrd >= b.init_end);
	assert_memory_equal(r.buf + b.initrd, rd, sizeof(rd));

	/* the command line */
	assert_string_equal((char *)r.buf + LX_CMDLINE, cmd);

	/* the zero page: the header copied, the loader's fields written, the rest zero */
	{
		const uint64_t zp = LX_ZERO_PAGE;
		static const unsigned untouched[] = { 0x1f1, 0x1f2, 0x1f4, 0x1fe, 0x200, 0x202,
						      0x206, 0x214, 0x22c, 0x230, 0x234, 0x236,
						      0x238, 0x248, 0x24c, 0x258, 0x260, 0x268 };

		for (unsigned i = 0; i < ARRAY_SIZE(untouched); i++)
			assert_memory_equal(r.buf + zp + untouched[i], im.b + untouched[i], 2);
		assert_int_equal(g16(&r, zp + 0x1fa), 0xffff);     /* vid_mode: normal */
		assert_int_equal(g8(&r, zp + 0x210), 0xff);        /* type_of_loader */
		assert_int_equal(g8(&r, zp + 0x211), 0x01);        /* loadflags */
		assert_int_equal(g32(&r, zp + 0x218), b.initrd);
		assert_int_equal(g32(&r, zp + 0x21c), sizeof(rd));
		assert_int_equal(g32(&r, zp + 0x228), LX_CMDLINE);
		assert_int_equal(g32(&r, zp + 0x0c0), 0);          /* ext_ramdisk_image */
		assert_int_equal(g64(&r, zp + 0x070), 0xe0000);    /* acpi_rsdp_addr */
		assert_int_equal(g8(&r, zp + 0x1ef), 0);           /* sentinel */
		for (unsigned i = 0; i < 0x70; i++)
			assert_int_equal(g8(&r, zp + i), 0);        /* screen_info: no VGA */
		for (unsigned i = 0x26c; i < 0x290; i++)
			assert_int_equal(g8(&r, zp + i), 0);        /* past the header */
		n = lx_e820(32 * MIB, e, LX_E820_MAX);
		assert_int_equal(b.e820_entries, n);
		assert_int_equal(g8(&r, zp + 0x1e8), n);
		assert_memory_equal(r.buf + zp + 0x2d0, e, n * sizeof(e[0]));
		for (unsigned i = 0x2d0 + n * 20; i < PAGE_SIZE; i++)
			assert_int_equal(g8(&r, zp + i), 0);
	}

	/* __BOOT_CS a flat 64-bit code segment, __BOOT_DS flat read/write data */
	assert_int_equal(g64(&r, LX_GDT + 0x10), 0x00af9b000000ffffull);
	assert_int_equal(g64(&r, LX_GDT + 0x18), 0x00cf93000000ffffull);
	assert_int_equal(g64(&r, LX_GDT), 0);

	/* 4 GiB identity-mapped in 2 MiB pages */
	assert_int_equal(g64(&r, LX_PML4), 0x3003);
	assert_int_equal(g64(&r, 0x3000 + 3 * 8), 0x7003);
	assert_int_equal(g64(&r, 0x4000), 0x83);
	assert_int_equal(g64(&r, 0x7000 + 511 * 8), (4 * GIB - 2 * MIB) | 0x83);

	/* page 0 and the stack area are left alone */
	assert_int_equal(g8(&r, 0), 0xAA);
	assert_int_equal(g8(&r, LX_STACK_TOP - 1), 0xAA);
	free(r.buf);
}

static void test_64bit_entry_state(void **state)
{
	static struct img im;
	static struct vcpu_state s;
	struct cpu_model m;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, true);
	struct lx_boot b;
	char why[160];

	build(&im);
	skylake(&m, true);
	assert_int_equal(load(&mem, &im, NULL, NULL, 0, &b), 0);
	assert_int_equal(lx_boot_state(&m, &b, &s, why, sizeof(why)), 0);
	assert_int_equal(x86_state_check(&m, &s, why, sizeof(why)), 0);
	assert_int_equal(s.rip, 0x100200);
	assert_int_equal(s.rsi, LX_ZERO_PAGE);
	assert_true(s.cr0 & CR0_PG && s.cr0 & CR0_PE);
	assert_int_equal(s.cr3, LX_PML4);
	assert_true(s.cr4 & CR4_PAE);
	assert_int_equal(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	assert_int_equal(s.seg[SEG_CS].sel, LX_BOOT_CS);
	assert_true(s.seg[SEG_CS].attr & SEG_L);
	for (int i = SEG_ES; i <= SEG_GS; i++)
		if (i != SEG_CS)
			assert_int_equal(s.seg[i].sel, LX_BOOT_DS);
	assert_int_equal(s.gdtr.base, LX_GDT);
	assert_false(s.rflags & (1u << 9)); /* IF */
	/* no initrd: its fields zero; no command line: an empty one */
	assert_int_equal(g32(&r, LX_ZERO_PAGE + 0x218), 0);
	assert_int_equal(g32(&r, LX_ZERO_PAGE + 0x21c), 0);
	assert_int_equal(g8(&r, LX_CMDLINE), 0);
	free(r.buf);
}

static void test_32bit_entry(void **state)
{
	static struct img im;
	static struct vcpu_state s;
	struct cpu_model m;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, true);
	struct lx_boot b;
	char why[160];

	build_old(&im);
	skylake(&m, false);
	assert_int_equal(load(&mem, &im, "ro", NULL, 0, &b), 0);
	assert_int_equal(b.version, 0x020a);
	assert_int_equal(b.long_mode, 0);
	assert_int_equal(b.entry, LX_KERNEL);
	/* protocol 2.10: no acpi_rsdp_addr; the header copy ends at 0x264 */
	assert_int_equal(g64(&r, LX_ZERO_PAGE + 0x70), 0);
	assert_int_equal(g32(&r, LX_ZERO_PAGE + 0x264), 0);
	/* no page tables; __BOOT_CS 32-bit */
	assert_int_equal(g8(&r, LX_PML4), 0xAA);
	assert_int_equal(g64(&r, LX_GDT + 0x10), 0x00cf9b000000ffffull);
	assert_int_equal(lx_boot_state(&m, &b, &s, why, sizeof(why)), 0);
	assert_int_equal(x86_state_check(&m, &s, why, sizeof(why)), 0);
	assert_int_equal(s.rip, LX_KERNEL);
	assert_int_equal(s.rsi, LX_ZERO_PAGE);
	assert_int_equal(s.rbx | s.rbp | s.rdi, 0);
	assert_false(s.cr0 & CR0_PG);
	assert_int_equal(s.efer, 0);
	assert_true(s.seg[SEG_CS].attr & SEG_DB);
	assert_false(s.seg[SEG_CS].attr & SEG_L);
	free(r.buf);
}

static void test_no_long_mode_refused(void **state)
{
	static struct vcpu_state s;
	struct cpu_model m;
	struct lx_boot b = { .long_mode = 1, .entry = 0x100200, .zero_page = LX_ZERO_PAGE };
	char why[160] = "";

	skylake(&m, false);
	assert_int_equal(lx_boot_state(&m, &b, &s, why, sizeof(why)), -E_NOSUP);
	assert_non_null(strstr(why, "long mode"));
}

static void test_initrd_below_its_limit(void **state)
{
	static struct img im;
	static uint8_t rd[5000];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, true);
	struct lx_boot b;

	build(&im);
	p32(&im, 0x22c, 28 * MIB - 1);
	assert_int_equal(load(&mem, &im, "", rd, sizeof(rd), &b), 0);
	assert_int_equal(b.initrd, 28 * MIB - 2 * PAGE_SIZE);
	free(r.buf);
}

/* A non-relocatable kernel runs at pref_address; a relocatable one at 1 MiB aligned, or
 * pref_address when that is higher. */
static void test_run_address(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, true);
	struct lx_boot b;

	build(&im);
	p64(&im, 0x258, 0);
	assert_int_equal(load(&mem, &im, "", NULL, 0, &b), 0);
	assert_int_equal(b.init_end, 2 * MIB + INIT_SIZE); /* 1 MiB aligned up to 2 MiB */
	p8(&im, 0x234, 0);
	p64(&im, 0x258, 8 * MIB);
	assert_int_equal(load(&mem, &im, "", NULL, 0, &b), 0);
	assert_int_equal(b.init_end, 8 * MIB + INIT_SIZE);
	free(r.buf);
}

/* --- refusals: a reason, and RAM untouched --- */

struct refusal {
	const char *what;
	void (*spoil)(struct img *);
	int rc;
	const char *says;
};

static void not_linux(struct img *im) { memcpy(im->b + 0x202, "HdrT", 4); }
static void old_protocol(struct img *im) { p16(im, 0x206, 0x0209); }
static void zimage(struct img *im) { p8(im, 0x211, 0); }
static void cut_half(struct img *im) { im->size = IMG_LEN / 2; }
static void cut_header(struct img *im) { im->size = 0x240; }
static void cut_one(struct img *im) { im->size = IMG_LEN - 1; }
static void bad_boot_flag(struct img *im) { p16(im, 0x1fe, 0x55aa); }
static void bad_jump(struct img *im) { p8(im, 0x200, 0xe9); }
static void long_header(struct img *im) { p8(im, 0x201, 0x90); }
static void no_syssize(struct img *im) { p32(im, 0x1f4, 0); }
static void big_syssize(struct img *im) { p32(im, 0x1f4, PM_LEN / 16 + 1); }
static void payload_outside(struct img *im) { p32(im, 0x24c, PM_LEN); }
static void payload_garbage(struct img *im) { im->b[SETUP_LEN + PAYLOAD_OFF] = 0x77; }
static void no_kernel_info(struct img *im) { im->b[SETUP_LEN + KINFO_OFF] = 'X'; }
static void kernel_info_outside(struct img *im) { p32(im, 0x268, PM_LEN - 4); }
static void small_init_size(struct img *im) { p32(im, 0x260, PM_LEN - 16); }
static void bad_alignment(struct img *im) { p32(im, 0x230, 0x300000); }
static void low_pref(struct img *im) { p64(im, 0x258, 0x80000); }
static void huge_init(struct img *im) { p32(im, 0x260, 17 * MIB); }

static const struct refusal refusals[] = {
	{ "no HdrS", not_linux, -E_FORMAT, "not a bzImage" },
	{ "protocol 2.09", old_protocol, -E_NOSUP, "2.09 is older than 2.10" },
	{ "zImage", zimage, -E_NOSUP, "zImage" },
	{ "half a file", cut_half, -E_FORMAT, "truncated" },
	{ "cut in the header", cut_header, -E_FORMAT, "truncated" },
	{ "one byte short", cut_one, -E_FORMAT, "truncated" },
	{ "boot flag", bad_boot_flag, -E_FORMAT, "corrupt: boot_flag" },
	{ "jump", bad_jump, -E_FORMAT, "corrupt: the jump" },
	{ "header too long", long_header, -E_FORMAT, "corrupt: the jump" },
	{ "syssize 0", no_syssize, -E_FORMAT, "corrupt: syssize 0" },
	{ "syssize past the file", big_syssize, -E_FORMAT, "truncated" },
	{ "payload outside", payload_outside, -E_FORMAT, "corrupt: the payload" },
	{ "payload garbage", payload_garbage, -E_FORMAT, "compression" },
	{ "kernel_info", no_kernel_info, -E_FORMAT, "kernel_info" },
	{ "kernel_info outside", kernel_info_outside, -E_FORMAT, "kernel_info" },
	{ "init_size", small_init_size, -E_FORMAT, "init_size" },
	{ "alignment", bad_alignment, -E_FORMAT, "kernel_alignment" },
	{ "pref_address", low_pref, -E_FORMAT, "pref_address" },
	{ "needs more RAM", huge_init, -E_RANGE, "needs RAM up to 33 MiB" },
};

static void test_refusals(void **state)
{
	static struct img im;
	static uint8_t rd[1000];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, false);
	struct lx_boot b;

	for (unsigned i = 0; i < ARRAY_SIZE(refusals); i++) {
		const struct refusal *t = &refusals[i];
		int rc;

		build(&im);
		t->spoil(&im);
		rc = load(&mem, &im, "console=ttyS0", rd, sizeof(rd), &b);
		print_message("%s: %s\n", t->what, err);
		assert_int_equal(rc, t->rc);
		assert_non_null(strstr(err, t->says));
		assert_null(strchr(err, '\n'));
		assert_int_equal(r.writes, 0);
		/* lx_check_fit says the same; lx_check too, but for what depends on the VM */
		{
			char why[200];
			assert_int_equal(lx_check_fit(im.b, im.size, 32 * MIB, sizeof(rd),
						      "console=ttyS0", why, sizeof(why)), t->rc);
			assert_string_equal(why, err);
			if (t->rc != -E_RANGE) {
				assert_int_equal(lx_check(im.b, im.size, why, sizeof(why)), t->rc);
				assert_string_equal(why, err);
			}
		}
	}
}

static void test_does_not_fit(void **state)
{
	static struct img im;
	static uint8_t rd[13 * MIB];
	static char cmd[3000];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, false);
	struct mb_guest_mem small = ram_new(&r, 16 * MIB, false);
	struct lx_boot b;

	build(&im);
	/* the kernel needs RAM up to 20 MiB */
	assert_int_equal(load(&small, &im, "", NULL, 0, &b), -E_RANGE);
	assert_non_null(strstr(err, "needs RAM up to 20 MiB"));
	assert_non_null(strstr(err, "the VM has 16 MiB"));
	/* 12 MiB are left above it */
	assert_int_equal(load(&mem, &im, "", rd, sizeof(rd), &b), -E_NOMEM);
	assert_non_null(strstr(err, "initrd (13312 KiB) does not fit"));
	assert_int_equal(lx_check_fit(im.b, im.size, 32 * MIB, sizeof(rd), "", NULL, 0), -E_NOMEM);
	assert_int_equal(lx_check_fit(im.b, im.size, 32 * MIB, 12 * MIB, "", NULL, 0), 0);
	assert_int_equal(lx_check_fit(im.b, im.size, 16 * MIB, 0, NULL, NULL, 0), -E_RANGE);
	/* an initrd limit below the kernel's end */
	p32(&im, 0x22c, 20 * MIB - 1);
	assert_int_equal(load(&mem, &im, "", rd, 4096, &b), -E_NOMEM);
	/* a command line longer than the kernel takes */
	build(&im);
	memset(cmd, 'x', sizeof(cmd) - 1);
	assert_int_equal(load(&mem, &im, cmd, NULL, 0, &b), -E_RANGE);
	assert_non_null(strstr(err, "2999 characters, more than the 2047"));
	p32(&im, 0x238, 16);
	assert_int_equal(load(&mem, &im, "console=ttyS0,115200", NULL, 0, &b), -E_RANGE);
	assert_int_equal(r.writes, 0);
}

static void test_check_and_probe(void **state)
{
	static struct img im;
	char why[200];

	build(&im);
	assert_true(lx_probe(im.b, im.size));
	assert_int_equal(lx_check(im.b, im.size, why, sizeof(why)), 0);
	assert_false(lx_probe(im.b, 0x207));
	assert_false(lx_probe(NULL, 0));
	not_linux(&im);
	assert_false(lx_probe(im.b, im.size));
}

static void test_bad_arguments(void **state)
{
	static struct img im;
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 32 * MIB, false);
	const struct mb_blob k = { im.b, IMG_LEN, NULL }, rd = { NULL, 10, NULL };
	struct lx_boot b;

	build(&im);
	assert_int_equal(lx_load(NULL, &k, NULL, 0, &b, err, sizeof(err)), -E_INVAL);
	assert_int_equal(lx_load(&mem, NULL, NULL, 0, &b, err, sizeof(err)), -E_INVAL);
	assert_int_equal(lx_load(&mem, &k, &rd, 0, &b, err, sizeof(err)), -E_INVAL);
	assert_int_equal(lx_load(&mem, &k, NULL, 0, NULL, err, sizeof(err)), -E_INVAL);
	assert_int_equal(lx_check(NULL, 10, err, sizeof(err)), -E_INVAL);
	mem.size = 0x8000;
	assert_int_equal(lx_load(&mem, &k, NULL, 0, &b, err, sizeof(err)), -E_RANGE);
	assert_int_equal(r.writes, 0);
}

/* Random corruption of the header: refused with a reason, or loaded within RAM. */
static void test_fuzz(void **state)
{
	static struct img base, im;
	static uint8_t rd[3000];
	struct ram r;
	struct mb_guest_mem mem = ram_new(&r, 40 * MIB, true);
	unsigned ok = 0, seed = 12345;

	build(&base);
	for (unsigned iter = 0; iter < 3000; iter++) {
		struct lx_boot b = { 0 };
		int rc;

		im = base;
		for (unsigned k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245 + 12345;
			unsigned off = 0x1f1 + (seed >> 8) % (0x270 - 0x1f1);
			im.b[off] = (uint8_t)(seed >> 20);
		}
		if (iter % 7 == 0)
			im.size = (seed >> 4) % IMG_LEN;
		r.writes = 0;
		rc = load(&mem, &im, "console=ttyS0", rd, sizeof(rd), &b);
		if (rc) {
			assert_true(rc == -E_FORMAT || rc == -E_NOSUP || rc == -E_RANGE ||
				    rc == -E_NOMEM);
			assert_true(err[0] != 0);
			assert_int_equal(r.writes, 0);
			continue;
		}
		ok++;
		assert_true(b.init_end <= mem.size);
		assert_true(b.initrd >= b.init_end && b.initrd + sizeof(rd) <= mem.size);
		assert_true(b.kernel + b.kernel_size <= b.init_end);
	}
	print_message("fuzz: %u of 3000 mutated images loaded\n", ok);
	assert_true(ok > 0);
	free(r.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_pc_layout),
		cmocka_unit_test(test_e820_any_size),
		cmocka_unit_test(test_e820_truncated_to_room),
		cmocka_unit_test(test_loads_64bit_kernel),
		cmocka_unit_test(test_64bit_entry_state),
		cmocka_unit_test(test_32bit_entry),
		cmocka_unit_test(test_no_long_mode_refused),
		cmocka_unit_test(test_initrd_below_its_limit),
		cmocka_unit_test(test_run_address),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_does_not_fit),
		cmocka_unit_test(test_check_and_probe),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests_name("linuxload", tests, NULL, NULL);
}
