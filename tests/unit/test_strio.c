/* String port I/O against a fake guest: RAM with 32-bit page tables, a port that
 * records what it is given and hands out a counter. */
#include <string.h>
#include "hv/error.h"
#include "hv/gpt.h"
#include "hv/strio.h"
#include "hv/vcpu_state.h"
#include "hv/x86.h"
#include "tests/unit/stubs.h"

#define RAM_SIZE (1 * MIB)
#define P (1u << 0)
#define RW (1u << 1)
#define PORT 0x1f0

static uint8_t ram[RAM_SIZE];
static struct gpt_mode mode;
static bool identity; /* no page tables: linear = physical */
static unsigned walks, port_reads, port_writes;
static uint32_t out_log[64], next_in;
static bool port_fail;

static bool ram_read(void *ctx, uint64_t gpa, uint64_t *val, unsigned size)
{
	if (gpa + size > RAM_SIZE)
		return false;
	*val = 0;
	memcpy(val, ram + gpa, size);
	return true;
}

static bool ram_write(void *ctx, uint64_t gpa, uint64_t val, unsigned size)
{
	if (gpa + size > RAM_SIZE)
		return false;
	memcpy(ram + gpa, &val, size);
	return true;
}

static const struct gpt_mem mem = { NULL, ram_read, ram_write };

static int translate(void *ctx, uint64_t lin, unsigned access, uint64_t *gpa, uint32_t *pf)
{
	walks++;
	if (identity) {
		*gpa = lin;
		return 0;
	}
	return gpt_walk(&mode, &mem, lin, access, gpa, pf);
}

static bool port_in(void *ctx, uint16_t port, unsigned size, uint32_t *val)
{
	assert_int_equal(port, PORT);
	if (port_fail)
		return false;
	*val = next_in;
	next_in += 0x01010101u;
	port_reads++;
	return true;
}

static bool port_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	assert_int_equal(port, PORT);
	if (port_fail)
		return false;
	assert_true(port_writes < ARRAY_SIZE(out_log));
	out_log[port_writes++] = val;
	return true;
}

static const uint64_t no_bases[6];

static const struct strio_ops ops = { NULL, translate, ram_read, ram_write, port_in, port_out };

/* 32-bit paging: the page directory at 0x1000, one page table at 0x2000 for 0-4 MiB;
 * linear page 0x7000 is at 0x21000, 0x8000 at 0x35000 (not contiguous), 0x9000 at
 * 0x40000, 0xa000 is absent, 0xb000 is read-only at 0x50000, 0xc000 is beyond RAM. */
static void setup(void)
{
	static const struct { uint32_t lin, pte; } map[] = {
		{ 0x7000, 0x21000 | P | RW }, { 0x8000, 0x35000 | P | RW },
		{ 0x9000, 0x40000 | P | RW }, { 0xb000, 0x50000 | P },
		{ 0xc000, 0x7fff0000 | P | RW },
	};
	uint32_t pde = 0x2000 | P | RW;
	unsigned i;

	memset(ram, 0, sizeof(ram));
	memcpy(ram + 0x1000, &pde, 4);
	for (i = 0; i < ARRAY_SIZE(map); i++)
		memcpy(ram + 0x2000 + (map[i].lin >> 12) * 4, &map[i].pte, 4);
	for (i = 0; i < 0x1000; i++) {
		ram[0x21000 + i] = i;
		ram[0x35000 + i] = 0x80 + i;
	}
	mode = (struct gpt_mode){ .cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = 0x1000,
				  .maxphyaddr = 36 };
	identity = false;
	walks = port_reads = port_writes = 0;
	next_in = 0x44332211;
	port_fail = false;
}

/* REP OUTSW from two pages that are not contiguous in guest-physical memory, one word
 * straddling them; then REP OUTSL with a dword split 2 + 2. */
