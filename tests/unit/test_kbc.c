/* The i8042 without a keyboard, and port 0x92, as boot code drives them. */
#include <stdio.h>
#include <string.h>
#include "hv/dev/kbc.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

static struct kbc k;
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
	assert_ptr_equal(ctx, &k);
	resets++;
}

static int setup(void **state)
{
	log_ = (struct dev_log){ emit, NULL, 0 };
	log_text[0] = 0;
	log_lines = resets = 0;
	kbc_init(&k, &log_, reset, &k);
	return 0;
}

static uint32_t rd(uint16_t port)
{
	uint32_t v = 0xdeadbeef;

	kbc_read(&k, port, 1, &v);
	return v;
}

static void wr(uint16_t port, uint8_t v)
{
	kbc_write(&k, port, 1, v);
}

/* A command's one-byte reply: status shows it, 0x60 returns it, then it is gone. */
static uint8_t reply(void)
{
	uint8_t v;

	assert_true(rd(KBC_CMD) & KBC_STS_OBF);
	v = (uint8_t)rd(KBC_DATA);
	assert_false(rd(KBC_CMD) & KBC_STS_OBF);
	return v;
}

static void test_status_at_boot(void **state)
{
	/* nothing to read, input buffer empty, system flag (POST done), not inhibited */
	assert_int_equal(rd(KBC_CMD), KBC_STS_SYS | KBC_STS_UNINHIBITED);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x45);
	/* bit 3 tells where the last write went */
	assert_true(rd(KBC_CMD) & KBC_STS_CMD);
	wr(KBC_CMD, 0x60);
	wr(KBC_DATA, 0x41);
	assert_false(rd(KBC_CMD) & KBC_STS_CMD);
	assert_false(rd(KBC_CMD) & KBC_STS_IBF);
	assert_int_equal(log_lines, 0);
}

static void test_command_byte(void **state)
{
	wr(KBC_CMD, 0x60);
	wr(KBC_DATA, 0x20); /* system flag off */
	assert_int_equal(rd(KBC_CMD) & KBC_STS_SYS, 0);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x20);
	wr(KBC_CMD, 0x60);
	wr(KBC_DATA, 0x47);
	assert_true(rd(KBC_CMD) & KBC_STS_SYS);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x47);
	/* the rest of the controller's RAM, 0x21-0x3f and 0x61-0x7f */
	wr(KBC_CMD, 0x7f);
	wr(KBC_DATA, 0x99);
	wr(KBC_CMD, 0x3f);
	assert_int_equal(reply(), 0x99);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x47);
}

static void test_port_enables(void **state)
{
	static const struct {
		uint8_t cmd, set, clear;
	} t[] = {
		{ 0xad, KBC_CB_KBD_OFF, 0 },
		{ 0xa7, KBC_CB_AUX_OFF, 0 },
		{ 0xae, 0, KBC_CB_KBD_OFF },
		{ 0xa8, 0, KBC_CB_AUX_OFF },
	};
	uint8_t cb = 0x45;

	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		wr(KBC_CMD, t[i].cmd);
		assert_false(rd(KBC_CMD) & KBC_STS_OBF); /* no reply */
		cb = (uint8_t)((cb | t[i].set) & ~t[i].clear);
		wr(KBC_CMD, 0x20);
		assert_int_equal(reply(), cb);
	}
	assert_int_equal(cb, 0x45);
}

static void test_tests(void **state)
{
	wr(KBC_CMD, 0xaa);
	assert_int_equal(reply(), 0x55);
	wr(KBC_CMD, 0xab);
	assert_int_equal(reply(), 0x00);
	/* reading an empty buffer again gives the last byte, not new data */
	assert_int_equal(rd(KBC_DATA), 0x00);
	assert_false(rd(KBC_CMD) & KBC_STS_OBF);
}

