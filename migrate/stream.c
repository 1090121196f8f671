#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/time.h"
#include "migrate/cluster.h"
#include "migrate/stream.h"
#include "tls/tls.h"

static void forget(struct mstream *s, const char *why)
{
	if (s->pcb) {
		tcp_arg(s->pcb, NULL);
		tcp_recv(s->pcb, NULL);
		tcp_sent(s->pcb, NULL);
		tcp_err(s->pcb, NULL);
	}
	s->pcb = NULL;
	s->closed = true;
	if (why && !s->error[0])
		strlcpy(s->error, why, sizeof(s->error));
}

/* Appends a segment's bytes to buf (of size cap, live bytes [*start, *start + *len)),
 * moving them to the front when the tail is short. False if they do not fit, which flow
 * control rules out: the buffer holds a whole window beyond what was consumed, and
 * tcp_recved() is only called for consumed bytes. */
static bool take(uint8_t *buf, size_t cap, size_t *start, size_t *len, struct pbuf *p)
{
	if (*start + *len + p->tot_len > cap) {
		memmove(buf, buf + *start, *len);
		*start = 0;
	}
	if (*len + p->tot_len > cap)
		return false;
	pbuf_copy_partial(p, buf + *start + *len, p->tot_len, 0);
	*len += p->tot_len;
	return true;
}

/* rx is one pbuf chain, whose length lwIP counts in 16 bits: the window keeps it below. */
_Static_assert(TCP_WND <= 0xffff, "a window of records must fit one pbuf chain");

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct mstream *s = arg;

	if (!s)
		return ERR_OK;
	if (!p) {
		forget(s, "the peer closed the connection");
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;
	}
	s->last_progress_ms = time_now_ms();
	/* records wait in their pbufs for the session (at most a window of them, as lwIP
	 * counts only what the session read as taken); plain bytes go to the messages' */
	if (s->tls) {
		if (s->rx)
			pbuf_cat(s->rx, p);
		else
			s->rx = p;
		return ERR_OK;
	}
	if (!take(s->in, sizeof(s->in), &s->in_start, &s->in_len, p))
		return ERR_MEM;
	pbuf_free(p);
	return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct mstream *s = arg;

	if (s) {
		s->acked += len;
		s->last_progress_ms = time_now_ms();
		if (s->on_sent)
			s->on_sent(s);
	}
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	struct mstream *s = arg;
	char why[64];

	if (!s)
		return;
	s->pcb = NULL; /* lwIP has freed it */
	fmt_snprintf(why, sizeof(why), "connection %s",
		     err == ERR_RST ? "reset by the peer" : err == ERR_ABRT ? "aborted" :
		     err == ERR_TIMEOUT ? "timed out" : "lost");
	forget(s, why);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct mstream *s = arg;

	if (s) {
		s->connected = true;
		s->last_progress_ms = time_now_ms();
	}
	return ERR_OK;
}

static void attach(struct mstream *s, struct tcp_pcb *pcb)
{
	s->pcb = pcb;
	s->last_progress_ms = time_now_ms();
	s->start_us = time_now_us();
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	/* Nagle stays on: pages then leave in full segments (lwIP holds back only a
	 * partial last one, and only while data is in flight), see mstream_send(). */
}

/* --- TLS: the session's transport is the pcb and the pbufs it brought --------------------- */

/* A record, or part of one, to lwIP: counted in sent like plain bytes, so sent - acked stays
 * what is in flight. */