static void test_outs_across_pages(void **state)
{
	struct strio s = { .port = PORT, .size = 2, .rep = 1, .adsize = 4, .mode = 4,
			   .seg = SEG_DS };
	struct insn_regs r = { .gpr[GPR_RSI] = 0x7ffb, .gpr[GPR_RCX] = 4 };
	struct strio_fault f;

	setup();
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(port_writes, 4);
	assert_int_equal(out_log[0], 0xfcfb);
	assert_int_equal(out_log[1], 0xfefd);
	assert_int_equal(out_log[2], 0x80ff); /* 0x7fff from 0x21fff, 0x8000 from 0x35000 */
	assert_int_equal(out_log[3], 0x8281);
	assert_int_equal(r.gpr[GPR_RSI], 0x8003);
	assert_int_equal(r.gpr[GPR_RCX], 0);
	s.size = 4;
	r.gpr[GPR_RSI] = 0x7ffe;
	r.gpr[GPR_RCX] = 1;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(out_log[4], 0x8180fffe);
	assert_int_equal(r.gpr[GPR_RSI], 0x8002);
}

/* REP INSB in chunks: the caller re-enters the guest between them */
static void test_ins_chunks(void **state)
{
	/* INS writes ES:rDI, whatever segment the caller names */
	struct strio s = { .port = PORT, .size = 1, .in = 1, .rep = 1, .adsize = 4, .mode = 4,
			   .seg = SEG_FS };
	uint64_t bases[6] = { [SEG_ES] = 0x7000, [SEG_FS] = 0x9000 };
	struct insn_regs r = { .gpr[GPR_RDI] = 0x10, .gpr[GPR_RCX] = 10 };
	struct strio_fault f;

	setup();
	assert_int_equal(strio_run(&s, &r, bases, &ops, 4, &f), INSN_MORE);
	assert_int_equal(r.gpr[GPR_RCX], 6);
	assert_int_equal(r.gpr[GPR_RDI], 0x14);
	assert_int_equal(walks, 1); /* one walk for the page */
	assert_int_equal(strio_run(&s, &r, bases, &ops, 4, &f), INSN_MORE);
	assert_int_equal(strio_run(&s, &r, bases, &ops, 4, &f), INSN_DONE);
	assert_int_equal(r.gpr[GPR_RCX], 0);
	assert_int_equal(r.gpr[GPR_RDI], 0x1a);
	assert_int_equal(port_reads, 10);
	assert_int_equal(ram[0x21010], 0x11);
	assert_int_equal(ram[0x21019], 0x1a);
	assert_int_equal(ram[0x2101a], 0x1a); /* untouched: the page's own pattern */
	/* REP with rCX = 0 does nothing; without REP, one element and rCX is kept */
	assert_int_equal(strio_run(&s, &r, bases, &ops, 4, &f), INSN_DONE);
	assert_int_equal(port_reads, 10);
	s.rep = 0;
	r.gpr[GPR_RCX] = 0x55;
	assert_int_equal(strio_run(&s, &r, bases, &ops, 4, &f), INSN_DONE);
	assert_int_equal(port_reads, 11);
	assert_int_equal(r.gpr[GPR_RCX], 0x55);
	assert_int_equal(r.gpr[GPR_RDI], 0x1b);
}

/* REP INSW into a buffer whose second page is absent: the words before the page are
 * stored and counted, the one at the page is not even read from the port. */
static void test_fault_midway(void **state)
{
	struct strio s = { .port = PORT, .size = 2, .in = 1, .rep = 1, .adsize = 4, .mode = 4,
			   .seg = SEG_DS };
	struct insn_regs r = { .gpr[GPR_RDI] = 0x9ffa, .gpr[GPR_RCX] = 8 };
	struct strio_fault f = { 0, 0 };

	setup();
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), -E_FAULT);
	assert_int_equal(f.cr2, 0xa000);
	assert_int_equal(f.error, PFEC_W); /* not present, a write, supervisor */
	assert_int_equal(port_reads, 3);
	assert_int_equal(r.gpr[GPR_RCX], 5);
	assert_int_equal(r.gpr[GPR_RDI], 0xa000);
	assert_int_equal(ram[0x40ffe], 0x13); /* the third word, 0x2413 */
	assert_int_equal(ram[0x40fff], 0x24);
	/* a dword straddling into the absent page: nothing of it happens */
	s.size = 4;
	r.gpr[GPR_RDI] = 0x9ffe;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), -E_FAULT);
	assert_int_equal(f.cr2, 0xa000);
	assert_int_equal(port_reads, 3);
	assert_int_equal(r.gpr[GPR_RDI], 0x9ffe);
	assert_int_equal(r.gpr[GPR_RCX], 5);
	/* a read-only page: a protection fault for INS, none for OUTS */
	r.gpr[GPR_RDI] = 0xb000;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), -E_FAULT);
	assert_int_equal(f.error, PFEC_P | PFEC_W);
	assert_int_equal(f.cr2, 0xb000);
	s.in = 0;
	s.rep = 0;
	r.gpr[GPR_RSI] = 0xb000;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(port_writes, 1);
	/* a page mapped outside RAM ends the VM, it does not fault */
	r.gpr[GPR_RSI] = 0xc000;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), -E_RANGE);
	assert_int_equal(port_writes, 1);
	/* a port that fails */
	port_fail = true;
	r.gpr[GPR_RSI] = 0x9000;
	assert_int_equal(strio_run(&s, &r, no_bases, &ops, 100, &f), -E_IO);
	assert_int_equal(r.gpr[GPR_RSI], 0x9000);
}