static void test_output_port_and_a20(void **state)
{
	wr(KBC_CMD, 0xd0);
	assert_int_equal(reply(), 0xcf); /* reset released, A20 on, idle lines high */
	/* the classic A20 sequences: 0xdd off, 0xdf on */
	wr(KBC_CMD, 0xd1);
	wr(KBC_DATA, 0xdd);
	wr(KBC_CMD, 0xd0);
	assert_int_equal(reply() & KBC_OUT_A20, 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "A20 disabled through the 8042 output port"));
	wr(KBC_CMD, 0xd1);
	wr(KBC_DATA, 0xdf);
	wr(KBC_CMD, 0xd0);
	assert_int_equal(reply(), 0xdf);
	assert_int_equal(resets, 0);
	/* a 0 in bit 0 asserts the CPU reset line; it is released afterwards */
	wr(KBC_CMD, 0xd1);
	wr(KBC_DATA, 0xde);
	assert_int_equal(resets, 1);
	wr(KBC_CMD, 0xd0);
	assert_int_equal(reply(), 0xdf);
}

static void test_pulse_reset(void **state)
{
	wr(KBC_CMD, 0xfe);
	assert_int_equal(resets, 1);
	wr(KBC_CMD, 0xff); /* pulses no line */
	assert_int_equal(resets, 1);
	wr(KBC_CMD, 0xf0); /* bit 0 among the pulsed ones */
	assert_int_equal(resets, 2);
	wr(KBC_CMD, 0xf1);
	assert_int_equal(resets, 2);
	assert_int_equal(log_lines, 0);
}

static void test_port_92(void **state)
{
	assert_int_equal(rd(KBC_PORT_A), KBC_PA_A20);
	wr(KBC_PORT_A, 0);
	assert_int_equal(rd(KBC_PORT_A), 0);
	assert_non_null(strstr(log_text, "A20 disabled through port 0x92"));
	wr(KBC_PORT_A, KBC_PA_A20);
	assert_int_equal(rd(KBC_PORT_A), KBC_PA_A20);
	assert_int_equal(resets, 0);
	/* fast reset on 0 -> 1 only: a read-modify-write that keeps it set does not */
	wr(KBC_PORT_A, KBC_PA_A20 | KBC_PA_FAST_RESET);
	assert_int_equal(resets, 1);
	assert_int_equal(rd(KBC_PORT_A), KBC_PA_A20 | KBC_PA_FAST_RESET);
	wr(KBC_PORT_A, KBC_PA_A20 | KBC_PA_FAST_RESET);
	assert_int_equal(resets, 1);
	wr(KBC_PORT_A, KBC_PA_A20);
	wr(KBC_PORT_A, KBC_PA_A20 | KBC_PA_FAST_RESET);
	assert_int_equal(resets, 2);
	/* reserved bits: not kept, logged once */
	wr(KBC_PORT_A, 0xf2);
	assert_int_equal(rd(KBC_PORT_A), KBC_PA_A20);
	wr(KBC_PORT_A, 0x06);
	assert_int_equal(log_lines, 2);
	assert_non_null(strstr(log_text, "reserved bits 0xf0 written to port 0x92"));
	/* independent of the 8042's A20 */
	wr(KBC_CMD, 0xd0);
	assert_true(reply() & KBC_OUT_A20);
}

static void test_nothing_attached(void **state)
{
	/* a byte for the keyboard goes nowhere and nothing answers */
	wr(KBC_DATA, 0xff);
	wr(KBC_DATA, 0xf2);
	assert_false(rd(KBC_CMD) & KBC_STS_OBF);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "byte 0xff for the keyboard dropped"));
	/* unmodelled commands: ignored, logged once */
	wr(KBC_CMD, 0xd4);
	wr(KBC_CMD, 0xa9);
	assert_false(rd(KBC_CMD) & KBC_STS_OBF);
	assert_int_equal(log_lines, 2);
	assert_non_null(strstr(log_text, "command 0xd4 not modelled"));
	/* a command cancels one still waiting for data: the byte then is keyboard data */
	wr(KBC_CMD, 0x60);
	wr(KBC_CMD, 0xaa);
	assert_int_equal(reply(), 0x55);
	wr(KBC_DATA, 0x00);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x45);
	assert_int_equal(resets, 0);
}

