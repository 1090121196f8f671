/* The ACPI PM1a registers and PM timer, driven through their ports as an OS does. */
#include <stdio.h>
#include <string.h>
#include "hv/dev/acpi_pm.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

#define STS 0x600
#define EN 0x602
#define CNT 0x604
#define TMR 0x608
#define HZ 3579545ull

static struct acpi_pm pm;
static struct dev_log log_;
static char log_text[2048];
static unsigned log_lines, sci_sets, poweroffs;
static bool sci;

static void emit(void *ctx, const char *line)
{
	strncat(log_text, line, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	log_lines++;
}

static void sci_set(void *ctx, unsigned pin, bool level)
{
	assert_int_equal(pin, 9);
	sci = level;
	sci_sets++;
}

static void poweroff(void *ctx)
{
	assert_ptr_equal(ctx, &pm);
	poweroffs++;
}

static void setup_at(uint64_t now)
{
	log_ = (struct dev_log){ emit, NULL, 0 };
	log_text[0] = 0;
	log_lines = sci_sets = poweroffs = 0;
	sci = true;
	acpi_pm_init(&pm, (struct irq_line){ sci_set, NULL, 9 }, &log_, poweroff, &pm, now);
}

static int setup(void **state)
{
	setup_at(0);
	return 0;
}

static uint32_t rd(uint16_t port, unsigned size, uint64_t now)
{
	uint32_t v = 0xdeadbeef;

	acpi_pm_read(&pm, port, size, &v, now);
	return v;
}

static void wr(uint16_t port, unsigned size, uint32_t v, uint64_t now)
{
	acpi_pm_write(&pm, port, size, v, now);
}

/* The count the spec asks for: floor(now * 3.579545 MHz), 32 bits. */
static uint64_t ticks(uint64_t now)
{
	return (uint64_t)((unsigned __int128)now * HZ / 1000000000u);
}

/* The first ns at which the count reaches t. */
static uint64_t at_tick(uint64_t t)
{
	uint64_t ns = (uint64_t)(((unsigned __int128)t * 1000000000u + HZ - 1) / HZ);

	assert_true(ticks(ns) >= t && ticks(ns - 1) < t);
	return ns;
}

static void test_power_on(void **state)
{
	assert_false(sci);
	assert_int_equal(sci_sets, 1); /* driven low at init */
	assert_int_equal(rd(STS, 2, 0), 0);
	assert_int_equal(rd(EN, 2, 0), 0);
	assert_int_equal(rd(CNT, 2, 0), 1); /* SCI_EN: always in ACPI mode */
	assert_int_equal(rd(TMR, 4, 0), 0);
	assert_int_equal(acpi_pm_next_event(&pm), DEV_NEVER);
	assert_int_equal(log_lines, 0);
}

static void test_timer_counts(void **state)
{
	uint64_t wrap = at_tick(1ull << 32);

	assert_int_equal(rd(TMR, 4, NS_PER_S), HZ);
	assert_int_equal(rd(TMR, 4, 1000), 3); /* 3.58 ticks */
	assert_int_equal(rd(TMR, 4, 123456789), ticks(123456789));
	/* 32 bits (TMR_VAL_EXT): wraps after 2^32 ticks, about 20 minutes */
	assert_int_equal(rd(TMR, 4, wrap - 1), 0xffffffffu);
	assert_int_equal(rd(TMR, 4, wrap), 0);
	assert_int_equal(rd(TMR, 4, at_tick((1ull << 32) + 77)), 77);
	/* the bytes and words of the same count */
	uint64_t t = 987654321;
	uint32_t c = (uint32_t)ticks(t);
	assert_int_equal(rd(TMR + 1, 1, t), (c >> 8) & 0xff);
	assert_int_equal(rd(TMR + 2, 2, t), c >> 16);
	/* read-only */
	wr(TMR, 4, 0, t);
	assert_int_equal(rd(TMR, 4, t), c);
	assert_non_null(strstr(log_text, "read-only PM timer"));
}

/* TMR_STS when bit 31 flips either way; the SCI only with TMR_EN. */
static void test_timer_status_and_event(void **state)
{
	uint64_t flip1 = at_tick(1ull << 31), flip2 = at_tick(1ull << 32);

	assert_int_equal(rd(STS, 2, flip1 - 1), 0);
	assert_int_equal(rd(STS, 2, flip1), PM1_TMR);
	assert_false(sci); /* not enabled */
	assert_int_equal(acpi_pm_next_event(&pm), DEV_NEVER);
	wr(STS, 2, PM1_TMR, flip1);
	assert_int_equal(rd(STS, 2, flip1 + 1), 0);
	wr(EN, 2, PM1_TMR, flip1 + 1);
	assert_int_equal(acpi_pm_next_event(&pm), flip2);
	acpi_pm_run(&pm, flip2 - 1);
	assert_false(sci);
	acpi_pm_run(&pm, flip2);
	assert_true(sci);
	assert_int_equal(rd(STS, 2, flip2), PM1_TMR);
	assert_int_equal(acpi_pm_next_event(&pm), at_tick(3ull << 31));
	wr(STS, 2, PM1_TMR, flip2);
	assert_false(sci);
}

/* A VM not run for many flips sees one TMR_STS, not a backlog. */
static void test_timer_flips_coalesce(void **state)
{
	uint64_t late = at_tick(9ull << 31) + 5;

	wr(EN, 2, PM1_TMR, 0);
	acpi_pm_run(&pm, late);
	assert_true(sci);
	wr(STS, 2, PM1_TMR, late);
	assert_false(sci);
	acpi_pm_run(&pm, late + 1000);
	assert_false(sci);
	assert_int_equal(acpi_pm_next_event(&pm), at_tick(10ull << 31));
}

static void test_timer_status_from_init_time(void **state)
{
	uint64_t t = at_tick(5ull << 31) + 10;

	setup_at(t); /* a device made at t has seen no flip yet */
	assert_int_equal(rd(STS, 2, t + 1), 0);
	assert_int_equal(rd(STS, 2, at_tick(6ull << 31)), PM1_TMR);
}

static void test_power_button_and_sci(void **state)
{
	acpi_pm_power_button(&pm, 10);
	assert_int_equal(rd(STS, 2, 10), PM1_PWRBTN);
	assert_false(sci);
	wr(EN, 2, PM1_PWRBTN, 20); /* enabling a pending status raises the SCI */
	assert_true(sci);
	wr(STS, 2, 0, 30); /* writing 0 clears nothing */
	assert_true(sci);
	wr(STS, 2, PM1_TMR, 30); /* nor does clearing another bit */
	assert_true(sci);
	wr(EN, 2, 0, 40); /* disabling drops it, the status stays */
	assert_false(sci);
	assert_int_equal(rd(STS, 2, 40), PM1_PWRBTN);
	wr(EN, 2, PM1_PWRBTN, 50);
	assert_true(sci);
	wr(STS, 2, PM1_PWRBTN, 60);
	assert_false(sci);
	assert_int_equal(rd(STS, 2, 60), 0);
	/* the line is driven on changes only */
	unsigned n = sci_sets;
	wr(EN, 2, PM1_PWRBTN, 70);
	assert_int_equal(sci_sets, n);
}

static void test_enable_bits(void **state)
{
	wr(EN, 2, ACPI_PM_EN_BITS, 0);
	assert_int_equal(rd(EN, 2, 0), ACPI_PM_EN_BITS);
	assert_int_equal(log_lines, 0);
	wr(EN, 2, 0, 0);
	/* byte writes reach one byte each */
	wr(EN + 1, 1, PM1_PWRBTN >> 8, 0);
	assert_int_equal(rd(EN, 2, 0), PM1_PWRBTN);
	wr(EN, 1, PM1_GBL, 0);
	assert_int_equal(rd(EN, 2, 0), PM1_PWRBTN | PM1_GBL);
	assert_int_equal(rd(EN + 1, 1, 0), PM1_PWRBTN >> 8);
	/* a dword at 0x600: status (write 1 to clear) and enable at once */
	acpi_pm_power_button(&pm, 0);
	assert_int_equal(rd(STS, 4, 0), PM1_PWRBTN | (PM1_PWRBTN | PM1_GBL) << 16);
	wr(STS, 4, PM1_PWRBTN | (uint32_t)PM1_TMR << 16, 0);
	assert_int_equal(rd(STS, 4, 0), (uint32_t)PM1_TMR << 16);
	/* reserved bits: not kept, logged once */
	wr(EN, 2, 0xffff, 0);
	assert_int_equal(rd(EN, 2, 0), ACPI_PM_EN_BITS);
	wr(EN, 2, 0x0002, 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "reserved bits 0xb8de written to PM1_EN"));
}

