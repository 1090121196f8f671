/* What the files of tls/ share and nobody else sees: mbedTLS's types are allowed here. */
#ifndef TERN_TLS_INT_H
#define TERN_TLS_INT_H

#include "mbedtls/entropy.h"
#include "mbedtls/hmac_drbg.h"
#include "tls/tls.h"

/* The one random generator, seeded by tls_init(); NULL before. */
mbedtls_hmac_drbg_context *tls_rng(void);

/* Registers tern's entropy sources (tls/entropy.c) with mbedTLS's accumulator. */
int tls_entropy_add(mbedtls_entropy_context *e);
/* The same, as if the CPU had a hardware source or not (hw): for the tests. */
int tls_entropy_sources(mbedtls_entropy_context *e, bool hw);

#endif
