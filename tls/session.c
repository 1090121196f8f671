/* TLS 1.2 sessions with a pre-shared key over whatever transport the caller's two functions
 * reach, and the words that say why one failed. */
#include "mbedtls/ecp.h"
#include "mbedtls/md.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/platform.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_internal.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "tls/tls_int.h"

/* Both ends send and expect this PSK identity (RFC 4279, 2): a peer of another protocol
 * version is refused by name rather than by a MAC that cannot match. */
static const char identity[] = "tern v1";

struct tls_session {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	struct tls_io io;
	int err;		/* the first failure, sticky: a broken session stays broken */
	uint8_t done;		/* handshake over */
	char why[112];
};

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct tls_session *s = ctx;
	int n = s->io.send(s->io.ctx, buf, len);

	if (n == -E_BUSY)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return n > 0 ? n : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct tls_session *s = ctx;
	int n = s->io.recv(s->io.ctx, buf, len);

	if (n == -E_BUSY)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return n >= 0 ? n : MBEDTLS_ERR_NET_RECV_FAILED;
}

struct tls_session *tls_session_new(enum tls_role role, const struct tls_key *psk,
				    const struct tls_io *io)
{
	int end = role == TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT;
	struct tls_session *s;
	int ret;

	if (!tls_rng())
		return NULL;
	s = mbedtls_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	mbedtls_ssl_init(&s->ssl);
	mbedtls_ssl_config_init(&s->conf);
	s->io = *io;
	/* The build has one protocol version, one suite and one curve: the defaults are them. */
	ret = mbedtls_ssl_config_defaults(&s->conf, end, MBEDTLS_SSL_TRANSPORT_STREAM,
					  MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret == 0) {
		mbedtls_ssl_conf_rng(&s->conf, mbedtls_hmac_drbg_random, tls_rng());
		ret = mbedtls_ssl_conf_psk(&s->conf, psk->b, sizeof(psk->b),
					   (const unsigned char *)identity, sizeof(identity) - 1);
	}
	if (ret == 0)
		ret = mbedtls_ssl_setup(&s->ssl, &s->conf);
	if (ret != 0) {
		tls_session_free(s);
		return NULL;
	}
	mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
	return s;
}

void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	mbedtls_ssl_free(&s->ssl);
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_platform_zeroize(s, sizeof(*s));
	mbedtls_free(s);
}

/* --- why a session failed ------------------------------------------------------------------ */

/* Alerts a peer sends (RFC 5246, 7.2; RFC 4279, 2 for unknown_psk_identity). */
static const struct {
	uint8_t code;
	int err;
	const char *name;
} alerts[] = {
	{ 10, E_FORMAT, "unexpected_message" },
	{ 20, E_AUTH, "bad_record_mac" },
	{ 40, E_AUTH, "handshake_failure" },
	{ 47, E_FORMAT, "illegal_parameter" },
	{ 50, E_FORMAT, "decode_error" },
	{ 51, E_AUTH, "decrypt_error" },
	{ 70, E_FORMAT, "protocol_version" },
	{ 80, E_FORMAT, "internal_error" },
	{ 115, E_AUTH, "unknown_psk_identity" },
};

/* mbedTLS's codes, by what they mean for tern: in the handshake, and after it. */
static const struct {
	int code;
	int err;
	const char *hs, *data;
} codes[] = {
	{ MBEDTLS_ERR_SSL_INVALID_MAC, E_AUTH,
	  "the peer holds another key (its Finished failed authentication)",
	  "a record failed authentication: altered, dropped or replayed on the wire" },
	{ MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY, E_AUTH,
	  "the peer's PSK identity is not tern's", NULL },
	/* what a server reads when a plain peer's first bytes are no ClientHello record */
	{ MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO, E_FORMAT,
	  "the peer does not speak TLS, or not tern's (no valid ClientHello; a host without "
	  "the key: insecure-migration=on?)", NULL },
	{ MBEDTLS_ERR_SSL_INVALID_RECORD, E_FORMAT,
	  "the peer does not speak TLS (it holds no cluster key: insecure-migration=on?)",
	  "a record's header is malformed" },
	{ MBEDTLS_ERR_SSL_CONN_EOF, E_IO, "the connection closed during the handshake",
	  "the connection closed without close_notify (truncated)" },
	{ MBEDTLS_ERR_NET_SEND_FAILED, E_IO, "the connection failed (send)", NULL },
	{ MBEDTLS_ERR_NET_RECV_FAILED, E_IO, "the connection failed (receive)", NULL },
	{ MBEDTLS_ERR_SSL_ALLOC_FAILED, E_NOMEM, "out of memory", NULL },
	{ MBEDTLS_ERR_MPI_ALLOC_FAILED, E_NOMEM, "out of memory", NULL },
	{ MBEDTLS_ERR_ECP_ALLOC_FAILED, E_NOMEM, "out of memory", NULL },
	{ MBEDTLS_ERR_MD_ALLOC_FAILED, E_NOMEM, "out of memory", NULL },
	{ MBEDTLS_ERR_CIPHER_ALLOC_FAILED, E_NOMEM, "out of memory", NULL },
	{ MBEDTLS_ERR_SSL_COUNTER_WRAPPING, E_RANGE, "record counter exhausted", NULL },
};

