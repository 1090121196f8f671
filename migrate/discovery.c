/* Announcing this host on the LAN and listening for the others (UDP broadcast). */
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/load.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/udp.h"
#include "migrate/announce.h"
#include "migrate/discovery.h"
#include "net/net.h"

#define LOAD_WINDOW_S 10

static struct udp_pcb *pcb;
static struct peer peers[PEERS_MAX];
static uint64_t next_ms, malformed, received;
static uint32_t seq;
static uint16_t mig_port;

static uint32_t own_ip(void)
{
	return netif_default ? lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(netif_default))) : 0;
}

static void on_recv(void *arg, struct udp_pcb *upcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port)
{
	uint8_t buf[ANNOUNCE_LEN];
	struct announce a;
	uint32_t src = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(addr)));

	if (src != own_ip()) {
		if (p->tot_len == ANNOUNCE_LEN &&
		    pbuf_copy_partial(p, buf, ANNOUNCE_LEN, 0) == ANNOUNCE_LEN &&
		    announce_decode(buf, ANNOUNCE_LEN, src, &a)) {
			peers_heard(peers, &a, time_now_ms());
			received++;
		} else {
			malformed++;
		}
	}
	pbuf_free(p);
}

void discovery_init(uint16_t migrate_port)
{
	mig_port = migrate_port;
	pcb = udp_new();
	if (!pcb)
		return;
	if (udp_bind(pcb, IP_ADDR_ANY, ANNOUNCE_PORT) != ERR_OK) {
		udp_remove(pcb);
		pcb = NULL;
		return;
	}
	udp_recv(pcb, on_recv, NULL);
}

static void announce(void)
{
	struct announce a = {
		.ip = own_ip(),
		.port = mig_port,
		.load = (uint16_t)MIN(load_percent(time_now_us(), LOAD_WINDOW_S),
				      ANNOUNCE_LOAD_MAX),
		.vms = (uint16_t)vm_count(),
		.free_mib = (uint32_t)(pmm_stats().free / MIB),
		.seq = ++seq,
	};
	struct pbuf *p;

	if (!a.ip)
		return; /* no address yet */
	p = pbuf_alloc(PBUF_TRANSPORT, ANNOUNCE_LEN, PBUF_RAM);
	if (!p)
		return;
	announce_encode(&a, p->payload);
	udp_sendto(pcb, p, IP_ADDR_BROADCAST, ANNOUNCE_PORT);
	pbuf_free(p);
}

void discovery_poll(void)
{
	uint64_t now = time_now_ms();

	if (!pcb || now < next_ms)
		return;
	next_ms = now + ANNOUNCE_PERIOD_MS;
	announce();
	peers_expire(peers, now);
}

void discovery_note_link(uint32_t ip, uint64_t bytes_per_s, uint32_t rtt_ms)
{
	struct peer *p = peers_find(peers, ip);

	if (p) {
		p->link_bps = bytes_per_s;
		if (rtt_ms)
			p->rtt_ms = rtt_ms;
	}
}

const struct peer *discovery_peers(void)
{
	return peers;
}

int cmd_info_hosts(int argc, char **argv)
{
	uint64_t now = time_now_ms();

	kprintf("%-15s %6s %8s %4s %9s %6s %5s\n", "ip", "load-%", "free-MiB", "vms", "link-MB/s",
		"rtt-ms", "age-s");
	for (int i = 0; i < PEERS_MAX; i++) {
		const struct peer *p = &peers[i];
		uint32_t ip = p->a.ip;
		char addr[16], link[16], rtt[12];
		if (!p->used)
			continue;
		fmt_snprintf(addr, sizeof(addr), "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
			     (ip >> 8) & 0xff, ip & 0xff);
		if (p->link_bps)
			fmt_snprintf(link, sizeof(link), "%llu.%02llu",
				     (unsigned long long)(p->link_bps / 1000000),
				     (unsigned long long)(p->link_bps / 10000 % 100));
		else
			fmt_snprintf(link, sizeof(link), "-");
		if (p->rtt_ms)
			fmt_snprintf(rtt, sizeof(rtt), "%u", p->rtt_ms);
		else
			fmt_snprintf(rtt, sizeof(rtt), "-");
		kprintf("%-15s %6u %8u %4u %9s %6s %5llu\n", addr, p->a.load, p->a.free_mib, p->a.vms,
			link, rtt, (unsigned long long)((now - p->heard_ms) / 1000));
	}
	kprintf("announcements: %llu\nmalformed: %llu\nload: %u\n", (unsigned long long)received,
		(unsigned long long)malformed, load_percent(time_now_us(), LOAD_WINDOW_S));
	return 0;
}