static int tls_out(void *ctx, const void *buf, size_t len)
{
	struct mstream *s = ctx;
	size_t n = MIN(MIN(len, (size_t)0xffff), s->pcb ? (size_t)tcp_sndbuf(s->pcb) : 0);

	if (!s->pcb)
		return -E_IO;
	if (!n || tcp_sndqueuelen(s->pcb) + 4 >= TCP_SND_QUEUELEN ||
	    tcp_write(s->pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
		return -E_BUSY;
	s->sent += n;
	return (int)n;
}

/* Received bytes to the session; they leave TCP's window only now. 0 once the connection
 * closed and all it brought was read. */
static int tls_in(void *ctx, void *buf, size_t len)
{
	struct mstream *s = ctx;
	u16_t n;

	if (s->rx && !s->rx->tot_len) {
		pbuf_free(s->rx);
		s->rx = NULL;
	}
	if (!s->rx)
		return s->closed ? 0 : -E_BUSY;
	n = pbuf_copy_partial(s->rx, buf, (u16_t)MIN(len, (size_t)s->rx->tot_len), 0);
	s->rx = pbuf_free_header(s->rx, n);
	if (s->pcb)
		tcp_recved(s->pcb, n);
	return n;
}

/* A keyed host's session for this stream (the connecting side is the client); true in a
 * host that has none to make (insecure-migration=on). */
static bool tls_begin(struct mstream *s, enum tls_role role)
{
	struct tls_key psk;
	struct tls_io io = { tls_out, tls_in, s };

	if (cluster_mode() != CLUSTER_KEYED)
		return true;
	if (tls_key_derive(cluster_key(), TLS_LABEL_MIGRATION, &psk) == 0)
		s->tls = tls_session_new(role, &psk, &io);
	tls_key_wipe(&psk);
	return s->tls != NULL;
}

static void tls_end(struct mstream *s)
{
	tls_session_free(s->tls);
	s->tls = NULL;
	if (s->rx)
		pbuf_free(s->rx);
	s->rx = NULL;
}

int mstream_connect(struct mstream *s, uint32_t ip, uint16_t port)
{
	struct tcp_pcb *pcb;
	ip_addr_t addr;

	if (!tls_begin(s, TLS_CLIENT))
		return -E_NOMEM;
	pcb = tcp_new();
	if (!pcb) {
		tls_end(s);
		return -E_NOMEM;
	}
	attach(s, pcb);
	s->peer_ip = ip;
	IP_ADDR4(&addr, ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	if (tcp_connect(pcb, &addr, port, on_connected) != ERR_OK) {
		forget(s, "cannot start the connection");
		tcp_abort(pcb);
		return -E_IO;
	}
	return 0;
}

void mstream_accept(struct mstream *s, struct tcp_pcb *pcb)
{
	attach(s, pcb);
	s->connected = true;
	s->peer_ip = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)));
	if (tls_begin(s, TLS_SERVER))
		return;
	/* lwIP's accept callback may close but not abort a pcb it goes on to use */
	s->refused = true;
	forget(s, "no memory for a TLS session");
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

bool mstream_ready(const struct mstream *s)
{
	return s->connected && !s->closed && (!s->tls || s->secure);
}

/* Room kept back in lwIP's send buffer for the one message that may end a stream (an
 * ABORT), so a failure in the middle of a full window still reaches the peer with its
 * reason instead of as a bare close. */
#define RESERVE_BYTES (WIRE_HDR + WIRE_REASON + 8)
#define RESERVE_SEGS 2

static bool room(const struct mstream *s, size_t len, bool reserve)
{
	size_t bytes = len + (reserve ? RESERVE_BYTES : 0);
	int segs = 4 + (reserve ? RESERVE_SEGS : 0);

	/* a message is one record: room for it whole means the session never holds a part */
	if (s->tls) {
		if (!s->secure || s->held)
			return false;
		bytes += tls_session_expansion(s->tls) * (reserve ? 2 : 1);
	}
	return s->pcb && tcp_sndbuf(s->pcb) >= bytes &&
	       tcp_sndqueuelen(s->pcb) + segs < TCP_SND_QUEUELEN;
}

bool mstream_room(const struct mstream *s, size_t len)
{
	return room(s, len, true);
}

/* A LAN may carry a bounded number of frames a second (Bochs's NIC takes one a
 * millisecond from its socket, whatever its size), so bytes per frame is what makes a
 * stream fast. Pages and zero-page markers are bulk: lwIP's Nagle sends the full
 * segments and keeps a partial last one until what is in flight is acknowledged, so
 * markers and page tails share frames instead of leaving one each. So are the pause's
 * device records and application processors' states, which the vCPU state always
 * follows: pushed one by one, its nine small records took a frame each, 10 ms of every
 * pause under Bochs. Every other message ends a burst or waits for an answer (a round's
 * end, the state, the replies): it goes at once with all before it, as with Nagle
 * off. */
static bool bulk(const struct msg *m)
{
	return m->type == MSG_PAGE || m->type == MSG_RECORD || m->type == MSG_VCPU;
}

static void push(struct tcp_pcb *pcb, bool now)
{
	if (!now) {
		tcp_output(pcb);
		return;
	}
	tcp_nagle_disable(pcb);
	tcp_output(pcb);
	tcp_nagle_enable(pcb);
}

/* A message as one record. room() made sure lwIP takes it whole; should lwIP still run
 * short of memory the session keeps the sealed record and sends it first thing later (the
 * message counts as sent: its bytes are in the record already). */
static int tls_send(struct mstream *s, const uint8_t *frame, size_t n, bool now)
{
	int r = tls_session_send(s->tls, frame, n);

	if (r == -E_BUSY) {
		s->held = true;
		return 0;
	}
	if (r < 0) {
		mstream_abort(s, tls_session_why(s->tls));
		return -E_IO;
	}
	push(s->pcb, now);
	return 0;
}

int mstream_send(struct mstream *s, const struct msg *m)
{
	static uint8_t frame[WIRE_HDR + WIRE_MAX_PAYLOAD];
	size_t n = wire_encode(m, frame);

	if (!s->pcb)
		return -E_IO;
	if (s->held && tls_session_flush(s->tls) == 0)
		s->held = false;
	/* Only an ABORT may use the reserve: nothing follows it. */
	if (!room(s, n, m->type != MSG_ABORT))
		return -E_BUSY;
	if (s->tls)
		return tls_send(s, frame, n, !bulk(m));
	if (tcp_write(s->pcb, frame, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
		return -E_BUSY;
	push(s->pcb, !bulk(m));
	s->sent += n;
	return 0;
}

/* The session failed: nothing more moves. Its alert (if any) is queued already; a refused
 * handshake closes gracefully so that it reaches the peer, a broken session resets. */
static void tls_failed(struct mstream *s)
{
	struct tcp_pcb *pcb = s->pcb;

	if (!s->secure)
		s->refused = true;
	forget(s, tls_session_why(s->tls));
	if (pcb) {
		tcp_output(pcb);
		if (!s->secure && tcp_close(pcb) == ERR_OK)
			return;
		tcp_abort(pcb);
	}
}

/* The handshake's next steps; true once it is complete. Its flights leave at once (Nagle
 * would hold the second record of a flight for an acknowledgement). */
static bool handshake(struct mstream *s)
{
	int r;

	if (s->secure)
		return true;
	if (!s->connected || s->refused)
		return false;
	r = tls_session_handshake(s->tls);
	if (s->pcb)
		push(s->pcb, true);
	if (r == -E_BUSY)
		return false;
	if (r < 0) {
		tls_failed(s);
		return false;
	}
	s->secure = true;
	s->handshake_us = time_now_us() - s->start_us;
	return true;
}

/* The session gives no more: the peer's close_notify (r = 0) closes the stream as a plain
 * close would; a failure ends it with the session's reason, unless it had closed already. */
static void tls_ended(struct mstream *s, int r)
{
	if (r == 0) {
		mstream_close(s);
		if (!s->error[0])
			strlcpy(s->error, "the peer closed the connection", sizeof(s->error));
	} else if (!s->closed) {
		tls_failed(s);
	} else if (!s->error[0]) {
		strlcpy(s->error, tls_session_why(s->tls), sizeof(s->error));
	}
}

/* Decrypts into in[] while it has room (moving its bytes to the front when the tail is
 * short of a message). */
static void tls_fill(struct mstream *s)
{
	if (s->held && tls_session_flush(s->tls) == 0)
		s->held = false;
	for (;;) {
		size_t tail = sizeof(s->in) - s->in_start - s->in_len;
		int r;

		if (tail < WIRE_HDR + WIRE_MAX_PAYLOAD && s->in_start) {
			memmove(s->in, s->in + s->in_start, s->in_len);
			s->in_start = 0;
			tail = sizeof(s->in) - s->in_len;
		}
		if (!tail)
			return;
		r = tls_session_recv(s->tls, s->in + s->in_start + s->in_len, tail);
		if (r <= 0) {
			if (r != -E_BUSY)
				tls_ended(s, r);
			return;
		}
		s->in_len += (size_t)r;
	}
}

int mstream_recv(struct mstream *s, uint64_t mem_size, struct msg *m, char *err,
		 size_t err_size)
{
	int n;

	if (s->last_frame) { /* the caller is done with the previous message */
		s->in_start += s->last_frame;
		s->in_len -= s->last_frame;
		/* a plain frame's bytes leave TCP's window now; a record's left it when the
		 * session read them (tls_in): counting both would open the window past what
		 * rx can hold */
		if (s->pcb && !s->tls)
			tcp_recved(s->pcb, (u16_t)s->last_frame);
		s->last_frame = 0;
	}
	if (s->tls && !handshake(s))
		return 0; /* nothing is read before the peer proved the key */
	n = wire_decode(s->in + s->in_start, s->in_len, mem_size, m, err, err_size);
	if (n == 0 && s->tls && !s->refused) { /* more may wait in the session */
		tls_fill(s);
		n = wire_decode(s->in + s->in_start, s->in_len, mem_size, m, err, err_size);
	}
	if (n > 0)
		s->last_frame = (size_t)n;
	return n > 0 ? 1 : n;
}

void mstream_close(struct mstream *s)
{
	struct tcp_pcb *pcb = s->pcb;

	if (s->tls && s->secure && pcb)
		tls_session_close(s->tls); /* close_notify, when lwIP has room for it */
	tls_end(s);
	forget(s, NULL);
	if (pcb && tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

void mstream_abort(struct mstream *s, const char *why)
{
	struct tcp_pcb *pcb = s->pcb;

	forget(s, why);
	tls_end(s);
	if (pcb)
		tcp_abort(pcb);
}

uint32_t mstream_peer(const struct mstream *s)
{
	return s->peer_ip;
}
