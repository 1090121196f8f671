/* The glue between the NIC driver and lwIP: a netif, the command line's addresses,
 * the poll from tern's loop, and `info net`. */
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "net/addr.h"
#include "net/net.h"
#include "net/nic.h"

#define RX_BUDGET 64       /* frames per poll: bounded so guests and the monitor run on */
#define LINK_CHECK_MS 100

static struct nic nic;
static struct netif netif;
static bool have_nic, dhcp;
static uint64_t next_link_check;

static err_t linkoutput(struct netif *n, struct pbuf *p)
{
	return nic.ops->send(&nic, p) == 0 ? ERR_OK : ERR_IF;
}

static err_t netif_setup(struct netif *n)
{
	n->name[0] = 'e';
	n->name[1] = 'n';
	n->output = etharp_output;
	n->linkoutput = linkoutput;
	n->mtu = 1500;
	n->hwaddr_len = 6;
	for (int i = 0; i < 6; i++)
		n->hwaddr[i] = nic.mac[i];
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	return ERR_OK;
}

/* Copies a received frame into a pbuf from lwIP's pool: the driver's buffer goes back
 * to the NIC at once, and lwIP may hold the pbuf (out-of-order TCP segments). */
static void rx(struct nic *n, const void *frame, uint32_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);

	if (!p) {
		n->stats.rx_dropped++;
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	n->stats.rx_packets++;
	if (netif.input(p, &netif) != ERR_OK)
		pbuf_free(p);
}

static void check_link(void)
{
	bool up = nic.ops->link_up(&nic);

	if (up == netif_is_link_up(&netif))
		return;
	/* Link up sends a gratuitous ARP (lwIP's netif_issue_reports): a hub that learns
	 * ports from broadcasts (bxhub) needs it before it forwards to us. */
	if (up)
		netif_set_link_up(&netif);
	else
		netif_set_link_down(&netif);
	mon_event("net: link %s", up ? "up" : "down");
}

static void print_ip(const char *what, uint32_t ip)
{
	kprintf("%s%u.%u.%u.%u", what, ip >> 24, ip >> 16 & 255, ip >> 8 & 255, ip & 255);
}

static unsigned prefix_len(uint32_t mask)
{
	unsigned n = 0;

	while (n < 32 && (mask & (1u << (31 - n))))
		n++;
	return n;
}

static const struct pci_dev *find_nic(const uint8_t *mac)
{
	const struct pci_dev *d;
	size_t n = pci_scan(&d);

	for (size_t i = 0; i < n; i++) {
		if (e1000_attach(&nic, &d[i], mac) == 0)
			return &d[i];
	}
	return NULL;
}

/* Reads the addresses; false (said why) when a word is malformed. */
static bool read_config(const char *cmdline, ip4_addr_t *ip, ip4_addr_t *mask, ip4_addr_t *gw,
			uint8_t *mac, bool *have_mac)
{
	char val[64];
	uint32_t a = 0, g = 0;
	unsigned prefix = 0;

	*have_mac = cmdline_get(cmdline, "mac", val, sizeof(val));
	if (*have_mac && !net_parse_mac(val, mac)) {
		kprintf("net: mac=%s is not a unicast aa:bb:cc:dd:ee:ff address\n", val);
		return false;
	}
	if (cmdline_get(cmdline, "ip", val, sizeof(val))) {
		if (strcmp(val, "dhcp") == 0)
			dhcp = true;
		else if (!net_parse_cidr(val, &a, &prefix)) {
			kprintf("net: ip=%s is not A.B.C.D/N or dhcp\n", val);
			return false;
		}
	}
	if (cmdline_get(cmdline, "gw", val, sizeof(val)) && !net_parse_ip4(val, &g)) {
		kprintf("net: gw=%s is not A.B.C.D\n", val);
		return false;
	}
	ip4_addr_set_u32(ip, lwip_htonl(a));
	ip4_addr_set_u32(mask, lwip_htonl(net_prefix_mask(prefix)));
	ip4_addr_set_u32(gw, lwip_htonl(g));
	return true;
}

