/* X25519, Curve25519's Diffie-Hellman function (RFC 7748, section 5): tern's own, in place of
 * mbedTLS's generic bignum ladder, which held tern's loop for most of a TLS handshake. Pure: no
 * mbedTLS type here (tls/ecdh_alt.c plugs it into mbedTLS). Constant-time in the scalar. */
#ifndef TERN_TLS_X25519_H
#define TERN_TLS_X25519_H

#include "hv/types.h"

#define X25519_LEN 32

/* out = X25519(k, u), all little-endian as RFC 7748 encodes them. k is clamped here (its
 * bits 0-2 and 255 cleared, bit 254 set); u's bit 255 is ignored and values from p to
 * 2^255 - 1 are taken mod p. out is all zero when u is of small order: the caller refuses
 * that (RFC 7748, section 6.1). out may alias k or u. */
void x25519(uint8_t out[X25519_LEN], const uint8_t k[X25519_LEN], const uint8_t u[X25519_LEN]);

/* out = X25519(k, 9): the public key of the private key k. */
void x25519_base(uint8_t out[X25519_LEN], const uint8_t k[X25519_LEN]);

#endif