static void test_status_write_one_to_clear(void **state)
{
	/* an OS clears all status at once with the defined bits: not worth a warning */
	acpi_pm_power_button(&pm, 0);
	wr(STS, 2, 0xcf31, 0);
	assert_int_equal(rd(STS, 2, 0), 0);
	assert_int_equal(log_lines, 0);
	acpi_pm_power_button(&pm, 0);
	wr(STS + 1, 1, 0x01, 0); /* byte write to the high half */
	assert_int_equal(rd(STS, 2, 0), 0);
	wr(STS, 2, 0x0002, 0);
	assert_non_null(strstr(log_text, "reserved bits 0x2 written to PM1_STS"));
}

static void test_control(void **state)
{
	wr(CNT, 2, PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | 3u << 10, 0);
	assert_int_equal(rd(CNT, 2, 0), PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | 3u << 10);
	assert_int_equal(rd(CNT + 1, 1, 0), 3u << 2);
	/* GBL_RLS does nothing and reads 0 */
	wr(CNT, 1, PM1_CNT_SCI_EN | PM1_CNT_GBL_RLS, 0);
	assert_int_equal(rd(CNT, 1, 0), PM1_CNT_SCI_EN);
	assert_int_equal(log_lines, 0);
	/* SCI_EN cannot be cleared */
	wr(CNT, 2, 0, 0);
	assert_int_equal(rd(CNT, 2, 0), PM1_CNT_SCI_EN);
	assert_non_null(strstr(log_text, "SCI_EN cleared"));
	wr(CNT, 2, 0xc001, 0);
	assert_int_equal(rd(CNT, 2, 0), PM1_CNT_SCI_EN);
	assert_non_null(strstr(log_text, "reserved bits 0xc000 written to PM1_CNT"));
	assert_int_equal(poweroffs, 0);
}