void net_init(const char *cmdline)
{
	ip4_addr_t ip, mask, gw;
	uint8_t mac[6];
	bool have_mac;
	const struct pci_dev *d;

	if (!read_config(cmdline, &ip, &mask, &gw, mac, &have_mac)) {
		kprintf("net: running without network\n");
		return;
	}
	d = find_nic(have_mac ? mac : NULL);
	if (!d) {
		kprintf("net: no NIC found; running without network\n");
		return;
	}
	lwip_init();
	netif_add(&netif, &ip, &mask, &gw, NULL, netif_setup, ethernet_input);
	netif_set_default(&netif);
	netif_set_up(&netif);
	have_nic = true;
	kprintf("net: %s at %02x:%02x.%x, mac %02x:%02x:%02x:%02x:%02x:%02x", nic.model,
		d->bus, d->dev, d->fn, nic.mac[0], nic.mac[1], nic.mac[2], nic.mac[3],
		nic.mac[4], nic.mac[5]);
	if (dhcp)
		kprintf(", ip by DHCP");
	else if (ip4_addr_get_u32(&ip))
		print_ip(", ip ", lwip_ntohl(ip4_addr_get_u32(&ip)));
	else
		kprintf(", no address (give ip=A.B.C.D/N or ip=dhcp)");
	kprintf(", link %s\n", nic.ops->link_up(&nic) ? "up" : "down (running on)");
	if (nic.ops->link_up(&nic))
		netif_set_link_up(&netif);
	if (dhcp)
		dhcp_start(&netif);
	if (netperf_listen() < 0)
		kprintf("net: cannot serve netperf on port %d\n", NET_NETPERF_PORT);
	next_link_check = time_now_ms() + LINK_CHECK_MS;
}

#define ACTIVE_MS 10
static uint64_t last_rx_ms;

void net_poll(void)
{
	if (!have_nic)
		return;
	if (nic.ops->poll(&nic, rx, RX_BUDGET))
		last_rx_ms = time_now_ms();
	if (time_now_ms() >= next_link_check) {
		check_link();
		next_link_check = time_now_ms() + LINK_CHECK_MS;
	}
	sys_check_timeouts();
	ping_poll();
	netperf_cmd_poll();
}

bool net_active(void)
{
	return have_nic && time_now_ms() - last_rx_ms < ACTIVE_MS;
}

uint64_t net_frames(void)
{
	return nic.stats.rx_packets + nic.stats.tx_packets;
}

bool net_has_nic(void)
{
	return have_nic;
}

bool net_ready(void)
{
	if (!have_nic) {
		kprintf("error: no network (no NIC)\n");
		return false;
	}
	if (!netif_is_link_up(&netif)) {
		kprintf("error: no network (link down)\n");
		return false;
	}
	if (ip4_addr_isany_val(*netif_ip4_addr(&netif))) {
		kprintf("error: no network (no IP address%s)\n", dhcp ? " yet from DHCP" : "");
		return false;
	}
	return true;
}

int cmd_info_net(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (!have_nic) {
		kprintf("nic: none\n");
		return 0;
	}
	kprintf("nic: %s\n", nic.model);
	kprintf("mac: %02x:%02x:%02x:%02x:%02x:%02x\n", nic.mac[0], nic.mac[1], nic.mac[2],
		nic.mac[3], nic.mac[4], nic.mac[5]);
	print_ip("ip: ", lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&netif))));
	kprintf("/%u\n", prefix_len(lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&netif)))));
	print_ip("gw: ", lwip_ntohl(ip4_addr_get_u32(netif_ip4_gw(&netif))));
	kprintf("\nconfig: %s\n", dhcp ? "dhcp" : "static");
	kprintf("link: %s\n", netif_is_link_up(&netif) ? "up" : "down");
	kprintf("rx-packets: %llu\n", (unsigned long long)nic.stats.rx_packets);
	kprintf("tx-packets: %llu\n", (unsigned long long)nic.stats.tx_packets);
	kprintf("rx-dropped: %llu\n", (unsigned long long)nic.stats.rx_dropped);
	kprintf("tx-errors: %llu\n", (unsigned long long)nic.stats.tx_errors);
	return 0;
}
