/* x25519 as tern's TLS computes it: Project Everest's HACL* code in mbedTLS
 * (MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED in tls/mbedtls_config.h), reached through mbedTLS's
 * ECDH contexts as ssl_srv.c and ssl_cli.c reach it. Checked here: that a Curve25519 context
 * takes that variant, RFC 7748's test vectors (section 5.2, the iterated test to 1,000 steps,
 * section 6.1's exchange), u-coordinates given non-canonically, peers of small order refused,
 * and two contexts agreeing. Prints the cycles of one multiplication, Everest's and mbedTLS's
 * own ladder (this build has sanitizers: a rough ratio only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mbedtls/ecdh.h"
#include "mbedtls/platform.h"
#include "tests/unit/stubs.h"

#define X25519_LEN MBEDTLS_X25519_KEY_SIZE_BYTES

static void unhex(uint8_t out[X25519_LEN], const char *hex)
{
	assert_int_equal(strlen(hex), 2 * X25519_LEN);
	for (int i = 0; i < X25519_LEN; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* X25519(k, u) into out, as the TLS code's context computes a shared secret: the scalar is
 * ours, u arrives as the peer's public key (length-prefixed, as in a ClientKeyExchange). */
static int mul(uint8_t out[X25519_LEN], const uint8_t k[X25519_LEN], const uint8_t u[X25519_LEN])
{
	mbedtls_x25519_context ctx;
	uint8_t pub[1 + X25519_LEN] = { X25519_LEN };
	size_t len;
	int ret;

	mbedtls_x25519_init(&ctx);
	memcpy(ctx.our_secret, k, X25519_LEN);
	memcpy(pub + 1, u, X25519_LEN);
	assert_int_equal(mbedtls_x25519_read_public(&ctx, pub, sizeof(pub)), 0);
	ret = mbedtls_x25519_calc_secret(&ctx, &len, out, X25519_LEN, NULL, NULL);
	assert_int_equal(len, X25519_LEN);
	mbedtls_x25519_free(&ctx);
	return ret;
}

/* X25519(k, u) == want, all in RFC 7748's hex */
static void check(const char *k_hex, const char *u_hex, const char *want_hex)
{
	uint8_t k[X25519_LEN], u[X25519_LEN], want[X25519_LEN], out[X25519_LEN];

	unhex(k, k_hex);
	unhex(u, u_hex);
	unhex(want, want_hex);
	assert_int_equal(mul(out, k, u), 0);
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
		assert_int_equal(mul(r, k, u), 0);
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
	check(alice_priv, nine, alice_pub);
	check(bob_priv, nine, bob_pub);
	check(alice_priv, bob_pub, shared);
	check(bob_priv, alice_pub, shared);
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

/* Points of small order give all zero whatever the scalar (a multiple of 8 once clamped),
 * which the context refuses, as RFC 7748 section 6.1 asks: 0, 1, the two of order 8, p - 1,
 * and p and p + 1 (0 and 1 again). */
static void test_small_order_refused(void **state)
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
		assert_int_equal(mul(out, k, u), MBEDTLS_ERR_ECP_RANDOM_FAILED);
		unhex(k, bob_priv);
		assert_int_equal(mul(out, k, u), MBEDTLS_ERR_ECP_RANDOM_FAILED);
	}
}

/* --- through mbedTLS ------------------------------------------------------------------------ */

/* Not random, just varied: the keys differ from run to run of the loop. */
static int test_rng(void *ctx, unsigned char *buf, size_t len)
{
	uint64_t *x = ctx;

	for (size_t i = 0; i < len; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		buf[i] = (unsigned char)*x;
	}
	return 0;
}

/* As ssl_srv.c and ssl_cli.c do: the server's params, the client's public key, a secret each. */
static void test_mbedtls_exchange(void **state)
{
	uint64_t seed = 0x7465726e78323535;

	for (int round = 0; round < 8; round++) {
		mbedtls_ecdh_context srv, cli;
		unsigned char buf[256], s1[X25519_LEN], s2[X25519_LEN];
		const unsigned char *p = buf;
		size_t len, n1, n2;

		mbedtls_ecdh_init(&srv);
		mbedtls_ecdh_init(&cli);
		assert_int_equal(mbedtls_ecdh_setup(&srv, MBEDTLS_ECP_DP_CURVE25519), 0);
		assert_int_equal(srv.var, MBEDTLS_ECDH_VARIANT_EVEREST);
		assert_int_equal(mbedtls_ecdh_make_params(&srv, &len, buf, sizeof(buf), test_rng,
							  &seed), 0);
		assert_int_equal(mbedtls_ecdh_read_params(&cli, &p, buf + len), 0);
		assert_int_equal(cli.var, MBEDTLS_ECDH_VARIANT_EVEREST);
		assert_int_equal(mbedtls_ecdh_make_public(&cli, &len, buf, sizeof(buf), test_rng,
							  &seed), 0);
		assert_int_equal(mbedtls_ecdh_read_public(&srv, buf, len), 0);
		assert_int_equal(mbedtls_ecdh_calc_secret(&srv, &n1, s1, sizeof(s1), test_rng,
							  &seed), 0);
		assert_int_equal(mbedtls_ecdh_calc_secret(&cli, &n2, s2, sizeof(s2), test_rng,
							  &seed), 0);
		assert_int_equal(n1, X25519_LEN);
		assert_int_equal(n2, X25519_LEN);
		assert_memory_equal(s1, s2, X25519_LEN);
		assert_memory_not_equal(s1, zero, X25519_LEN);
		mbedtls_ecdh_free(&srv);
		mbedtls_ecdh_free(&cli);
	}
}

