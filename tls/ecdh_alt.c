/* mbedTLS's two ECDH primitives (MBEDTLS_ECDH_GEN_PUBLIC_ALT, MBEDTLS_ECDH_COMPUTE_SHARED_ALT
 * in tls/mbedtls_config.h) on tls/x25519.c, in place of ecdh.c's, which run mbedTLS's generic
 * bignum ladder: it held tern's loop for most of a handshake, and a server computes its key for
 * any ClientHello, before the PSK is checked.
 *
 * mbedTLS's form of a Curve25519 key, kept as it is for the rest of mbedTLS: the private key d
 * is an mpi, already clamped (mbedtls_ecp_gen_privkey); a public key or shared secret is the
 * u-coordinate as Q.X, < p, with Q.Z = 1 and no Q.Y (ecp.c reads and writes Q.X little-endian
 * for Montgomery curves). The checks and errors are ecdh.c's and mbedtls_ecp_mul's. */
#include "mbedtls/ecdh.h"
#include "mbedtls/platform_util.h"
#include "tls/x25519.h"

/* Q = (u : 1), as mbedtls_ecp_mul leaves a Montgomery point. */
static int point_set(mbedtls_ecp_point *Q, const uint8_t u[X25519_LEN])
{
	int ret = mbedtls_mpi_read_binary_le(&Q->X, u, X25519_LEN);

	if (ret == 0)
		ret = mbedtls_mpi_lset(&Q->Z, 1);
	mbedtls_mpi_free(&Q->Y);
	return ret;
}

int mbedtls_ecdh_gen_public(mbedtls_ecp_group *grp, mbedtls_mpi *d, mbedtls_ecp_point *Q,
			    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	uint8_t k[X25519_LEN], u[X25519_LEN];
	int ret;

	if (grp->id != MBEDTLS_ECP_DP_CURVE25519)
		return MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
	ret = mbedtls_ecp_gen_privkey(grp, d, f_rng, p_rng);
	if (ret == 0)
		ret = mbedtls_mpi_write_binary_le(d, k, sizeof(k));
	if (ret == 0) {
		x25519_base(u, k);
		ret = point_set(Q, u);
	}
	mbedtls_platform_zeroize(k, sizeof(k));
	return ret;
}

/* Whether all of b is zero, looking at every byte whatever they hold. */
static bool all_zero(const uint8_t *b, size_t len)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}

int mbedtls_ecdh_compute_shared(mbedtls_ecp_group *grp, mbedtls_mpi *z,
				const mbedtls_ecp_point *Q, const mbedtls_mpi *d,
				int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	uint8_t k[X25519_LEN], u[X25519_LEN], s[X25519_LEN];
	int ret;

	if (grp->id != MBEDTLS_ECP_DP_CURVE25519)
		return MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE;
	/* mbedtls_ecp_mul's checks: a clamped d, and a peer's u that is not one of the known
	 * small-order points (any u of up to 32 bytes otherwise, reduced mod p) */
	ret = mbedtls_ecp_check_privkey(grp, d);
	if (ret == 0)
		ret = mbedtls_ecp_check_pubkey(grp, Q);
	if (ret == 0)
		ret = mbedtls_mpi_write_binary_le(d, k, sizeof(k));
	if (ret == 0)
		ret = mbedtls_mpi_write_binary_le(&Q->X, u, sizeof(u));
	if (ret == 0) {
		x25519(s, k, u);
		/* a small-order u after all (RFC 7748, section 6.1); ecdh.c's error for it */
		if (all_zero(s, sizeof(s)))
			ret = MBEDTLS_ERR_ECP_BAD_INPUT_DATA;
		else
			ret = mbedtls_mpi_read_binary_le(z, s, sizeof(s));
	}
	mbedtls_platform_zeroize(k, sizeof(k));
	mbedtls_platform_zeroize(s, sizeof(s));
	return ret;
}
