/* tern's cryptography: the cluster key, keys derived from it, announcement MACs, and TLS 1.2
 * sessions with that key (mbedTLS 2.28, configured by tls/mbedtls_config.h). No mbedTLS type
 * appears here: callers need neither its headers nor its configuration.
 *
 * Sessions are transport-neutral: the caller gives two functions that move bytes (struct tls_io)
 * and polls. tern drives them from lwIP's raw TCP API with its own few lines of glue rather than
 * lwIP 2.1.3's altcp_tls layer, which has no way to configure a pre-shared key (its
 * configuration is private and built from certificates only), links mbedTLS's X.509 and key
 * parsing, and takes mbedTLS's memory from lwIP's heap. */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include "hv/types.h"

/* Sets up mbedTLS's allocator over [arena, arena + size) (it never allocates elsewhere), and
 * seeds the random generator from tls_entropy_*. Once, before anything below but the key
 * parser. 0, -E_BUSY if already done, -E_NOSUP if no entropy could be gathered. */
int tls_init(void *arena, size_t size);

/* len random bytes from the generator tls_init seeded: 0, or -E_NOSUP before tls_init. */
int tls_random(void *out, size_t len);

/* Whether this CPU has a hardware random source (RDSEED or RDRAND, by CPUID). Without one
 * the generator is seeded from TSC jitter alone, which an emulator makes predictable: tern
 * says so at boot. */
bool tls_entropy_hw(void);

/* --- the cluster key ------------------------------------------------------------------------
 * 32 random bytes, written as 64 hexadecimal digits (either case) in tern.cfg. */
#define TLS_KEY_LEN 32
#define TLS_KEY_HEX_LEN (2 * TLS_KEY_LEN)

struct tls_key {
	uint8_t b[TLS_KEY_LEN];
};

/* 0, or -E_INVAL for a character that is not a hex digit, -E_RANGE for a length other than
 * 64 digits; *key is untouched on error. */
int tls_key_parse(struct tls_key *key, const char *hex);
/* Overwrites the key in a way the compiler keeps. */
void tls_key_wipe(struct tls_key *key);

/* Each use of the cluster key gets its own key: out = HKDF-SHA256 (RFC 5869) of the cluster
 * key, no salt, info = label. 0 or a negative error. */
#define TLS_LABEL_DISCOVERY "tern discovery v1"
#define TLS_LABEL_MIGRATION "tern migration psk v1"
int tls_key_derive(const struct tls_key *key, const char *label, struct tls_key *out);

/* --- announcement MACs ----------------------------------------------------------------------
 * mac = HMAC-SHA256(key, counter as 8 bytes little-endian || msg). The sender's counter grows
 * with every announcement; the receiver keeps the highest it accepted from each sender. */
#define TLS_MAC_LEN 32

int tls_mac_sign(const struct tls_key *key, uint64_t counter, const void *msg, size_t len,
		 uint8_t mac[TLS_MAC_LEN]);
/* Checks mac (compared in constant time), then that counter > *last, then sets *last =
 * counter. 0 if accepted; -E_NOENT if mac is NULL (unsigned); -E_AUTH if the MAC is wrong
 * (forged, or another key); -E_EXIST if the counter is not new (replayed); *last changes only
 * when accepted. */
int tls_mac_verify(const struct tls_key *key, uint64_t counter, const void *msg, size_t len,
		   const uint8_t *mac, uint64_t *last);

/* --- sessions -------------------------------------------------------------------------------
 * TLS 1.2, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 over x25519: both ends must hold the
 * same pre-shared key (derive it with TLS_LABEL_MIGRATION); the ephemeral exchange keeps past
 * sessions secret if the key is stolen later.
 *
 * Return values of the functions below and of struct tls_io's: > 0 bytes moved; 0 the peer
 * closed (receive only); -E_BUSY nothing can move now, call again later; -E_AUTH the peer
 * does not hold the key, or a record failed authentication (altered, dropped or replayed on
 * the wire); -E_FORMAT the peer broke the protocol; -E_IO the transport failed; -E_NOMEM. */
enum tls_role { TLS_CLIENT, TLS_SERVER };

struct tls_io {
	int (*send)(void *ctx, const void *buf, size_t len);
	int (*recv)(void *ctx, void *buf, size_t len);
	void *ctx;
};

struct tls_session;

/* The session keeps its own copy of psk; io is copied. NULL if out of memory. */
struct tls_session *tls_session_new(enum tls_role role, const struct tls_key *psk,
				    const struct tls_io *io);
void tls_session_free(struct tls_session *s);

/* 0 once the handshake is complete, -E_BUSY while it waits for the transport. */
int tls_session_handshake(struct tls_session *s);
/* Sends up to len bytes as one record or more. After -E_BUSY, call again with the same bytes:
 * they may be sealed in a record that the transport has not taken yet. */
int tls_session_send(struct tls_session *s, const void *buf, size_t len);
int tls_session_recv(struct tls_session *s, void *buf, size_t len);
/* Sends what a send left sealed but not taken by the transport (after -E_BUSY): 0 once
 * nothing is held, -E_BUSY while the transport still refuses, or an error. A caller that
 * cannot repeat its bytes (it has counted them as sent) calls this instead. */
int tls_session_flush(struct tls_session *s);
/* The most bytes a record adds to the plaintext it carries (header, explicit IV, tag): what
 * the transport must have room for beyond a send of len bytes, len at most
 * TLS_RECORD_MAX. Known once the handshake is done; before, the largest this build's suite
 * adds. */
#define TLS_RECORD_MAX 16384
size_t tls_session_expansion(const struct tls_session *s);
/* Decrypted bytes waiting: tls_session_recv returns them without touching the transport. */
size_t tls_session_pending(const struct tls_session *s);
/* Sends close_notify: 0 or -E_BUSY (call again), or an error. */
int tls_session_close(struct tls_session *s);
/* The negotiated suite's IANA name once the handshake is done ("" before), for logs. */
const char *tls_session_suite(const struct tls_session *s);
/* Why the last call failed, in words for a log line ("the peer holds another key"); "" if
 * none failed. */
const char *tls_session_why(const struct tls_session *s);

#endif
