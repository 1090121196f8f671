/* A migration connection: whole messages over an lwIP TCP connection, with flow
 * control both ways (the receive buffer holds a TCP window, so lwIP never has to be
 * refused data; a send waits until lwIP has room). Driven from tern's loop.
 *
 * In a keyed host (migrate/cluster.h) every byte goes through a TLS session keyed with the
 * cluster key's migration key (tls/tls.h): the connecting side is the client, the accepting
 * side the server, and no message is read or sent before the handshake is complete. in[]
 * then holds plaintext, and the records TCP brought wait in their pbufs (rx); lwIP is told
 * they were taken (tcp_recved) only as the session reads them, and the session
 * takes a record only when in[] has room for plaintext, so neither buffer can overflow: what
 * the session has decrypted but in[] could not take yet stays in the session (at most one
 * record). With insecure-migration=on the stream is plain, as before. */
#ifndef TERN_MIGRATE_STREAM_H
#define TERN_MIGRATE_STREAM_H

#include "lwip/tcp.h"
#include "migrate/wire.h"

struct tls_session;

#define MSTREAM_IN (TCP_WND + 2 * (WIRE_HDR + WIRE_MAX_PAYLOAD))

struct mstream {
	struct tcp_pcb *pcb;     /* NULL once closed or failed */
	bool connected, closed;  /* closed: by the peer, or by an error */
	char error[96];          /* why it closed, when not cleanly */
	uint8_t in[MSTREAM_IN];
	size_t in_start, in_len;
	size_t last_frame;       /* bytes of the message last returned, consumed on the next call */
	uint64_t sent, acked;    /* payload bytes handed to lwIP, acknowledged by the peer */
	uint64_t last_progress_ms;
	uint32_t peer_ip;        /* host order */
	void (*on_sent)(struct mstream *s);
	void *owner;
	/* TLS (keyed hosts only; NULL: the plain stream) */
	struct tls_session *tls;
	bool secure;             /* the handshake is complete: messages may flow */
	bool refused;            /* the handshake failed: the peer never proved the key */
	bool held;               /* the session holds a sealed record lwIP could not take yet */
	uint64_t start_us, handshake_us; /* connection up; the handshake's duration */
	struct pbuf *rx;         /* records from TCP the session has not read yet (a window) */
};

/* Connects to ip:port (host order); returns 0 or a negative error (-E_NOMEM also when no TLS
 * session could be made). */
int mstream_connect(struct mstream *s, uint32_t ip, uint16_t port);
/* Takes over an accepted connection. Without memory for its TLS session the stream reads
 * as closed and refused at once, with the reason. */
void mstream_accept(struct mstream *s, struct tcp_pcb *pcb);
/* Connected, and in a keyed host the handshake complete: messages may be sent. The
 * handshake advances in mstream_recv(); a failed one closes the stream with refused set
 * and error saying why ("the peer holds another key ..."). */
bool mstream_ready(const struct mstream *s);
/* Whether a frame of len bytes fits into lwIP's send buffer now. */
bool mstream_room(const struct mstream *s, size_t len);
/* Sends m; -E_BUSY when there is no room yet (call again later). */
int mstream_send(struct mstream *s, const struct msg *m);
/* The next whole message: 1 (in m, valid until the next call), 0 (none yet), or a
 * negative error with the reason in err (a malformed stream). */
int mstream_recv(struct mstream *s, uint64_t mem_size, struct msg *m, char *err,
		 size_t err_size);
/* Closes (gracefully when possible); safe to call twice. */
void mstream_close(struct mstream *s);
/* Drops the connection at once with a reset, as a cut cable or a crash would look to
 * the peer; the stream reads as closed with the reason why. */
void mstream_abort(struct mstream *s, const char *why);
/* The peer's address, host order. */
uint32_t mstream_peer(const struct mstream *s);

#endif
