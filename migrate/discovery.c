/* Announcing this host on the LAN and listening for the others (UDP broadcast). */
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "hv/wallclock.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/ip4.h"
#include "lwip/raw.h"
#include "lwip/udp.h"
#include "migrate/announce.h"
#include "migrate/autopolicy.h"
#include "migrate/cluster.h"
#include "migrate/discovery.h"
#include "migrate/migrate.h"
#include "net/addr.h"
#include "net/net.h"
#include "net/ping.h"

/* Round trips: an ICMP echo to each peer when it is first heard (again every
 * announcement period until one is answered), then every RTT_EVERY_MS: a 60-byte packet
 * each way, a peer, every 10 s. The reply is timed with tern's TSC, so the figure
 * includes the wait for tern's loop at both ends (up to a guest slice each): the latency
 * tern's own messages see, which is what the pre-copy model needs. */
#define RTT_ID 0x7e28 /* not ping's 0x7e27: both PCBs see every echo reply */
#define RTT_EVERY_MS 10000
#define RTT_DATA 32

static struct udp_pcb *pcb;
static struct raw_pcb *echo_pcb;
static struct peer peers[PEERS_MAX];
static uint64_t next_ms, probes, answers, stray, announced, counter, answered;
static uint32_t seq;
static struct announce_auth auth; /* what was heard, and each sender's last counter */
static struct tls_key disc_key;   /* the cluster key's for discovery (TLS_LABEL_DISCOVERY) */
static struct announce last; /* what this host said of itself last */
static uint16_t mig_port, echo_seq;

static uint32_t own_ip(void)
{
	return netif_default ? lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(netif_default))) : 0;
}

static void send_to(uint32_t ip, const uint8_t *buf, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	ip4_addr_t to;

	if (!p)
		return;
	memcpy(p->payload, buf, len);
	ip4_addr_set_u32(&to, lwip_htonl(ip));
	udp_sendto(pcb, p, (ip_addr_t *)&to, ANNOUNCE_PORT);
	pbuf_free(p);
}

/* A sender heard for the first time since this host booted: asked to prove it holds the
 * key now (announce_challenge), at most once an announcement period. */
static void challenge(uint32_t ip, uint64_t now)
{
	uint8_t nonce[ANNOUNCE_NONCE_LEN], q[ANNOUNCE_CHALLENGE_LEN];

	if (tls_random(nonce, sizeof(nonce)) == 0 &&
	    announce_challenge(&auth, ip, now, nonce, q))
		send_to(ip, q, sizeof(q));
}

/* Anyone may ask, so the answers are few a period: a forged source address cannot turn
 * this host into a stream of frames at another. */
#define ANSWERS_PER_PERIOD 16

static void answer(const uint8_t *buf, size_t len, uint32_t to, uint64_t now)
{
	static uint64_t period_ms;
	static unsigned in_period;
	uint8_t r[ANNOUNCE_ANSWER_LEN];
	size_t n;

	if (now - period_ms >= ANNOUNCE_PERIOD_MS) {
		period_ms = now;
		in_period = 0;
	}
	if (in_period >= ANSWERS_PER_PERIOD)
		return;
	n = announce_answer(buf, len, own_ip(), auth.key, r);
	if (n) {
		in_period++;
		answered++;
		send_to(to, r, n);
	}
}

/* Whatever comes in is judged and counted (announce_open, announce_proof); only a good
 * announcement from a proven sender is heard. */
static void on_recv(void *arg, struct udp_pcb *upcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port)
{
	uint8_t buf[ANNOUNCE_LEN];
	struct announce a;
	enum announce_verdict v;
	uint32_t src = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(addr)));
	uint64_t now = time_now_ms();
	size_t len = p->tot_len;
	/* a longer one is refused on its length alone, so its first bytes are enough */
	bool whole = pbuf_copy_partial(p, buf, MIN(len, sizeof(buf)), 0) == MIN(len, sizeof(buf));

	pbuf_free(p);
	if (src == own_ip() || !whole)
		return;
	switch (announce_kind(buf, len)) {
	case ANNOUNCE_KIND_CHALLENGE:
		answer(buf, len, src, now);
		break;
	case ANNOUNCE_KIND_ANSWER:
		announce_proof(&auth, buf, len, src);
		break;
	default:
		v = announce_open(&auth, buf, len, src, now, &a);
		if (v == ANNOUNCE_OK)
			peers_heard(peers, &a, now);
		else if (v == ANNOUNCE_UNPROVEN)
			challenge(src, now);
	}
}