static void test_bad_sizes(void **state)
{
	static const uint16_t ports[] = { KBC_DATA, KBC_CMD, KBC_PORT_A };
	uint32_t v;

	for (unsigned i = 0; i < ARRAY_SIZE(ports); i++) {
		kbc_read(&k, ports[i], 2, &v);
		assert_int_equal(v, 0xffff);
		kbc_read(&k, ports[i], 4, &v);
		assert_int_equal(v, 0xffffffffu);
		kbc_write(&k, ports[i], 2, 0xfefe);
		kbc_write(&k, ports[i], 4, 0);
	}
	kbc_read(&k, 0x61, 1, &v); /* not ours */
	assert_int_equal(v, 0xff);
	assert_int_equal(resets, 0);
	assert_int_equal(rd(KBC_PORT_A), KBC_PA_A20);
	assert_int_equal(rd(KBC_CMD), KBC_STS_SYS | KBC_STS_UNINHIBITED);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "kbc: 2-byte read at port 0x60 ignored"));
}

/* --- records --- */

static void test_record_round_trip(void **state)
{
	uint8_t rec[64];
	struct kbc_state back;
	char err[120];
	size_t n;

	wr(KBC_CMD, 0xad);
	wr(KBC_CMD, 0x65);
	wr(KBC_DATA, 0x12);
	wr(KBC_CMD, 0xd1); /* migrated between a command and its data */
	n = vms_encode(&kbc_vms, &k.s, rec);
	assert_int_equal(n, vms_size(&kbc_vms));
	assert_int_equal(vms_decode(&kbc_vms, rec, n, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &k.s, sizeof(back));
	setup(NULL);
	k.s = back;
	wr(KBC_DATA, 0xdd);
	wr(KBC_CMD, 0xd0);
	assert_int_equal(reply(), 0xdd);
	wr(KBC_CMD, 0x25);
	assert_int_equal(reply(), 0x12);
	wr(KBC_CMD, 0x20);
	assert_int_equal(reply(), 0x55);
}

static void refused(struct kbc_state s, const char *msg)
{
	uint8_t rec[64];
	struct kbc_state back;
	char err[120] = "";
	size_t n = vms_encode(&kbc_vms, &s, rec);

	assert_int_equal(vms_decode(&kbc_vms, rec, n, &back, err, sizeof(err)), -E_FORMAT);
	if (!strstr(err, msg))
		fail_msg("got \"%s\", wanted \"%s\"", err, msg);
}

static void test_record_bad_fields_named(void **state)
{
	struct kbc_state s = k.s;

	s.pending = 0xaa;
	refused(s, "kbc: pending = 0xaa is no command awaiting data");
	s.pending = 0xd2;
	refused(s, "kbc: pending = 0xd2, above its maximum 0xd1");
	s = k.s;
	s.outport = 0xce;
	refused(s, "kbc: outport = 0xce holds the CPU in reset");
	s = k.s;
	s.obf = 2;
	refused(s, "kbc: obf = 0x2, above its maximum 0x1");
	s = k.s;
	s.last_cmd = 3;
	refused(s, "kbc: last_cmd = 0x3");
	s = k.s;
	s.port_a = 4;
	refused(s, "kbc: port_a = 0x4, above its maximum 0x3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_status_at_boot, setup),
		cmocka_unit_test_setup(test_command_byte, setup),
		cmocka_unit_test_setup(test_port_enables, setup),
		cmocka_unit_test_setup(test_tests, setup),
		cmocka_unit_test_setup(test_output_port_and_a20, setup),
		cmocka_unit_test_setup(test_pulse_reset, setup),
		cmocka_unit_test_setup(test_port_92, setup),
		cmocka_unit_test_setup(test_nothing_attached, setup),
		cmocka_unit_test_setup(test_bad_sizes, setup),
		cmocka_unit_test_setup(test_record_round_trip, setup),
		cmocka_unit_test_setup(test_record_bad_fields_named, setup),
	};
	return cmocka_run_group_tests_name("kbc", tests, NULL, NULL);
}
