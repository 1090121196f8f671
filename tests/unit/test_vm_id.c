/* VM ids (hv/vm_id.c): they wrap after VM_ID_MAX to 1 and never into one still held,
 * however many reservations a peer makes and abandons. */
#include "hv/vm_id.h"
#include "tests/unit/stubs.h"

struct held_set {
	int ids[8];
	int n;
};

static bool held(int id, void *ctx)
{
	const struct held_set *h = ctx;

	for (int i = 0; i < h->n; i++)
		if (h->ids[i] == id)
			return true;
	return false;
}

static void test_counts_up(void **state)
{
	struct held_set none = { .n = 0 };
	int next = 1;

	assert_int_equal(vm_id_take(&next, held, &none), 1);
	assert_int_equal(vm_id_take(&next, held, &none), 2);
	assert_int_equal(next, 3);
}

/* At the top: VM_ID_MAX, then 1 (never 0 or a negative id), skipping those held on both
 * sides of the wrap. */
static void test_wraps_past_held(void **state)
{
	struct held_set h = { .ids = { VM_ID_MAX, 1, 2, 4 }, .n = 4 };
	int next = VM_ID_MAX - 1;

	assert_int_equal(vm_id_take(&next, held, &h), VM_ID_MAX - 1);
	assert_int_equal(vm_id_take(&next, held, &h), 3);
	assert_int_equal(vm_id_take(&next, held, &h), 5);
	assert_int_equal(next, 6);
}

/* A peer reserving and aborting in a loop takes an id each time: 2^31 of them later the
 * ids come round, and the VMs that stayed keep theirs. (Walked from near the top, as a
 * loop of 2^31 would get there.) */
static void test_loop_never_collides(void **state)
{
	struct held_set h = { .ids = { 7, 9, VM_ID_MAX - 3 }, .n = 3 };
	int next = VM_ID_MAX - 5;

	for (int i = 0; i < 20; i++) {
		int id = vm_id_take(&next, held, &h);

		assert_true(id >= 1 && id <= VM_ID_MAX);
		assert_false(held(id, &h));
	}
	assert_int_equal(next, 20 - 5 + 2 + 1);    /* 5 below the top, 3 held skipped */
}

/* A next id out of range (never set by vm_id_take) starts at 1 again. */
static void test_bad_next(void **state)
{
	struct held_set none = { .n = 0 };
	int next = 0;

	assert_int_equal(vm_id_take(&next, held, &none), 1);
	next = -5;
	assert_int_equal(vm_id_take(&next, held, &none), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_up),
		cmocka_unit_test(test_wraps_past_held),
		cmocka_unit_test(test_loop_never_collides),
		cmocka_unit_test(test_bad_next),
	};
	return cmocka_run_group_tests_name("vm_id", tests, NULL, NULL);
}
