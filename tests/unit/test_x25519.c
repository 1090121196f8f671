/* tls/x25519.c against RFC 7748's test vectors (section 5.2, the iterated test to 1,000 steps,
 * section 6.1's exchange), u-coordinates given non-canonically and of small order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tls/x25519.h"
#include "tests/unit/stubs.h"

static void unhex(uint8_t out[X25519_LEN], const char *hex)
{
	assert_int_equal(strlen(hex), 2 * X25519_LEN);
	for (int i = 0; i < X25519_LEN; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* X25519(k, u) == want, all in RFC 7748's hex */
static void check(const char *k_hex, const char *u_hex, const char *want_hex)
{
	uint8_t k[X25519_LEN], u[X25519_LEN], want[X25519_LEN], out[X25519_LEN];

	unhex(k, k_hex);
	unhex(u, u_hex);
	unhex(want, want_hex);
	x25519(out, k, u);
	assert_memory_equal(out, want, X25519_LEN);
}

static const uint8_t zero[X25519_LEN];

/* RFC 7748, section 6.1 */
static const char alice_priv[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_pub[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_priv[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_pub[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char shared[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
static const char nine[] = "0900000000000000000000000000000000000000000000000000000000000000";

/* RFC 7748, section 5.2. The second u has its top bit set, which must be ignored. */
static void test_vectors(void **state)
{
	check("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	check("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
	      "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
	      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

/* RFC 7748, section 5.2: k = u = 9, then k, u = X25519(k, u), k. (Its 1,000,000 steps take
 * minutes with the sanitizers: left out.) */
static void test_iterated(void **state)
{
	uint8_t k[X25519_LEN], u[X25519_LEN], r[X25519_LEN], want[X25519_LEN];

	unhex(k, nine);
	unhex(u, nine);
	for (int i = 1; i <= 1000; i++) {
		x25519(r, k, u);
		memcpy(u, k, X25519_LEN);
		memcpy(k, r, X25519_LEN);
		if (i == 1) {
			unhex(want, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
			assert_memory_equal(k, want, X25519_LEN);
		}
	}
	unhex(want, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
	assert_memory_equal(k, want, X25519_LEN);
}

/* RFC 7748, section 6.1: both public keys from the base point, and one shared secret. */
static void test_diffie_hellman(void **state)
{
	uint8_t k[X25519_LEN], pub[X25519_LEN], want[X25519_LEN];

	unhex(k, alice_priv);
	unhex(want, alice_pub);
	x25519_base(pub, k);
	assert_memory_equal(pub, want, X25519_LEN);
	unhex(k, bob_priv);
	unhex(want, bob_pub);
	x25519_base(pub, k);
	assert_memory_equal(pub, want, X25519_LEN);
	check(alice_priv, bob_pub, shared);
	check(bob_priv, alice_pub, shared);
	/* out may be the scalar's or the point's buffer */
	unhex(k, alice_priv);
	unhex(pub, bob_pub);
	unhex(want, shared);
	x25519(pub, k, pub);
	assert_memory_equal(pub, want, X25519_LEN);
	unhex(pub, bob_pub);
	x25519(k, k, pub);
	assert_memory_equal(k, want, X25519_LEN);
}

/* RFC 7748, section 5: the top bit is masked, and u from p to 2^255 - 1 is taken mod p. The
 * base point given as 9 + p, and with its top bit set, is still the base point. */
static void test_noncanonical_u(void **state)
{
	check(alice_priv, "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	      alice_pub);
	check(alice_priv, "0900000000000000000000000000000000000000000000000000000000000080",
	      alice_pub);
	check(bob_priv, "f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	      bob_pub);
	/* Section 6.1's peer key with its top bit set */
	check(alice_priv, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882bcf",
	      shared);
}

/* Points of small order give all zero whatever the scalar (a multiple of 8 once clamped):
 * 0, 1, the two of order 8, p - 1, and p and p + 1 (0 and 1 again). */
static void test_small_order_gives_zero(void **state)
{
	static const char *const small[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t k[X25519_LEN], u[X25519_LEN], out[X25519_LEN];

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		unhex(u, small[i]);
		unhex(k, alice_priv);
		x25519(out, k, u);
		assert_memory_equal(out, zero, X25519_LEN);
		unhex(k, bob_priv);
		x25519(out, k, u);
		assert_memory_equal(out, zero, X25519_LEN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_iterated),
		cmocka_unit_test(test_diffie_hellman),
		cmocka_unit_test(test_noncanonical_u),
		cmocka_unit_test(test_small_order_gives_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
