/* migrate/cluster.c: key=, key-file= and insecure-migration= as tern reads them at boot, what a
 * keyless host answers `migrate` and `policy on` with, and what `info net` says of the key. */
#include <string.h>
#include "migrate/cluster.h"
#include "tests/unit/stubs.h"

#define HEX "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F"

/* The boot modules: "cluster" holds the key with a newline, as an editor leaves it. */
static const char *file_text;

static const void *find(const char *name, size_t *len)
{
	if (strcmp(name, "cluster") != 0 || !file_text)
		return NULL;
	*len = strlen(file_text);
	return file_text;
}

static void assert_key(const struct cluster_cfg *c)
{
	assert_int_equal(c->mode, CLUSTER_KEYED);
	for (int i = 0; i < TLS_KEY_LEN; i++)
		assert_int_equal(c->key.b[i], i);
}

static void assert_no_key(const struct cluster_cfg *c, enum cluster_mode mode)
{
	static const struct tls_key zero;

	assert_int_equal(c->mode, mode);
	assert_memory_equal(&c->key, &zero, sizeof(zero));
}

static void test_key_on_the_command_line(void **state)
{
	struct cluster_cfg c;

	cluster_parse(&c, "ip=10.0.0.1/24 key=" HEX " shadow=64", find);
	assert_key(&c);
	assert_string_equal(c.note, "");
}

static void test_key_file(void **state)
{
	struct cluster_cfg c;

	file_text = HEX "\r\n";
	cluster_parse(&c, "key-file=cluster", find);
	assert_key(&c);
	assert_string_equal(c.note, "");
	file_text = NULL;
	cluster_parse(&c, "key-file=cluster", find);
	assert_no_key(&c, CLUSTER_NONE);
	assert_non_null(strstr(c.note, "key-file=cluster: no such boot module"));
	file_text = "not a key\n";
	cluster_parse(&c, "key-file=cluster", find);
	assert_no_key(&c, CLUSTER_NONE);
	assert_string_equal(c.note, "key-file=cluster holds a character that is not a hex digit");
	file_text = HEX HEX HEX;
	cluster_parse(&c, "key-file=cluster", find);
	assert_no_key(&c, CLUSTER_NONE);
	file_text = HEX;
	cluster_parse(&c, "key-file=cluster key=" HEX, find);
	assert_no_key(&c, CLUSTER_NONE);
	assert_string_equal(c.note, "both key= and key-file= given");
}

/* A bad key leaves the host keyless with a note that never quotes the key. */
static void test_bad_keys(void **state)
{
	static const char *const bad[] = {
		"key=" HEX "0", "key=" HEX "00", "key=00", "key=", "key",
		"key=" "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	};
	struct cluster_cfg c;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cluster_parse(&c, bad[i], find);
		assert_no_key(&c, CLUSTER_NONE);
		assert_true(strncmp(c.note, "key= ", 5) == 0);
		assert_null(strstr(c.note, "0102"));
	}
	cluster_parse(&c, "key=" HEX "0", find);
	assert_string_equal(c.note, "key= is not 64 hex digits long");
	/* the last word wins, as for every option */
	cluster_parse(&c, "key=00 key=" HEX, find);
	assert_key(&c);
}

static void test_insecure_and_none(void **state)
{
	struct cluster_cfg c;

	cluster_parse(&c, "ip=10.0.0.1/24", find);
	assert_no_key(&c, CLUSTER_NONE);
	assert_string_equal(c.note, "");
	cluster_parse(&c, "insecure-migration=on", find);
	assert_no_key(&c, CLUSTER_INSECURE);
	assert_string_equal(c.note, "");
	cluster_parse(&c, "insecure-migration=off", find);
	assert_no_key(&c, CLUSTER_NONE);
	cluster_parse(&c, "insecure-migration=yes", find);
	assert_no_key(&c, CLUSTER_NONE);
	assert_non_null(strstr(c.note, "not on or off"));
	/* a key wins; the ignored option is said */
	cluster_parse(&c, "insecure-migration=on key=" HEX, find);
	assert_key(&c);
	assert_string_equal(c.note, "insecure-migration=on ignored: a key is set");
	/* a bad key with insecure-migration=on: the plain protocol, and why the key is not used */
	cluster_parse(&c, "insecure-migration=on key=12", find);
	assert_no_key(&c, CLUSTER_INSECURE);
	assert_string_equal(c.note, "key= is not 64 hex digits long");
}

static void test_gate_and_info(void **state)
{
	struct cluster_cfg c;

	cluster_parse(&c, "", find);
	cluster_use(&c);
	assert_null(cluster_key());
	stub_output_reset();
	assert_false(cluster_check());
	assert_string_equal(stub_output, "error: no cluster key (key= on tern's command line, or "
					 "insecure-migration=on)\n");
	stub_output_reset();
	cluster_print();
	assert_string_equal(stub_output, "key: none\ninsecure-migration: off\n");

	cluster_parse(&c, "insecure-migration=on", find);
	cluster_use(&c);
	assert_true(cluster_check());
	assert_null(cluster_key());
	stub_output_reset();
	cluster_print();
	assert_string_equal(stub_output, "key: none\ninsecure-migration: on\n");

	cluster_parse(&c, "key=" HEX, find);
	cluster_use(&c);
	stub_output_reset();
	assert_true(cluster_check());
	assert_non_null(cluster_key());
	assert_int_equal(cluster_key()->b[31], 31);
	cluster_print();
	assert_string_equal(stub_output, "key: set\ninsecure-migration: off\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_on_the_command_line),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_insecure_and_none),
		cmocka_unit_test(test_gate_and_info),
	};
	return cmocka_run_group_tests_name("cluster", tests, NULL, NULL);
}