static void test_s5_powers_off(void **state)
{
	/* ACPICA's sequence: SLP_TYP first, then SLP_TYP | SLP_EN */
	wr(CNT, 2, PM1_CNT_SCI_EN | 5u << 10, 0);
	assert_int_equal(poweroffs, 0);
	assert_int_equal(rd(CNT, 2, 0), PM1_CNT_SCI_EN | 5u << 10); /* SLP_EN reads 0 */
	wr(CNT, 2, PM1_CNT_SCI_EN | 5u << 10 | PM1_CNT_SLP_EN, 0);
	assert_int_equal(poweroffs, 1);
	/* a byte to the high half carries both fields */
	wr(CNT + 1, 1, (5u << 10 | PM1_CNT_SLP_EN) >> 8, 0);
	assert_int_equal(poweroffs, 2);
	/* a low-byte write cannot: SLP_EN is not in it */
	wr(CNT, 1, PM1_CNT_SCI_EN | PM1_CNT_BM_RLD, 0);
	assert_int_equal(poweroffs, 2);
	assert_int_equal(rd(STS, 2, 0) & PM1_WAK, 0);
	assert_int_equal(log_lines, 0);
}

static void test_other_sleep_types_wake_at_once(void **state)
{
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == 5)
			continue;
		wr(CNT, 2, PM1_CNT_SCI_EN | typ << 10 | PM1_CNT_SLP_EN, 0);
		assert_int_equal(rd(STS, 2, 0), PM1_WAK);
		assert_false(sci); /* WAK_STS raises no SCI */
		wr(STS, 2, PM1_WAK, 0);
		assert_int_equal(rd(STS, 2, 0), 0);
	}
	assert_int_equal(poweroffs, 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "sleep type 0 requested"));
}

static void test_bad_accesses(void **state)
{
	static const struct {
		uint16_t port;
		unsigned size;
	} bad[] = {
		{ STS + 1, 2 }, { STS + 2, 4 }, { STS, 3 }, { STS, 8 }, { CNT, 4 },
		{ CNT + 1, 2 }, { 0x606, 1 }, { 0x607, 1 }, { 0x606, 2 }, { TMR + 2, 4 },
		{ TMR + 1, 2 }, { 0x60c, 1 }, { 0x5ff, 1 },
	};

	wr(EN, 2, PM1_PWRBTN, 0);
	wr(CNT, 2, PM1_CNT_SCI_EN | 5u << 10, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		uint32_t want = bad[i].size >= 4 ? 0xffffffffu : (1u << (8 * bad[i].size)) - 1;

		assert_int_equal(rd(bad[i].port, bad[i].size, 0), want);
		wr(bad[i].port, bad[i].size, 0xffffffffu, 0);
	}
	assert_int_equal(rd(EN, 2, 0), PM1_PWRBTN);
	assert_int_equal(rd(CNT, 2, 0), PM1_CNT_SCI_EN | 5u << 10);
	assert_int_equal(poweroffs, 0);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "2-byte read at port 0x601 ignored"));
}

