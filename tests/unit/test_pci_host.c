/* PCI configuration mechanism #1 with the 440FX host bridge, and reset control. */
#include <stdio.h>
#include <string.h>
#include "hv/dev/pci_host.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

static struct pci_host h;
static struct dev_log log_;
static char log_text[2048];
static unsigned log_lines, resets;

static void emit(void *ctx, const char *line)
{
	strncat(log_text, line, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	log_lines++;
}

static void reset(void *ctx)
{
	assert_ptr_equal(ctx, &h);
	resets++;
}

static int setup(void **state)
{
	log_ = (struct dev_log){ emit, NULL, 0 };
	log_text[0] = 0;
	log_lines = resets = 0;
	pci_host_init(&h, &log_, reset, &h);
	return 0;
}

static uint32_t rd(uint16_t port, unsigned size)
{
	uint32_t v = 0xdeadbeef;

	pci_host_read(&h, port, size, &v);
	return v;
}

static void wr(uint16_t port, unsigned size, uint32_t v)
{
	pci_host_write(&h, port, size, v);
}

static uint32_t cfg_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

/* A configuration read as an OS does it: address, then data at the byte's port. */
static uint32_t cfg_rd(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
	wr(0xcf8, 4, cfg_addr(bus, dev, fn, reg));
	return rd((uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_wr(unsigned bus, unsigned dev, unsigned fn, unsigned reg, unsigned size,
		   uint32_t v)
{
	wr(0xcf8, 4, cfg_addr(bus, dev, fn, reg));
	wr((uint16_t)(0xcfc + (reg & 3)), size, v);
}

static uint32_t bridge(unsigned reg, unsigned size)
{
	return cfg_rd(0, 0, 0, reg, size);
}

/* Linux's pci_check_type1(): a byte to 0xCFB, then CONFIG_ADDRESS must read back. */
static void test_mechanism_1_probe(void **state)
{
	assert_int_equal(rd(0xcf8, 4), 0);
	wr(0xcfb, 1, 0x01);
	wr(0xcf8, 4, 0x80000000u);
	assert_int_equal(rd(0xcf8, 4), 0x80000000u);
	assert_int_equal(rd(0xcfb, 1), 0xff); /* byte and word accesses: nobody there */
	assert_int_equal(rd(0xcfa, 2), 0xffff);
	assert_int_equal(rd(0xcf8, 1), 0xff);
	assert_int_equal(rd(0xcf8, 4), 0x80000000u);
	assert_int_equal(log_lines, 0);
}

static void test_host_bridge_header(void **state)
{
	assert_int_equal(bridge(0x00, 4), 0x12378086u); /* 8086:1237 */
	assert_int_equal(bridge(0x04, 4), 0x02800006u); /* PCISTS 0x0280, PCICMD 0x0006 */
	assert_int_equal(bridge(0x08, 4), 0x06000002u); /* class 06 00 00, revision 2 */
	assert_int_equal(bridge(0x0e, 1), 0x00);        /* header type 0, one function */
	assert_int_equal(bridge(0x0c, 4), 0);
	for (unsigned reg = 0x10; reg < 0x100; reg += 4)
		assert_int_equal(bridge(reg, 4), 0);
	/* bytes and words at their offsets in the dword */
	assert_int_equal(bridge(0x00, 1), 0x86);
	assert_int_equal(bridge(0x01, 1), 0x80);
	assert_int_equal(bridge(0x02, 2), 0x1237);
	assert_int_equal(bridge(0x03, 1), 0x12);
	assert_int_equal(bridge(0x0b, 1), 0x06);
	assert_int_equal(bridge(0x06, 2), 0x0280);
	assert_int_equal(cfg_rd(0, 0, 0, 0x01, 2), 0x3780); /* a word at 0xCFD */
	assert_int_equal(log_lines, 0);
}

static void test_absent_functions(void **state)
{
	static const unsigned bdf[][3] = {
		{ 0, 0, 1 }, { 0, 1, 0 }, { 0, 31, 7 }, { 1, 0, 0 }, { 255, 0, 0 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(bdf); i++) {
		assert_int_equal(cfg_rd(bdf[i][0], bdf[i][1], bdf[i][2], 0, 4), 0xffffffffu);
		assert_int_equal(cfg_rd(bdf[i][0], bdf[i][1], bdf[i][2], 2, 2), 0xffff);
		assert_int_equal(cfg_rd(bdf[i][0], bdf[i][1], bdf[i][2], 0x0e, 1), 0xff);
		cfg_wr(bdf[i][0], bdf[i][1], bdf[i][2], 0x04, 2, 0xffff);
	}
	assert_int_equal(bridge(0x04, 2), 0x0006);
	assert_int_equal(log_lines, 0);
}

static void test_read_only_fields(void **state)
{
	cfg_wr(0, 0, 0, 0x00, 4, 0);
	cfg_wr(0, 0, 0, 0x08, 4, 0xffffffffu);
	cfg_wr(0, 0, 0, 0x0c, 4, 0xffffffffu & ~0xff00u);
	cfg_wr(0, 0, 0, 0x10, 4, 0xffffffffu); /* BAR sizing: no BAR */
	cfg_wr(0, 0, 0, 0x3c, 4, 0xffffffffu);
	assert_int_equal(bridge(0x00, 4), 0x12378086u);
	assert_int_equal(bridge(0x08, 4), 0x06000002u);
	assert_int_equal(bridge(0x0c, 4), 0);
	assert_int_equal(bridge(0x10, 4), 0);
	assert_int_equal(bridge(0x3c, 4), 0);
	assert_int_equal(log_lines, 0);
}

static void test_command_status_and_mlt(void **state)
{
	cfg_wr(0, 0, 0, 0x04, 2, 0xffff);
	assert_int_equal(bridge(0x04, 2), 0x0156); /* MWIE, PERRE, SERRE; MAE, BME fixed */
	cfg_wr(0, 0, 0, 0x04, 2, 0);
	assert_int_equal(bridge(0x04, 2), 0x0006); /* memory and bus master stay on */
	cfg_wr(0, 0, 0, 0x05, 1, 0x01);            /* the high byte alone: SERR# enable */
	assert_int_equal(bridge(0x04, 2), 0x0106);
	/* status: write 1 to clear bits that are never set, and read-only ones */
	cfg_wr(0, 0, 0, 0x06, 2, 0xffff);
	assert_int_equal(bridge(0x06, 2), 0x0280);
	/* a dword over PCICMD and PCISTS */
	cfg_wr(0, 0, 0, 0x04, 4, 0xffff0010u);
	assert_int_equal(bridge(0x04, 4), 0x02800016u);
	/* the master latency timer counts in 8s */
	cfg_wr(0, 0, 0, 0x0d, 1, 0xff);
	assert_int_equal(bridge(0x0d, 1), 0xf8);
	assert_int_equal(bridge(0x0c, 4), 0x0000f800u);
	assert_int_equal(log_lines, 0);
}

static void test_chipset_registers(void **state)
{
	cfg_wr(0, 0, 0, 0x59, 1, 0x30); /* a PAM register */
	cfg_wr(0, 0, 0, 0x72, 1, 0x0a); /* SMRAM */
	assert_int_equal(bridge(0x58, 4), 0);
	assert_int_equal(bridge(0x70, 4), 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "440FX register 0x59 ignored"));
}

static void test_config_address(void **state)
{
	wr(0xcf8, 4, 0xffffffffu);
	assert_int_equal(rd(0xcf8, 4), 0x80fffffcu); /* bits 30-24 and 1-0 read 0 */
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "reserved bits 0x7f000003 written to CONFIG_ADDRESS"));
	/* the register selects the dword; the port, the byte */
	wr(0xcf8, 4, 0x80000003u);
	assert_int_equal(rd(0xcf8, 4), 0x80000000u);
	assert_int_equal(rd(0xcfe, 2), 0x1237);
	/* disabled: the data port is no configuration access */
	wr(0xcf8, 4, 0x00000000u);
	assert_int_equal(rd(0xcfc, 4), 0xffffffffu);
	wr(0xcfc, 4, 0);
	assert_int_equal(log_lines, 2);
	assert_non_null(strstr(log_text, "while CONFIG_ADDRESS is disabled"));
	wr(0xcf8, 4, 0x80000004u);
	assert_int_equal(rd(0xcfc, 2), 0x0006);
}

static void test_reset_control(void **state)
{
	assert_int_equal(rd(0xcf9, 1), 0);
	/* Linux's sequence: SYS_RST, then RST_CPU rising with it */
	wr(0xcf9, 1, 0x02);
	assert_int_equal(resets, 0);
	assert_int_equal(rd(0xcf9, 1), 0x02);
	wr(0xcf9, 1, 0x06);
	assert_int_equal(resets, 1);
	assert_int_equal(rd(0xcf9, 1), 0x06);
	/* no edge, no reset */
	wr(0xcf9, 1, 0x06);
	wr(0xcf9, 1, 0x0e);
	assert_int_equal(resets, 1);
	wr(0xcf9, 1, 0x02);
	assert_int_equal(resets, 1);
	/* the FADT's RESET_VALUE, from 0; and a full reset */
	wr(0xcf9, 1, 0x00);
	wr(0xcf9, 1, 0x06);
	assert_int_equal(resets, 2);
	wr(0xcf9, 1, 0x00);
	wr(0xcf9, 1, 0x0e);
	assert_int_equal(resets, 3);
	assert_int_equal(log_lines, 0);
	/* a soft reset resets the VM too, and says so */
	wr(0xcf9, 1, 0x00);
	wr(0xcf9, 1, 0x04);
	assert_int_equal(resets, 4);
	assert_non_null(strstr(log_text, "soft reset (0x4 to 0xcf9) taken as a VM reset"));
	/* reserved bits: dropped, logged once */
	wr(0xcf9, 1, 0xf1);
	assert_int_equal(rd(0xcf9, 1), 0);
	assert_int_equal(resets, 4);
	assert_non_null(strstr(log_text, "reserved bits 0xf1 written to 0xcf9"));
	/* CONFIG_ADDRESS is untouched by it */
	wr(0xcf8, 4, 0x80000000u);
	wr(0xcf9, 1, 0x02);
	assert_int_equal(rd(0xcf8, 4), 0x80000000u);
}

static void test_bad_accesses(void **state)
{
	static const struct {
		uint16_t port;
		unsigned size;
	} bad[] = {
		{ 0xcf9, 2 }, { 0xcf8, 2 }, { 0xcf9, 4 }, { 0xcfa, 4 }, { 0xcfb, 2 },
		{ 0xcfe, 4 }, { 0xcff, 2 }, { 0xcfc, 3 }, { 0xcfc, 8 }, { 0xd00, 1 },
	};

	wr(0xcf8, 4, 0x80000004u);
	wr(0xcf9, 1, 0x02);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		uint32_t want = bad[i].size >= 4 ? 0xffffffffu : (1u << (8 * bad[i].size)) - 1;

		assert_int_equal(rd(bad[i].port, bad[i].size), want);
		wr(bad[i].port, bad[i].size, 0xffffffffu);
	}
	assert_int_equal(rd(0xcf8, 4), 0x80000004u);
	assert_int_equal(rd(0xcf9, 1), 0x02);
	assert_int_equal(rd(0xcfc, 2), 0x0006);
	assert_int_equal(resets, 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "2-byte read at port 0xcf9 ignored"));
}