/* An echo reply with our id, checked like any network input: it must answer the probe
 * in flight to the peer it came from, else it is counted as stray and ignored. Returns
 * 1 (eaten) only for replies with our id; anything else goes on to ping and lwIP. */
static u8_t on_echo(void *arg, struct raw_pcb *rpcb, struct pbuf *p, const ip_addr_t *from)
{
	struct icmp_echo_hdr h;
	struct peer *peer;

	if (!net_echo_reply(p, RTT_ID, &h))
		return 0;
	peer = peers_find(peers, lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(from))));
	if (peer && peer->probe_seq && h.seqno == lwip_htons(peer->probe_seq)) {
		uint64_t us = time_now_us() - peer->probe_sent_us;

		peer_rtt_sample(peer, (uint32_t)MIN(us, UINT32_MAX));
		peer->probe_seq = 0;
		answers++;
	} else {
		stray++; /* late (a newer probe is in flight), duplicated, or forged */
	}
	pbuf_free(p);
	return 1;
}

static void probe(struct peer *peer, uint64_t now)
{
	struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + RTT_DATA, PBUF_RAM);
	struct icmp_echo_hdr *h;
	ip4_addr_t to;

	peer->next_probe_ms = now + (peer->rtt_us ? RTT_EVERY_MS : ANNOUNCE_PERIOD_MS);
	if (!p)
		return;
	if (!++echo_seq)
		echo_seq = 1; /* 0 means none in flight */
	h = p->payload;
	memset(h, 0, p->len);
	h->type = ICMP_ECHO;
	h->id = lwip_htons(RTT_ID);
	h->seqno = lwip_htons(echo_seq);
	h->chksum = inet_chksum(h, p->len);
	ip4_addr_set_u32(&to, lwip_htonl(peer->a.ip));
	peer->probe_seq = echo_seq;
	peer->probe_sent_us = time_now_us();
	if (raw_sendto(echo_pcb, p, (ip_addr_t *)&to) == ERR_OK)
		probes++;
	pbuf_free(p);
}

void discovery_init(uint16_t migrate_port)
{
	mig_port = migrate_port;
	if (cluster_key()) {
		if (tls_key_derive(cluster_key(), TLS_LABEL_DISCOVERY, &disc_key) < 0) {
			kprintf("discovery: cannot derive its key; off\n");
			return;
		}
		auth.key = &disc_key;
	}
	echo_pcb = raw_new(IP_PROTO_ICMP);
	if (echo_pcb)
		raw_recv(echo_pcb, on_echo, NULL);
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

/* The load and the balance rule's settings are the policy's own (the load over its
 * load-window), so that a peer judges a move from what this host judges it by. */
static void announce(void)
{
	struct policy_end e;
	struct announce a = {
		.ip = own_ip(),
		.port = mig_port,
		.vms = (uint16_t)vm_count(),
		.free_mib = (uint32_t)(pmm_stats().free / MIB),
		.seq = ++seq,
	};
	struct pbuf *p;
	uint8_t buf[ANNOUNCE_LEN];
	size_t len;

	autopolicy_end(&e);
	a.load = (uint16_t)MIN(e.load_pct, ANNOUNCE_LOAD_MAX);
	a.load_high = (uint16_t)MIN(e.load_high, ANNOUNCE_LOAD_MAX);
	a.margin = (uint16_t)MIN(e.margin_pct, ANNOUNCE_LOAD_MAX);
	a.capacity = (uint16_t)MIN(e.capacity_pct, ANNOUNCE_LOAD_MAX);
	a.flags = mig_recv_busy() ? ANNOUNCE_RECEIVING : 0;

	if (!a.ip)
		return; /* no address yet */
	counter = announce_next_counter(counter, wallclock_now());
	len = announce_seal(&a, counter, auth.key, buf);
	p = len ? pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM) : NULL;
	if (!p)
		return;
	memcpy(p->payload, buf, len);
	if (udp_sendto(pcb, p, IP_ADDR_BROADCAST, ANNOUNCE_PORT) == ERR_OK) {
		last = a;
		announced++;
	}
	pbuf_free(p);
}