/* --- records --- */

static void test_record_round_trip(void **state)
{
	uint8_t rec[64];
	struct acpi_pm_state back;
	char err[120];
	size_t n;
	uint64_t t = at_tick(3ull << 31);

	wr(EN, 2, PM1_PWRBTN | PM1_TMR, 0);
	wr(CNT, 2, PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | 5u << 10, 0);
	acpi_pm_power_button(&pm, t);
	assert_true(sci);
	n = vms_encode(&acpi_pm_vms, &pm.s, rec);
	assert_int_equal(n, vms_size(&acpi_pm_vms));
	assert_int_equal(vms_decode(&acpi_pm_vms, rec, n, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &pm.s, sizeof(back));
	/* the target: a fresh device, the record loaded, the SCI driven from it */
	setup_at(t + 100);
	pm.s = back;
	acpi_pm_restore(&pm, t + 100);
	assert_true(sci);
	assert_int_equal(rd(STS, 2, t + 100), PM1_PWRBTN | PM1_TMR);
	assert_int_equal(rd(CNT, 2, t + 100), PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | 5u << 10);
	assert_int_equal(rd(TMR, 4, t + 100), (uint32_t)ticks(t + 100));
	assert_int_equal(acpi_pm_next_event(&pm), at_tick(4ull << 31));
	/* restore drives the line even when it matches, so a fresh line is right */
	sci_sets = 0;
	acpi_pm_restore(&pm, t + 100);
	assert_int_equal(sci_sets, 1);
}

static void refused(struct acpi_pm_state s, const char *msg)
{
	uint8_t rec[64];
	struct acpi_pm_state back;
	char err[120] = "";
	size_t n = vms_encode(&acpi_pm_vms, &s, rec);

	assert_int_equal(vms_decode(&acpi_pm_vms, rec, n, &back, err, sizeof(err)), -E_FORMAT);
	if (!strstr(err, msg))
		fail_msg("got \"%s\", wanted \"%s\"", err, msg);
}

static void test_record_bad_fields(void **state)
{
	struct acpi_pm_state ok = { PM1_WAK, PM1_RTC, 7u << 10, 1000 };

	refused((struct acpi_pm_state){ .sts = 0x8000 | PM1_GBL },
		"acpi_pm: sts = 0x8020 has bits");
	refused((struct acpi_pm_state){ .en = 0x0002 }, "acpi_pm: en = 0x2 has bits");
	refused((struct acpi_pm_state){ .cnt = PM1_CNT_SCI_EN }, "acpi_pm: cnt = 0x1 has bits");
	refused((struct acpi_pm_state){ .cnt = 0xffff }, "acpi_pm: cnt = 0xffff, above its max");
	refused((struct acpi_pm_state){ .tmr_half = 1ull << 40 }, "acpi_pm: tmr_half = ");
	uint8_t rec[64];
	struct acpi_pm_state back;
	char err[120];
	size_t n = vms_encode(&acpi_pm_vms, &ok, rec);
	assert_int_equal(vms_decode(&acpi_pm_vms, rec, n, &back, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_power_on, setup),
		cmocka_unit_test_setup(test_timer_counts, setup),
		cmocka_unit_test_setup(test_timer_status_and_event, setup),
		cmocka_unit_test_setup(test_timer_flips_coalesce, setup),
		cmocka_unit_test_setup(test_timer_status_from_init_time, setup),
		cmocka_unit_test_setup(test_power_button_and_sci, setup),
		cmocka_unit_test_setup(test_enable_bits, setup),
		cmocka_unit_test_setup(test_status_write_one_to_clear, setup),
		cmocka_unit_test_setup(test_control, setup),
		cmocka_unit_test_setup(test_s5_powers_off, setup),
		cmocka_unit_test_setup(test_other_sleep_types_wake_at_once, setup),
		cmocka_unit_test_setup(test_bad_accesses, setup),
		cmocka_unit_test_setup(test_record_round_trip, setup),
		cmocka_unit_test_setup(test_record_bad_fields, setup),
	};
	return cmocka_run_group_tests_name("acpi_pm", tests, NULL, NULL);
}
