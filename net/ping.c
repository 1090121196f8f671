/* `ping <ip> [count]`: ICMP echo through a raw lwIP PCB, one request at a time. */
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
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

struct ping {
	uint16_t seq;      /* of the request in flight */
	bool replied;
	uint64_t sent_us, rtt_us;
	ip4_addr_t peer;
};

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

static int send_echo(struct raw_pcb *pcb, struct ping *pg)
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
	err = raw_sendto(pcb, p, (ip_addr_t *)&pg->peer);
	pbuf_free(p);
	return err == ERR_OK ? 0 : -E_IO;
}

static void print_ms(const char *pre, uint64_t us)
{
	kprintf("%s%llu.%03llu", pre, (unsigned long long)(us / 1000),
		(unsigned long long)(us % 1000));
}

int cmd_ping(int argc, char **argv)
{
	struct ping pg = { 0 };
	struct raw_pcb *pcb;
	uint64_t count = 4, got = 0, min = ~0ULL, max = 0, sum = 0, until;
	uint32_t ip;

	if (argc < 1 || argc > 2 || !net_parse_ip4(argv[0], &ip) ||
	    (argc == 2 && (!parse_u64(argv[1], &count) || count == 0 || count > PING_MAX))) {
		kprintf("error: usage: ping <A.B.C.D> [count 1..%d]\n", PING_MAX);
		return -E_INVAL;
	}
	if (!net_ready())
		return -E_BUSY;
	pcb = raw_new(IP_PROTO_ICMP);
	if (!pcb) {
		kprintf("error: ping: out of lwIP PCBs\n");
		return -E_NOMEM;
	}
	ip4_addr_set_u32(&pg.peer, lwip_htonl(ip));
	raw_recv(pcb, on_recv, &pg);
	for (uint64_t i = 1; i <= count; i++) {
		pg.seq = (uint16_t)i;
		if (send_echo(pcb, &pg) < 0)
			kprintf("seq=%llu: cannot send\n", (unsigned long long)i);
		until = time_now_ms() + PING_TIMEOUT_MS;
		while (!pg.replied && time_now_ms() < until)
			net_wait_step();
		if (!pg.replied) {
			kprintf("seq=%llu: no reply within %d ms\n", (unsigned long long)i,
				PING_TIMEOUT_MS);
			continue;
		}
		got++;
		sum += pg.rtt_us;
		min = MIN(min, pg.rtt_us);
		max = MAX(max, pg.rtt_us);
		kprintf("reply from %s: seq=%llu", argv[0], (unsigned long long)i);
		print_ms(" time=", pg.rtt_us);
		kprintf(" ms\n");
		/* A short gap between requests, serving the network and guests meanwhile. */
		until = time_now_ms() + PING_GAP_MS;
		while (i < count && time_now_ms() < until)
			net_wait_step();
	}
	raw_remove(pcb);
	kprintf("ping: %llu sent, %llu received, %llu%% loss", (unsigned long long)count,
		(unsigned long long)got, (unsigned long long)((count - got) * 100 / count));
	if (got) {
		print_ms("; rtt min/avg/max ", min);
		print_ms("/", sum / got);
		print_ms("/", max);
		kprintf(" ms");
	}
	kprintf("\n");
	return got ? 0 : -E_IO;
}