static int fail_alert(struct tls_session *s)
{
	uint8_t code = s->ssl.in_msg ? s->ssl.in_msg[1] : 0;
	const char *name = "unknown";
	int err = E_FORMAT;

	for (size_t i = 0; i < ARRAY_SIZE(alerts); i++)
		if (alerts[i].code == code) {
			name = alerts[i].name;
			err = alerts[i].err;
		}
	if (!s->done)
		fmt_snprintf(s->why, sizeof(s->why), "the peer refused the handshake (alert %s%s)",
			     name, err == E_AUTH ? ": it holds another key, or none" : "");
	else
		fmt_snprintf(s->why, sizeof(s->why), "the peer ended the session (alert %s)", name);
	return err;
}

/* Turns an mbedTLS code into tern's, remembering the first failure and why. */
static int fail(struct tls_session *s, int ret)
{
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return -E_BUSY;
	if (s->err)
		return s->err;
	if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		s->err = -fail_alert(s);
		return s->err;
	}
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		if (codes[i].code != ret)
			continue;
		fmt_snprintf(s->why, sizeof(s->why), "%s",
			     s->done && codes[i].data ? codes[i].data : codes[i].hs);
		s->err = -codes[i].err;
		return s->err;
	}
	fmt_snprintf(s->why, sizeof(s->why), "the peer broke the protocol (mbedTLS -0x%04x)",
		     (unsigned)-ret);
	s->err = -E_FORMAT;
	return s->err;
}

const char *tls_session_suite(const struct tls_session *s)
{
	return s->done ? mbedtls_ssl_get_ciphersuite(&s->ssl) : "";
}

const char *tls_session_why(const struct tls_session *s)
{
	return s->why;
}

/* --- moving bytes -------------------------------------------------------------------------- */

int tls_session_handshake(struct tls_session *s)
{
	int ret;

	if (s->err)
		return s->err;
	if (s->done)
		return 0;
	ret = mbedtls_ssl_handshake(&s->ssl);
	if (ret != 0)
		return fail(s, ret);
	s->done = 1;
	return 0;
}

int tls_session_send(struct tls_session *s, const void *buf, size_t len)
{
	int ret;

	if (s->err)
		return s->err;
	if (!len)
		return 0;
	ret = mbedtls_ssl_write(&s->ssl, buf, len);
	return ret > 0 ? ret : fail(s, ret);
}

int tls_session_recv(struct tls_session *s, void *buf, size_t len)
{
	int ret;

	if (s->err)
		return s->err;
	ret = mbedtls_ssl_read(&s->ssl, buf, len);
	if (ret > 0)
		return ret;
	if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return fail(s, ret);
}

int tls_session_flush(struct tls_session *s)
{
	int ret;

	if (s->err)
		return s->err;
	ret = mbedtls_ssl_flush_output(&s->ssl);
	return ret == 0 ? 0 : fail(s, ret);
}

/* ChaCha20-Poly1305 in TLS 1.2 (RFC 7905, 2): a 5-byte header and a 16-byte tag, no explicit
 * nonce. */
#define SUITE_EXPANSION (5 + 16)

size_t tls_session_expansion(const struct tls_session *s)
{
	int n = s->done ? mbedtls_ssl_get_record_expansion(&s->ssl) : SUITE_EXPANSION;

	return n > 0 ? (size_t)n : SUITE_EXPANSION;
}

size_t tls_session_pending(const struct tls_session *s)
{
	return mbedtls_ssl_get_bytes_avail(&s->ssl);
}

int tls_session_close(struct tls_session *s)
{
	int ret;

	if (s->err)
		return s->err;
	ret = mbedtls_ssl_close_notify(&s->ssl);
	return ret == 0 ? 0 : fail(s, ret);
}
