/* netperf: TCP bulk transfer between tern hosts, the measure of the network the
 * migration engine will move pages over.
 *
 * Wire: the client sends a header, then `MiB` MiB of data; the server counts them and
 * answers "DONE" once it has everything, then closes. The client times from the
 * connection's set-up to that answer, so the figure covers the data's delivery.
 *   header: 'T' 'N' 'P' '1' | MiB (u32, big-endian, 1..NETPERF_MAX_MIB) */
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/time.h"
#include "lwip/tcp.h"
#include "net/addr.h"
#include "net/net.h"

#define NETPERF_DEFAULT_MIB 4
#define NETPERF_STALL_MS 10000    /* no progress for this long: the peer is gone */
#define NETPERF_SERVERS 4
#define SERVER_IDLE_TICKS 20      /* tcp_poll ticks of 500 ms: 10 s without data */
#define HDR_LEN 8
#define CHUNK 4096

static const char magic[4] = { 'T', 'N', 'P', '1' };
static const char done_msg[4] = { 'D', 'O', 'N', 'E' };
static uint8_t pattern[CHUNK]; /* what the client sends; lwIP references, not copies */

/* --- server: one slot per connection ---------------------------------------- */

struct server_conn {
	bool used;
	uint8_t hdr[HDR_LEN];
	uint32_t hdr_got;
	uint64_t want, got; /* data bytes announced and received */
	unsigned idle;
};

static struct server_conn conns[NETPERF_SERVERS];

static void server_free(struct tcp_pcb *pcb, struct server_conn *c)
{
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
	c->used = false;
}

static err_t server_abort(struct tcp_pcb *pcb, struct server_conn *c)
{
	server_free(pcb, c);
	tcp_abort(pcb);
	return ERR_ABRT;
}

/* Takes the header bytes from the front of p; false when they are not a valid header. */
static bool server_header(struct server_conn *c, struct pbuf *p, u16_t *off)
{
	u16_t n = MIN((u16_t)(HDR_LEN - c->hdr_got), p->tot_len);
	uint32_t mib;

	pbuf_copy_partial(p, c->hdr + c->hdr_got, n, 0);
	c->hdr_got += n;
	*off = n;
	if (c->hdr_got < HDR_LEN)
		return true;
	mib = (uint32_t)c->hdr[4] << 24 | c->hdr[5] << 16 | c->hdr[6] << 8 | c->hdr[7];
	if (memcmp(c->hdr, magic, 4) != 0 || mib == 0 || mib > NETPERF_MAX_MIB)
		return false;
	c->want = (uint64_t)mib * MIB;
	return true;
}

static err_t server_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct server_conn *c = arg;
	u16_t off = 0;

	if (!p) { /* the client closed */
		server_free(pcb, c);
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;
	}
	tcp_recved(pcb, p->tot_len);
	c->idle = 0;
	if (c->hdr_got < HDR_LEN && !server_header(c, p, &off)) {
		pbuf_free(p);
		return server_abort(pcb, c);
	}
	c->got += p->tot_len - off;
	pbuf_free(p);
	if (c->got > c->want)
		return server_abort(pcb, c); /* more than announced: not a netperf client */
	if (c->hdr_got == HDR_LEN && c->got == c->want) {
		/* The send buffer is empty (the server sends nothing else): this fits. */
		if (tcp_write(pcb, done_msg, sizeof(done_msg), 0) != ERR_OK)
			return server_abort(pcb, c);
		tcp_output(pcb);
	}
	return ERR_OK;
}

static void server_err(void *arg, err_t err)
{
	struct server_conn *c = arg;

	if (c)
		c->used = false; /* lwIP has freed the PCB already */
}

static err_t server_poll(void *arg, struct tcp_pcb *pcb)
{
	struct server_conn *c = arg;

	if (c && ++c->idle > SERVER_IDLE_TICKS)
		return server_abort(pcb, c);
	return ERR_OK;
}

static err_t server_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct server_conn *c = NULL;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	for (int i = 0; i < NETPERF_SERVERS && !c; i++) {
		if (!conns[i].used)
			c = &conns[i];
	}
	if (!c) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	memset(c, 0, sizeof(*c));
	c->used = true;
	tcp_arg(pcb, c);
	tcp_recv(pcb, server_recv);
	tcp_err(pcb, server_err);
	tcp_poll(pcb, server_poll, 1);
	return ERR_OK;
}

