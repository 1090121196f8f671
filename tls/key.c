/* The cluster key, the keys derived from it, and the MACs of announcements. */
#include "mbedtls/hkdf.h"
#include "mbedtls/md.h"
#include "mbedtls/platform_util.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "tls/tls_int.h"

int tls_key_parse(struct tls_key *key, const char *hex)
{
	struct tls_key k;
	size_t n = strnlen(hex, TLS_KEY_HEX_LEN + 1);

	for (size_t i = 0; i < n; i++)
		if (hex_digit(hex[i]) < 0)
			return -E_INVAL;
	if (n != TLS_KEY_HEX_LEN)
		return -E_RANGE;
	for (size_t i = 0; i < TLS_KEY_LEN; i++)
		k.b[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
	*key = k;
	tls_key_wipe(&k);
	return 0;
}

void tls_key_wipe(struct tls_key *key)
{
	mbedtls_platform_zeroize(key, sizeof(*key));
}

static const mbedtls_md_info_t *sha256(void)
{
	return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
}

int tls_key_derive(const struct tls_key *key, const char *label, struct tls_key *out)
{
	if (mbedtls_hkdf(sha256(), NULL, 0, key->b, sizeof(key->b),
			 (const unsigned char *)label, strlen(label), out->b, sizeof(out->b)) != 0)
		return -E_INVAL;
	return 0;
}

/* The MAC covers the counter before the message: a message cannot be re-sent under a new
 * counter without the key. */
static int mac_compute(const struct tls_key *key, uint64_t counter, const void *msg, size_t len,
		       uint8_t mac[TLS_MAC_LEN])
{
	mbedtls_md_context_t md;
	uint8_t ctr[8];
	int ret;

	for (int i = 0; i < 8; i++)
		ctr[i] = (uint8_t)(counter >> (8 * i));
	mbedtls_md_init(&md);
	ret = mbedtls_md_setup(&md, sha256(), 1);
	if (ret == 0)
		ret = mbedtls_md_hmac_starts(&md, key->b, sizeof(key->b));
	if (ret == 0)
		ret = mbedtls_md_hmac_update(&md, ctr, sizeof(ctr));
	if (ret == 0)
		ret = mbedtls_md_hmac_update(&md, msg, len);
	if (ret == 0)
		ret = mbedtls_md_hmac_finish(&md, mac);
	mbedtls_md_free(&md);
	if (ret == MBEDTLS_ERR_MD_ALLOC_FAILED)
		return -E_NOMEM;
	return ret ? -E_INVAL : 0;
}

int tls_mac_sign(const struct tls_key *key, uint64_t counter, const void *msg, size_t len,
		 uint8_t mac[TLS_MAC_LEN])
{
	return mac_compute(key, counter, msg, len, mac);
}

/* Time independent of where the first difference is, so a forger learns nothing byte by
 * byte. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

int tls_mac_verify(const struct tls_key *key, uint64_t counter, const void *msg, size_t len,
		   const uint8_t *mac, uint64_t *last)
{
	uint8_t want[TLS_MAC_LEN];
	int ret;

	if (!mac)
		return -E_NOENT;
	ret = mac_compute(key, counter, msg, len, want);
	if (ret)
		return ret;
	if (!equal_ct(want, mac, TLS_MAC_LEN))
		return -E_AUTH;
	if (counter <= *last)
		return -E_EXIST;
	*last = counter;
	return 0;
}
