/* mbedTLS 2.28 configured for tern (MBEDTLS_CONFIG_FILE): TLS 1.2 with a pre-shared key and an
 * ephemeral x25519 exchange, nothing else. Used as it is by the freestanding build and by the
 * hosted unit tests, so the tests run the code tern runs.
 *
 * The one cipher suite is TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 (RFC 7905): mbedTLS 2.28
 * has no ECDHE-PSK suite with AES-GCM (RFC 8442's are not implemented), and of the suites it has
 * this is the one with both forward secrecy and an AEAD. It also suits tern: ChaCha20 and
 * Poly1305 are fast and constant-time in plain integer code, while AES without AES-NI (tern
 * runs with SSE off) is table-driven and slower. */
#ifndef TERN_MBEDTLS_CONFIG_H
#define TERN_MBEDTLS_CONFIG_H

/* --- system: no libc, no clock, no files ------------------------------------------------- */
#define MBEDTLS_HAVE_ASM		/* bignum's x86-64 multiply-accumulate: integer only */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY		/* calloc/free set at run time: tls_init()'s arena */
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C	/* mbedTLS's own allocator over a fixed arena */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 16	/* as malloc's: structs hold 64-bit fields */
/* The allocator's answer to a corrupted arena (tls/tls.c); mbedTLS calls exit() nowhere else. */
#define MBEDTLS_PLATFORM_EXIT_MACRO tls_heap_broken
void tls_heap_broken(int status);
/* bignum divides 128 by 64 bits with its own code: no libgcc (__udivti3) in tern. */
#define MBEDTLS_NO_UDBL_DIVISION
#define MBEDTLS_DEPRECATED_REMOVED

/* --- TLS 1.2, stream transport, one suite ------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET	/* RFC 7627: binds the keys to the handshake */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES	/* the peer learns why a handshake failed */
/* A full record each way: the peer may send 16 KiB records (RFC 5246, 6.2.1). */
#define MBEDTLS_SSL_MAX_CONTENT_LEN 16384

/* --- algorithms ---------------------------------------------------------------------------- */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
/* x25519 through Project Everest's HACL* code that mbedTLS ships (3rdparty/everest, formally
 * verified, constant time): mbedTLS's generic bignum ladder took most of a handshake's time,
 * holding tern's loop, and a server computes its key for any ClientHello. */
#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED

/* --- randomness: tern's sources (tls/entropy.c) into an HMAC-SHA256 DRBG (SP 800-90A) ------
 * HMAC_DRBG rather than CTR_DRBG: the build has no AES, and SHA-256 is there already. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_FORCE_SHA256
#define MBEDTLS_HMAC_DRBG_C

#include "mbedtls/check_config.h"

#endif
