/* mbedTLS's runtime: its allocator over an arena the caller gives, and the random generator
 * every session and ephemeral key draws from. */
#include "mbedtls/memory_buffer_alloc.h"
#include "hv/error.h"
#include "hv/panic.h"
#include "tls/tls_int.h"

static mbedtls_entropy_context entropy;
static mbedtls_hmac_drbg_context drbg;
static bool ready;

/* SP 800-90A's personalization string: keeps this generator's output apart from any other
 * seeded from the same sources. */
static const char personal[] = "tern tls drbg v1";

mbedtls_hmac_drbg_context *tls_rng(void)
{
	return ready ? &drbg : NULL;
}

int tls_random(void *out, size_t len)
{
	if (!ready || mbedtls_hmac_drbg_random(&drbg, out, len) != 0)
		return -E_NOSUP;
	return 0;
}

/* mbedtls_exit (MBEDTLS_PLATFORM_EXIT_MACRO): the allocator found its own arena corrupted, a
 * broken invariant of tern's, not something a peer can cause through the protocol. */
void tls_heap_broken(int status)
{
	panic("tls: mbedTLS's arena is corrupted (%d)", status);
}

int tls_init(void *arena, size_t size)
{
	int ret;

	if (ready)
		return -E_BUSY;
	mbedtls_memory_buffer_alloc_init(arena, size);
	mbedtls_entropy_init(&entropy);
	mbedtls_hmac_drbg_init(&drbg);
	if (tls_entropy_add(&entropy) != 0)
		return -E_NOSUP;
	ret = mbedtls_hmac_drbg_seed(&drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
				     mbedtls_entropy_func, &entropy,
				     (const unsigned char *)personal, sizeof(personal) - 1);
	if (ret != 0) {
		mbedtls_hmac_drbg_free(&drbg);
		mbedtls_entropy_free(&entropy);
		return -E_NOSUP;
	}
	ready = true;
	return 0;
}