/* mbedtls_ecp_mul's X, the u-coordinate of d * (u : 1), little-endian as X25519 gives it. */
static void ladder(uint8_t out[X25519_LEN], const mbedtls_ecp_group *grp, const mbedtls_mpi *d,
		   const uint8_t u[X25519_LEN], uint64_t *seed)
{
	mbedtls_ecp_point p, r;

	mbedtls_ecp_point_init(&p), mbedtls_ecp_point_init(&r);
	assert_int_equal(mbedtls_ecp_point_read_binary(grp, &p, u, X25519_LEN), 0);
	assert_int_equal(mbedtls_ecp_mul((mbedtls_ecp_group *)grp, &r, d, &p, test_rng, seed), 0);
	assert_int_equal(mbedtls_mpi_write_binary_le(&r.X, out, X25519_LEN), 0);
	mbedtls_ecp_point_free(&p), mbedtls_ecp_point_free(&r);
}

/* Everest's results against mbedTLS's generic ladder, for keys it clamps as X25519 does. */
static void test_same_as_mbedtls_ladder(void **state)
{
	uint64_t seed = 0x3f1e2d3c4b5a6978;
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	uint8_t k[X25519_LEN], u[X25519_LEN], ours[X25519_LEN], theirs[X25519_LEN];

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519), 0);
	unhex(u, nine);
	for (int round = 0; round < 8; round++) {
		assert_int_equal(mbedtls_ecp_gen_privkey(&grp, &d, test_rng, &seed), 0);
		assert_int_equal(mbedtls_mpi_write_binary_le(&d, k, sizeof(k)), 0);
		assert_int_equal(mul(ours, k, u), 0);
		ladder(theirs, &grp, &d, u, &seed);
		assert_memory_equal(ours, theirs, X25519_LEN);
		memcpy(u, ours, X25519_LEN);	/* the next round's point: this public key */
	}
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
}

/* A server's context refuses a client's public key of small order, or of the wrong length. */
static void test_context_refusals(void **state)
{
	uint64_t seed = 42;
	mbedtls_ecdh_context srv;
	unsigned char buf[256], s[X25519_LEN];
	size_t len;

	mbedtls_ecdh_init(&srv);
	assert_int_equal(mbedtls_ecdh_setup(&srv, MBEDTLS_ECP_DP_CURVE25519), 0);
	assert_int_equal(mbedtls_ecdh_make_params(&srv, &len, buf, sizeof(buf), test_rng, &seed), 0);
	memset(buf, 0, sizeof(buf));
	buf[0] = X25519_LEN - 1;
	assert_int_equal(mbedtls_ecdh_read_public(&srv, buf, 1 + X25519_LEN),
			 MBEDTLS_ERR_ECP_BAD_INPUT_DATA);
	assert_int_equal(mbedtls_ecdh_read_public(&srv, buf, X25519_LEN),
			 MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL);
	buf[0] = X25519_LEN;
	buf[1] = 1;	/* u = 1: small order */
	assert_int_equal(mbedtls_ecdh_read_public(&srv, buf, 1 + X25519_LEN), 0);
	assert_int_equal(mbedtls_ecdh_calc_secret(&srv, &len, s, sizeof(s), test_rng, &seed),
			 MBEDTLS_ERR_ECP_RANDOM_FAILED);
	mbedtls_ecdh_free(&srv);
}

/* A figure, not a test: the TSC's cycles for one multiplication by a private key. */
static void test_cycles(void **state)
{
	enum { N = 16 };
	uint64_t seed = 7, t0, ours, theirs;
	uint8_t k[X25519_LEN], u[X25519_LEN];
	mbedtls_ecp_group grp;
	mbedtls_mpi d;

	unhex(k, alice_priv);
	unhex(u, bob_pub);
	t0 = __builtin_ia32_rdtsc();
	for (int i = 0; i < N; i++)
		assert_int_equal(mul(u, k, u), 0);
	ours = (__builtin_ia32_rdtsc() - t0) / N;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519), 0);
	assert_int_equal(mbedtls_ecp_gen_privkey(&grp, &d, test_rng, &seed), 0);
	unhex(u, nine);
	t0 = __builtin_ia32_rdtsc();
	for (int i = 0; i < N; i++)
		ladder(k, &grp, &d, u, &seed);
	theirs = (__builtin_ia32_rdtsc() - t0) / N;
	printf("x25519: Everest %llu cycles a multiplication, mbedTLS's ladder %llu "
	       "(sanitized build)\n", (unsigned long long)ours, (unsigned long long)theirs);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
}

/* mbedTLS allocates through the C library's calloc here (tls_init's arena in tern). */
static int setup(void **state)
{
	return mbedtls_platform_set_calloc_free(calloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_iterated),
		cmocka_unit_test(test_diffie_hellman),
		cmocka_unit_test(test_noncanonical_u),
		cmocka_unit_test(test_small_order_refused),
		cmocka_unit_test(test_mbedtls_exchange),
		cmocka_unit_test(test_same_as_mbedtls_ladder),
		cmocka_unit_test(test_context_refusals),
		cmocka_unit_test(test_cycles),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