void discovery_announce_now(void)
{
	if (pcb)
		announce();
}

const struct announce *discovery_self(void)
{
	return &last;
}

void discovery_poll(void)
{
	uint64_t now = time_now_ms();

	if (!pcb || now < next_ms)
		return;
	next_ms = now + ANNOUNCE_PERIOD_MS;
	announce();
	peers_expire(peers, now);
	for (int i = 0; echo_pcb && i < PEERS_MAX; i++)
		if (peers[i].used && now >= peers[i].next_probe_ms)
			probe(&peers[i], now);
}

void discovery_note_link(uint32_t ip, uint64_t bytes_per_s)
{
	struct peer *p = peers_find(peers, ip);

	if (p)
		p->link_bps = bytes_per_s;
}

const struct peer *discovery_peers(void)
{
	return peers;
}

/* What was heard and what became of it; rejected: unsigned, forged and replayed together. */
static void print_counts(void)
{
	const uint64_t *n = auth.count;

	if (!pcb)
		kprintf("discovery: off%s\n",
			cluster_mode() == CLUSTER_NONE ? " (" CLUSTER_NO_KEY ")" : "");
	kprintf("announced: %llu\n", (unsigned long long)announced);
	kprintf("announcements: %llu\nmalformed: %llu\n", (unsigned long long)n[ANNOUNCE_OK],
		(unsigned long long)n[ANNOUNCE_MALFORMED]);
	kprintf("rejected: %llu\n", (unsigned long long)(n[ANNOUNCE_UNSIGNED] +
		n[ANNOUNCE_FORGED] + n[ANNOUNCE_REPLAYED]));
	kprintf("rejected-unsigned: %llu\nrejected-forged: %llu\nrejected-replayed: %llu\n",
		(unsigned long long)n[ANNOUNCE_UNSIGNED], (unsigned long long)n[ANNOUNCE_FORGED],
		(unsigned long long)n[ANNOUNCE_REPLAYED]);
	kprintf("held-unproven: %llu\nchallenges: %llu\nchallenges-answered: %llu\n"
		"answers-refused: %llu\nanswered: %llu\n",
		(unsigned long long)n[ANNOUNCE_UNPROVEN], (unsigned long long)auth.challenges,
		(unsigned long long)auth.proofs, (unsigned long long)auth.bad_answers,
		(unsigned long long)answered);
}

int cmd_info_hosts(int argc, char **argv)
{
	uint64_t now = time_now_ms();

	kprintf("%-15s %6s %8s %4s %9s %6s %5s %6s %6s %5s\n", "ip", "load-%", "free-MiB", "vms",
		"link-MB/s", "rtt-ms", "age-s", "high-%", "margin", "cap-%");
	for (int i = 0; i < PEERS_MAX; i++) {
		const struct peer *p = &peers[i];
		uint32_t ip = p->a.ip;
		char addr[16], link[16], rtt[16];
		if (!p->used)
			continue;
		net_format_ip4(addr, sizeof(addr), ip);
		if (p->link_bps)
			fmt_snprintf(link, sizeof(link), "%llu.%02llu",
				     (unsigned long long)(p->link_bps / 1000000),
				     (unsigned long long)(p->link_bps / 10000 % 100));
		else
			fmt_snprintf(link, sizeof(link), "-");
		if (p->rtt_us)
			fmt_snprintf(rtt, sizeof(rtt), "%u.%u", p->rtt_us / 1000,
				     p->rtt_us / 100 % 10);
		else
			fmt_snprintf(rtt, sizeof(rtt), "-");
		kprintf("%-15s %6u %8u %4u %9s %6s %5llu %6u %6u %5u\n", addr, p->a.load,
			p->a.free_mib, p->a.vms, link, rtt,
			(unsigned long long)((now - p->heard_ms) / 1000), p->a.load_high, p->a.margin,
			p->a.capacity);
	}
	print_counts();
	kprintf("load: %u\n", last.load);
	kprintf("rtt-probes: %llu\nrtt-answers: %llu\nrtt-stray: %llu\n",
		(unsigned long long)probes, (unsigned long long)answers,
		(unsigned long long)stray);
	return 0;
}
