#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/time.h"
#include "migrate/stream.h"

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
	/* The buffer holds a whole window beyond what is parsed, and tcp_recved() is only
	 * called for consumed bytes: lwIP cannot deliver more than fits. */
	if (s->in_start + s->in_len + p->tot_len > sizeof(s->in)) {
		memmove(s->in, s->in + s->in_start, s->in_len);
		s->in_start = 0;
	}
	if (s->in_len + p->tot_len > sizeof(s->in))
		return ERR_MEM;
	pbuf_copy_partial(p, s->in + s->in_start + s->in_len, p->tot_len, 0);
	s->in_len += p->tot_len;
	s->last_progress_ms = time_now_ms();
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
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_recv);
	tcp_sent(pcb, on_sent);
	tcp_err(pcb, on_err);
	/* Nagle stays on: pages then leave in full segments (lwIP holds back only a
	 * partial last one, and only while data is in flight), see mstream_send(). */
}

int mstream_connect(struct mstream *s, uint32_t ip, uint16_t port)
{
	struct tcp_pcb *pcb = tcp_new();
	ip_addr_t addr;

	if (!pcb)
		return -E_NOMEM;
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
 * markers and page tails share frames instead of leaving one each. Every other message
 * ends a burst or waits for an answer (a round's end, the records and state of the
 * pause, the replies): it goes at once with all before it, as with Nagle off. */
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

int mstream_send(struct mstream *s, const struct msg *m)
{
	static uint8_t frame[WIRE_HDR + WIRE_MAX_PAYLOAD];
	size_t n = wire_encode(m, frame);

	if (!s->pcb)
		return -E_IO;
	/* Only an ABORT may use the reserve: nothing follows it. */
	if (!room(s, n, m->type != MSG_ABORT))
		return -E_BUSY;
	if (tcp_write(s->pcb, frame, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
		return -E_BUSY;
	push(s->pcb, m->type != MSG_PAGE);
	s->sent += n;
	return 0;
}

int mstream_recv(struct mstream *s, uint64_t mem_size, struct msg *m, char *err,
		 size_t err_size)
{
	int n;

	if (s->last_frame) { /* the caller is done with the previous message */
		s->in_start += s->last_frame;
		s->in_len -= s->last_frame;
		if (s->pcb)
			tcp_recved(s->pcb, (u16_t)s->last_frame);
		s->last_frame = 0;
	}
	n = wire_decode(s->in + s->in_start, s->in_len, mem_size, m, err, err_size);
	if (n > 0)
		s->last_frame = (size_t)n;
	return n > 0 ? 1 : n;
}

void mstream_close(struct mstream *s)
{
	struct tcp_pcb *pcb = s->pcb;

	forget(s, NULL);
	if (pcb && tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

void mstream_abort(struct mstream *s, const char *why)
{
	struct tcp_pcb *pcb = s->pcb;

	forget(s, why);
	if (pcb)
		tcp_abort(pcb);
}

uint32_t mstream_peer(const struct mstream *s)
{
	return s->peer_ip;
}