int netperf_listen(void)
{
	struct tcp_pcb *pcb = tcp_new(), *l;

	if (!pcb)
		return -E_NOMEM;
	if (tcp_bind(pcb, IP_ADDR_ANY, NET_NETPERF_PORT) != ERR_OK) {
		tcp_abort(pcb);
		return -E_BUSY;
	}
	l = tcp_listen(pcb);
	if (!l) {
		tcp_abort(pcb);
		return -E_NOMEM;
	}
	tcp_accept(l, server_accept);
	return 0;
}

/* --- client: a state machine, polled (tern's loop never waits on a peer) --------- */

static void client_fill(struct tcp_pcb *pcb, struct netperf *np)
{
	if (!np->hdr_sent) {
		uint8_t h[HDR_LEN];
		uint32_t mib = (uint32_t)(np->total / MIB);

		memcpy(h, magic, 4);
		h[4] = mib >> 24, h[5] = mib >> 16, h[6] = mib >> 8, h[7] = mib;
		if (tcp_write(pcb, h, HDR_LEN, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) != ERR_OK)
			return;
		np->hdr_sent = true;
	}
	while (np->queued < np->total) {
		u16_t n = (u16_t)MIN((uint64_t)MIN(tcp_sndbuf(pcb), CHUNK), np->total - np->queued);

		if (n == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 2)
			break;
		if (tcp_write(pcb, pattern, n, np->queued + n < np->total ? TCP_WRITE_FLAG_MORE : 0) !=
		    ERR_OK)
			break;
		np->queued += n;
	}
	tcp_output(pcb);
}

static err_t client_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct netperf *np = arg;

	np->progress_ms = time_now_ms();
	np->acked += len;
	client_fill(pcb, np);
	return ERR_OK;
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct netperf *np = arg;
	uint8_t buf[sizeof(done_msg)];
	u16_t n;

	if (!p) {
		if (!np->done && !np->error)
			np->error = "the peer closed the connection before confirming";
		return ERR_OK;
	}
	n = (u16_t)MIN(p->tot_len, sizeof(buf) - np->reply_got);
	pbuf_copy_partial(p, buf, n, 0);
	tcp_recved(pcb, p->tot_len);
	if (p->tot_len != n || memcmp(buf, done_msg + np->reply_got, n) != 0)
		np->error = "unexpected reply from the peer";
	np->reply_got += n;
	pbuf_free(p);
	if (!np->error && np->reply_got == sizeof(done_msg)) {
		np->done = true;
		np->end_ms = time_now_ms();
	}
	return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
	struct netperf *np = arg;

	np->pcb = NULL; /* lwIP has freed it */
	if (!np->error)
		np->error = err == ERR_RST ? "connection reset by the peer"
			    : err == ERR_ABRT ? "connection aborted"
					      : "connection failed";
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct netperf *np = arg;

	np->connected = true;
	np->start_ms = np->progress_ms = time_now_ms();
	client_fill(pcb, np);
	return ERR_OK;
}

