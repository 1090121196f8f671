#include <stdio.h>
#include <string.h>
#include "hv/error.h"
#include "hv/vmstate.h"
#include "tests/unit/stubs.h"

struct chan {
	uint8_t mode;
	uint16_t count;
};

struct rec {
	uint8_t flag;
	uint32_t word;
	uint64_t big;
	uint16_t arr[3];
	struct chan ch[2];
	uint8_t fifo[5];
};

static bool check_rec(const void *r, char *err, size_t n)
{
	const struct rec *x = r;

	if (x->flag && !x->word) {
		snprintf(err, n, "rec: flag set without a word");
		return false;
	}
	return true;
}

static const struct vms_field fields[] = {
	VMS_FIELD(struct rec, flag, 1),
	VMS_FIELD(struct rec, word, VMS_MAX32),
	VMS_FIELD(struct rec, big, VMS_MAX64),
	VMS_ARRAY(struct rec, arr, 1000),
	VMS_ELEM(struct rec, ch, mode, 5),
	VMS_ELEM(struct rec, ch, count, VMS_MAX16),
	VMS_BYTES(struct rec, fifo),
};

static const struct vms_desc desc = { "rec", 1, sizeof(struct rec), fields,
				      ARRAY_SIZE(fields), check_rec };

static void test_round_trip(void **state)
{
	struct rec a = { 1, 0xdeadbeef, 0x0123456789abcdefull, { 1, 2, 1000 },
			 { { 5, 0xffff }, { 0, 7 } }, { 9, 8, 7, 6, 5 } }, b;
	uint8_t buf[64], again[64];
	char err[120];
	size_t n = vms_encode(&desc, &a, buf);

	assert_int_equal(n, vms_size(&desc));
	assert_int_equal(n, 1 + 4 + 8 + 6 + 2 + 4 + 5);
	assert_int_equal(buf[1], 0xef); /* little-endian */
	assert_int_equal(vms_decode(&desc, buf, n, &b, err, sizeof(err)), 0);
	/* padding aside, the same record: the same encoding, field by field */
	assert_int_equal(vms_encode(&desc, &b, again), n);
	assert_memory_equal(buf, again, n);
	assert_int_equal(b.ch[0].count, 0xffff);
	assert_int_equal(b.big, 0x0123456789abcdefull);
}

static void test_ranges_named(void **state)
{
	struct rec a = { 0 }, b;
	uint8_t buf[64];
	char err[120];
	size_t n;

	a.ch[1].mode = 7;
	n = vms_encode(&desc, &a, buf);
	assert_int_equal(vms_decode(&desc, buf, n, &b, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rec: ch[].mode[1] = 0x7, above its maximum 0x5");
	a.ch[1].mode = 0;
	a.flag = 2;
	n = vms_encode(&desc, &a, buf);
	assert_int_equal(vms_decode(&desc, buf, n, &b, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rec: flag = 0x2, above its maximum 0x1");
	a.flag = 1; /* in range, but the record's own rule fails */
	n = vms_encode(&desc, &a, buf);
	assert_int_equal(vms_decode(&desc, buf, n, &b, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rec: flag set without a word");
	assert_int_equal(vms_decode(&desc, buf, n - 1, &b, err, sizeof(err)), -E_FORMAT);
	assert_non_null(strstr(err, "bytes where its version 1 has"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_ranges_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
