/* `ping <ip> [count]`: ICMP echo through a raw lwIP PCB, one request at a time, a state
 * machine polled from tern's loop (net_poll) while the console is attached to it. */
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/time.h"
#include "lwip/inet_chksum.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/ip4.h"
#include "lwip/raw.h"
#include "net/addr.h"
#include "net/net.h"
#include "net/ping.h"

#define PING_ID 0x7e27
#define PING_DATA 56
#define PING_TIMEOUT_MS 1000
#define PING_GAP_MS 200
#define PING_MAX 1000

/* The one ping the monitor runs; the console is its own until it ends. */
static struct ping {
	bool running, waiting;   /* a command is on; its request is in flight (else a gap) */
	bool replied;
	uint16_t seq;            /* of the request in flight */
	uint64_t count, sent, got, min, max, sum;
	uint64_t sent_us, rtt_us, until_ms;
	ip4_addr_t peer;
	char peer_text[16];
	struct raw_pcb *pcb;
} pg;

bool net_echo_reply(const struct pbuf *p, u16_t id, struct icmp_echo_hdr *h)
{
	uint8_t vhl;
	u16_t hlen;

	if (pbuf_copy_partial(p, &vhl, 1, 0) != 1)
		return false;
	hlen = (vhl & 0xf) * 4;
	return hlen >= IP_HLEN && p->tot_len >= hlen + sizeof(*h) &&
	       pbuf_copy_partial(p, h, sizeof(*h), hlen) == sizeof(*h) && h->type == ICMP_ER &&
	       h->id == lwip_htons(id);
}

/* A reply must match our id, sequence and peer. Returns 1 (eaten) only for ours. */
static u8_t on_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *from)
{
	struct ping *pg = arg;
	struct icmp_echo_hdr h;

	if (!net_echo_reply(p, PING_ID, &h) || !ip4_addr_cmp(ip_2_ip4(from), &pg->peer))
		return 0;
	if (h.seqno == lwip_htons(pg->seq) && !pg->replied) {
		pg->replied = true;
		pg->rtt_us = time_now_us() - pg->sent_us;
	}
	pbuf_free(p);
	return 1; /* ours: lwIP need not look further */
}

static int send_echo(struct ping *pg)
{
	struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + PING_DATA, PBUF_RAM);
	struct icmp_echo_hdr *h;
	err_t err;

	if (!p)
		return -E_NOMEM;
	h = p->payload;
	h->type = ICMP_ECHO;
	h->code = 0;
	h->chksum = 0;
	h->id = lwip_htons(PING_ID);
	h->seqno = lwip_htons(pg->seq);
	for (int i = 0; i < PING_DATA; i++)
		((uint8_t *)(h + 1))[i] = (uint8_t)i;
	h->chksum = inet_chksum(h, p->len);
	pg->replied = false;
	pg->sent_us = time_now_us();
	err = raw_sendto(pg->pcb, p, (ip_addr_t *)&pg->peer);
	pbuf_free(p);
	return err == ERR_OK ? 0 : -E_IO;
}

static void print_ms(const char *pre, uint64_t us)
{
	kprintf("%s%llu.%03llu", pre, (unsigned long long)(us / 1000),
		(unsigned long long)(us % 1000));
}

static void send_next(void)
{
	pg.seq = (uint16_t)++pg.sent;
	if (send_echo(&pg) < 0)
		kprintf("seq=%llu: cannot send\n", (unsigned long long)pg.sent);
	pg.waiting = true;
	pg.until_ms = time_now_ms() + PING_TIMEOUT_MS;
}

/* The summary covers the requests sent; one in flight when cancelled counts as lost. */
static void finish(void)
{
	pg.running = false;
	raw_remove(pg.pcb);
	pg.pcb = NULL;
	kprintf("ping: %llu sent, %llu received, %llu%% loss", (unsigned long long)pg.sent,
		(unsigned long long)pg.got,
		(unsigned long long)(pg.sent ? (pg.sent - pg.got) * 100 / pg.sent : 0));
	if (pg.got) {
		print_ms("; rtt min/avg/max ", pg.min);
		print_ms("/", pg.sum / pg.got);
		print_ms("/", pg.max);
		kprintf(" ms");
	}
	kprintf("\n");
}

static void note_reply(void)
{
	pg.got++;
	pg.sum += pg.rtt_us;
	pg.min = MIN(pg.min, pg.rtt_us);
	pg.max = MAX(pg.max, pg.rtt_us);
	kprintf("reply from %s: seq=%llu", pg.peer_text, (unsigned long long)pg.sent);
	print_ms(" time=", pg.rtt_us);
	kprintf(" ms\n");
}

/* One request at a time: its reply or its timeout, then (after a reply) a short gap. */
void ping_poll(void)
{
	uint64_t now = time_now_ms();

	if (!pg.running)
		return;
	if (pg.waiting && !pg.replied && now < pg.until_ms)
		return;
	if (!pg.waiting && now < pg.until_ms)
		return;
	if (pg.waiting) {
		pg.waiting = false;
		if (pg.replied)
			note_reply();
		else
			kprintf("seq=%llu: no reply within %d ms\n", (unsigned long long)pg.sent,
				PING_TIMEOUT_MS);
		pg.until_ms = pg.replied ? now + PING_GAP_MS : now;
		if (pg.sent < pg.count)
			return;
	}
	if (pg.sent < pg.count) {
		send_next();
		return;
	}
	finish();
	mon_detach();
}

/* Ctrl-] (the monitor's) or Ctrl-C ends it; anything else typed meanwhile is dropped. */
static void ping_input(void *ctx, uint8_t byte)
{
	(void)ctx;
	if (byte == 0x03)
		mon_detach();
}

static void ping_detached(void *ctx)
{
	(void)ctx;
	if (pg.running)
		finish();
}

int cmd_ping(int argc, char **argv)
{
	uint64_t count = 4;
	uint32_t ip;

	if (argc < 1 || argc > 2 || !net_parse_ip4(argv[0], &ip) ||
	    (argc == 2 && (!parse_u64(argv[1], &count) || count == 0 || count > PING_MAX))) {
		kprintf("error: usage: ping <A.B.C.D> [count 1..%d]\n", PING_MAX);
		return -E_INVAL;
	}
	if (!net_ready())
		return -E_BUSY;
	pg = (struct ping){ .count = count, .min = ~0ULL };
	pg.pcb = raw_new(IP_PROTO_ICMP);
	if (!pg.pcb) {
		kprintf("error: ping: out of lwIP PCBs\n");
		return -E_NOMEM;
	}
	ip4_addr_set_u32(&pg.peer, lwip_htonl(ip));
	strlcpy(pg.peer_text, argv[0], sizeof(pg.peer_text));
	raw_recv(pg.pcb, on_recv, &pg);
	pg.running = true;
	send_next();
	mon_attach(ping_input, ping_detached, &pg);
	return 0;
}