/* --- records --- */

static void test_record_round_trip(void **state)
{
	uint8_t rec[64];
	struct pci_host_state back;
	char err[120];
	size_t n;

	cfg_wr(0, 0, 0, 0x04, 2, 0x0140);
	cfg_wr(0, 0, 0, 0x0d, 1, 0x40);
	wr(0xcf8, 4, cfg_addr(0, 0, 0, 0x08));
	wr(0xcf9, 1, 0x02); /* migrated between Linux's two writes */
	n = vms_encode(&pci_host_vms, &h.s, rec);
	assert_int_equal(n, vms_size(&pci_host_vms));
	assert_int_equal(vms_decode(&pci_host_vms, rec, n, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &h.s, sizeof(back));
	setup(NULL);
	h.s = back;
	assert_int_equal(rd(0xcfc, 4), 0x06000002u); /* the address register came along */
	wr(0xcf9, 1, 0x06);
	assert_int_equal(resets, 1);
	assert_int_equal(bridge(0x04, 2), 0x0146);
	assert_int_equal(bridge(0x0d, 1), 0x40);
}

static void refused(struct pci_host_state s, const char *msg)
{
	uint8_t rec[64];
	struct pci_host_state back;
	char err[120] = "";
	size_t n = vms_encode(&pci_host_vms, &s, rec);

	assert_int_equal(vms_decode(&pci_host_vms, rec, n, &back, err, sizeof(err)), -E_FORMAT);
	if (!strstr(err, msg))
		fail_msg("got \"%s\", wanted \"%s\"", err, msg);
}

static void test_record_bad_fields(void **state)
{
	refused((struct pci_host_state){ .addr = 0x80000001u },
		"pci_host: addr = 0x80000001 has bits outside 0x80fffffc");
	refused((struct pci_host_state){ .addr = 0x81000000u }, "pci_host: addr = 0x81000000");
	refused((struct pci_host_state){ .cmd = 0x0006 },
		"pci_host: cmd = 0x6 has bits outside 0x150");
	refused((struct pci_host_state){ .mlt = 0x07 },
		"pci_host: mlt = 0x7 has bits outside 0xf8");
	refused((struct pci_host_state){ .mlt = 0xf9 }, "pci_host: mlt = 0xf9, above its maximum");
	refused((struct pci_host_state){ .mlt = 0x81 }, "pci_host: mlt = 0x81 has bits");
	refused((struct pci_host_state){ .rc = 0x01 }, "pci_host: rc = 0x1 has bits outside 0xe");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_mechanism_1_probe, setup),
		cmocka_unit_test_setup(test_host_bridge_header, setup),
		cmocka_unit_test_setup(test_absent_functions, setup),
		cmocka_unit_test_setup(test_read_only_fields, setup),
		cmocka_unit_test_setup(test_command_status_and_mlt, setup),
		cmocka_unit_test_setup(test_chipset_registers, setup),
		cmocka_unit_test_setup(test_config_address, setup),
		cmocka_unit_test_setup(test_reset_control, setup),
		cmocka_unit_test_setup(test_bad_accesses, setup),
		cmocka_unit_test_setup(test_record_round_trip, setup),
		cmocka_unit_test_setup(test_record_bad_fields, setup),
	};
	return cmocka_run_group_tests_name("pci_host", tests, NULL, NULL);
}