/* DF = 1 walks down; 16-bit address registers wrap and keep their upper half */
static void test_backwards_16bit(void **state)
{
	/* OUTSB with a GS override in 16-bit code */
	struct strio s = { .port = PORT, .size = 1, .rep = 1, .adsize = 2, .mode = 2,
			   .seg = SEG_GS };
	uint64_t bases[6] = { [SEG_DS] = 0x1000, [SEG_GS] = 0x7000 };
	struct insn_regs r = { .gpr[GPR_RSI] = 0xabcd0001, .gpr[GPR_RCX] = 0x70003,
			       .rflags = RFLAGS_DF };
	struct strio_fault f;

	setup();
	identity = true; /* SI = 0xffff is linear 0x16fff: identity-mapped RAM */
	ram[0x7001] = 0xa1;
	ram[0x7000] = 0xa0;
	ram[0x16fff] = 0x9f;
	assert_int_equal(strio_run(&s, &r, bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(port_writes, 3);
	assert_int_equal(out_log[0], 0xa1);
	assert_int_equal(out_log[1], 0xa0);
	assert_int_equal(out_log[2], 0x9f);
	assert_int_equal(r.gpr[GPR_RSI], 0xabcdfffe);
	assert_int_equal(r.gpr[GPR_RCX], 0x70000);
}

/* 32-bit addresses in 64-bit code: the registers zero-extend; only FS's and GS's bases
 * count */
static void test_long_mode_addr32(void **state)
{
	struct strio s = { .port = PORT, .size = 4, .in = 1, .rep = 1, .adsize = 4, .mode = 8,
			   .seg = SEG_DS };
	uint64_t bases[6] = { [SEG_ES] = 0x1000, [SEG_DS] = 0x1000, [SEG_FS] = 0x10000 };
	struct insn_regs r = { .gpr[GPR_RDI] = 0xffffffff00030000ull,
			       .gpr[GPR_RCX] = 0x1234567800000002ull };
	struct strio_fault f;

	setup();
	identity = true;
	assert_int_equal(strio_run(&s, &r, bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(r.gpr[GPR_RDI], 0x30008);
	assert_int_equal(r.gpr[GPR_RCX], 0);
	assert_int_equal(ram[0x30000], 0x11);
	assert_int_equal(ram[0x30007], 0x45);
	/* OUTSD with 64-bit addresses from FS: all of RSI counts, and FS's base */
	s = (struct strio){ .port = PORT, .size = 4, .adsize = 8, .mode = 8, .seg = SEG_FS };
	r.gpr[GPR_RSI] = 0x20004;
	assert_int_equal(strio_run(&s, &r, bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(out_log[0], 0x45342312); /* what INSD stored at 0x30004 */
	assert_int_equal(r.gpr[GPR_RSI], 0x20008);
	s.seg = SEG_DS; /* DS's base does not count */
	r.gpr[GPR_RSI] = 0x30000;
	assert_int_equal(strio_run(&s, &r, bases, &ops, 100, &f), INSN_DONE);
	assert_int_equal(out_log[1], 0x44332211);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outs_across_pages),
		cmocka_unit_test(test_ins_chunks),
		cmocka_unit_test(test_fault_midway),
		cmocka_unit_test(test_backwards_16bit),
		cmocka_unit_test(test_long_mode_addr32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