/* Lets go of the PCB (closed when it ended well, else reset) and of its callbacks. */
static void client_end(struct netperf *np)
{
	struct tcp_pcb *pcb = np->pcb;

	np->active = false;
	if (!pcb)
		return;
	np->pcb = NULL;
	tcp_arg(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	if (np->error || tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

int netperf_start(struct netperf *np, uint32_t ip, uint32_t mib)
{
	struct tcp_pcb *pcb;
	ip_addr_t peer;

	*np = (struct netperf){ .total = (uint64_t)mib * MIB };
	if (mib == 0 || mib > NETPERF_MAX_MIB) {
		np->error = "size out of range";
		return -E_INVAL;
	}
	pcb = tcp_new();
	if (!pcb) {
		np->error = "out of lwIP PCBs";
		return -E_NOMEM;
	}
	np->progress_ms = time_now_ms();
	ip_addr_set_ip4_u32(&peer, lwip_htonl(ip));
	tcp_arg(pcb, np);
	tcp_err(pcb, client_err);
	tcp_recv(pcb, client_recv);
	tcp_sent(pcb, client_sent);
	if (tcp_connect(pcb, &peer, NET_NETPERF_PORT, client_connected) != ERR_OK) {
		tcp_abort(pcb);
		np->error = "cannot connect";
		return -E_IO;
	}
	np->pcb = pcb;
	np->active = true;
	return 0;
}

int netperf_poll(struct netperf *np, struct netperf_result *res)
{
	if (!np->active && !np->done && !np->error)
		np->error = "not running";
	if (np->active && !np->done && !np->error &&
	    time_now_ms() - np->progress_ms > NETPERF_STALL_MS)
		np->error = np->connected ? "no progress for 10 s (peer gone?)"
					  : "no answer from the peer within 10 s";
	if (!np->done && !np->error)
		return NETPERF_RUNNING;
	client_end(np);
	*res = (struct netperf_result){ .bytes = np->total, .error = np->error };
	res->acked = np->acked > HDR_LEN ? np->acked - HDR_LEN : 0;
	if (np->error)
		return -E_IO;
	res->ms = MAX(np->end_ms - np->start_ms, 1ULL);
	res->kb_per_s = res->bytes / res->ms;
	return 0;
}

void netperf_cancel(struct netperf *np, const char *why)
{
	if (!np->error && !np->done)
		np->error = why;
	client_end(np);
}

/* --- the monitor's command: the console is the transfer's until it ends ----------- */

static struct {
	struct netperf np;
	bool running;
	char peer[16];
	uint32_t mib;
} cmd;

static void cmd_report(int err, const struct netperf_result *r)
{
	if (err) {
		kprintf("error: netperf to %s: %s (%llu of %llu bytes acknowledged)\n", cmd.peer,
			r->error, (unsigned long long)r->acked, (unsigned long long)r->bytes);
		return;
	}
	kprintf("netperf: %u MiB to %s in %llu ms\n", cmd.mib, cmd.peer,
		(unsigned long long)r->ms);
	/* MB/s (10^6 bytes a second) with two decimals: kB/s is bytes per ms. */
	kprintf("throughput: %llu.%02llu MB/s\n", (unsigned long long)(r->kb_per_s / 1000),
		(unsigned long long)(r->kb_per_s / 10 % 100));
}

/* Ctrl-] (the monitor's) or Ctrl-C ends it; anything else typed meanwhile is dropped. */
static void cmd_input(void *ctx, uint8_t byte)
{
	(void)ctx;
	if (byte == 0x03)
		mon_detach();
}

static void cmd_detached(void *ctx)
{
	struct netperf_result r;

	(void)ctx;
	if (!cmd.running)
		return;
	cmd.running = false;
	netperf_cancel(&cmd.np, "cancelled");
	cmd_report(netperf_poll(&cmd.np, &r), &r);
}

void netperf_cmd_poll(void)
{
	struct netperf_result r;
	int err;

	if (!cmd.running || (err = netperf_poll(&cmd.np, &r)) == NETPERF_RUNNING)
		return;
	cmd.running = false;
	cmd_report(err, &r);
	mon_detach();
}

int cmd_netperf(int argc, char **argv)
{
	uint64_t mib = NETPERF_DEFAULT_MIB;
	uint32_t ip;

	if (argc < 1 || argc > 2 || !net_parse_ip4(argv[0], &ip) ||
	    (argc == 2 && (!parse_u64(argv[1], &mib) || mib == 0 || mib > NETPERF_MAX_MIB))) {
		kprintf("error: usage: netperf <A.B.C.D> [MiB 1..%d]\n", NETPERF_MAX_MIB);
		return -E_INVAL;
	}
	if (!net_ready())
		return -E_BUSY;
	if (netperf_start(&cmd.np, ip, (uint32_t)mib)) {
		kprintf("error: netperf to %s: %s\n", argv[0], cmd.np.error);
		return -E_IO;
	}
	strlcpy(cmd.peer, argv[0], sizeof(cmd.peer));
	cmd.mib = (uint32_t)mib;
	cmd.running = true;
	mon_attach(cmd_input, cmd_detached, &cmd);
	return 0;
}
