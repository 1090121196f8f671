/* migrate/stream.c over lwIP's real TCP, hosted: one stack in this process whose only
 * interface hands each packet it sends back to its own input on the next turn, a source
 * stream connected to a target stream on the same address, pages sent as fast as the stream
 * takes them and read slowly at the other end. What the target holds of the sender's bytes
 * must stay within the TCP window it advertised (lwIP counts a pbuf chain in 16 bits: a
 * queue past 64 KiB wraps its length and loses records), and every page must arrive once, in
 * order, intact; with the cluster key (TLS records) and without (plain frames). Then the
 * same with lwIP out of segments now and then, so that a sealed record waits in the session
 * (held) and must leave first, whole, on a later turn. */
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#undef BYTE_ORDER /* lwIP's port says LITTLE_ENDIAN, the C library __BYTE_ORDER: the same */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv/error.h"
#include "migrate/cluster.h"
#include "migrate/stream.c"
#include "tests/unit/stubs.h"

static uint64_t now_ms;

u32_t sys_now(void)
{
	return (u32_t)now_ms;
}

uint64_t time_now_ms(void)
{
	return now_ms;
}

unsigned int net_rand(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ull;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (unsigned int)(s >> 16);
}

/* --- the wire: packets sent wait here for the next turn, then enter the same stack --------- */
#define WIRE_SLOTS 4096
static struct pbuf *queued[WIRE_SLOTS];
static size_t nr_queued;
static struct netif nif;

static err_t loop_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
	struct pbuf *q = pbuf_alloc(PBUF_RAW, p->tot_len, PBUF_RAM);

	assert_non_null(q);
	assert_int_equal(pbuf_copy(q, p), ERR_OK);
	assert_true(nr_queued < WIRE_SLOTS);
	queued[nr_queued++] = q;
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->output = loop_output;
	n->mtu = 1500;
	n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

static void wire_turn(void)
{
	struct pbuf *now[WIRE_SLOTS];
	size_t n = nr_queued;

	memcpy(now, queued, n * sizeof(now[0]));
	nr_queued = 0;
	for (size_t i = 0; i < n; i++)
		if (nif.input(now[i], &nif) != ERR_OK)
			pbuf_free(now[i]);
	now_ms++;
	sys_check_timeouts();
}

/* --- the two ends ----------------------------------------------------------------------- */
static uint16_t port = 7770; /* one per run: an earlier run's may linger */
static struct mstream src, dst;
static struct tcp_pcb *listener;

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	assert_int_equal(err, ERR_OK);
	assert_false(dst.pcb != NULL);
	mstream_accept(&dst, pcb);
	return ERR_OK;
}

/* The bytes of the sender's the target holds in lwIP's pbufs, counted pbuf by pbuf (tot_len
 * is what wraps). */
static size_t held_rx(void)
{
	size_t n = 0;

	for (struct pbuf *p = dst.rx; p; p = p->next)
		n += p->len;
	return n;
}

static void page_fill(uint8_t *page, uint32_t seq)
{
	for (size_t i = 0; i < WIRE_PAGE; i += 4)
		memcpy(page + i, &(uint32_t){ seq * 2654435761u + (uint32_t)i }, 4);
}

/* Takes every free TCP segment from lwIP's pool (so tcp_write fails as on a host short of
 * memory); gives them back with starve(false). */
static void starve(bool on)
{
	static void *segs[4 * MEMP_NUM_TCP_SEG];
	static size_t n;

	while (on && n < sizeof(segs) / sizeof(segs[0]) && (segs[n] = memp_malloc(MEMP_TCP_SEG)))
		n++;
	while (!on && n)
		memp_free(MEMP_TCP_SEG, segs[--n]);
}

static void stream_pages(enum cluster_mode mode, uint32_t pages, int read_every,
			 uint32_t starve_every)
{
	static uint8_t page[WIRE_PAGE], want[WIRE_PAGE];
	struct cluster_cfg c = { 0 };
	uint32_t sent = 0, got = 0, held = 0, starved = UINT32_MAX;
	struct tcp_pcb *pcb;
	size_t most_held = 0;
	ip4_addr_t a;
	char err[96];

	c.mode = mode;
	if (mode == CLUSTER_KEYED)
		assert_int_equal(tls_key_parse(&c.key, "000102030405060708090a0b0c0d0e0f"
						   "101112131415161718191a1b1c1d1e1f"), 0);
	cluster_use(&c);
	/* an earlier scenario that failed half-way leaves its connection behind */
	if (src.pcb)
		mstream_abort(&src, "left");
	if (dst.pcb)
		mstream_abort(&dst, "left");
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	pcb = tcp_new();
	assert_int_equal(tcp_bind(pcb, IP_ADDR_ANY, ++port), ERR_OK);
	listener = tcp_listen(pcb);
	assert_non_null(listener);
	tcp_accept(listener, on_accept);
	IP4_ADDR(&a, 10, 0, 0, 1);
	assert_int_equal(mstream_connect(&src, lwip_ntohl(a.addr), port), 0);

	for (long turn = 0; got < pages; turn++) {
		struct msg m;

		assert_true(turn < 50L * pages + 100000); /* no stall */
		wire_turn();
		/* the source sends whenever the stream has room */
		while (sent < pages && mstream_ready(&src)) {
			struct msg out = { .type = MSG_PAGE };
			/* once a page: a plain stream's refused send comes back to it */
			bool short_now = starve_every && sent % starve_every == 0 && sent != starved;
			int r;

			page_fill(page, sent);
			out.u.page.gpa = (uint64_t)sent * WIRE_PAGE;
			out.u.page.data = page;
			if (short_now)
				starved = sent;
			starve(short_now);
			r = mstream_send(&src, &out);
			held += src.held;
			starve(false);
			if (r == -E_BUSY)
				break;
			assert_int_equal(r, 0);
			sent++;
		}
		/* its replies (none) are read so that its handshake advances */
		if (mstream_recv(&src, 1ull << 40, &m, err, sizeof(err)) != 0 || src.closed)
			fail_msg("the source's stream ended: %s %s", src.error, err);
		/* the target reads one message every read_every turns, and drives its handshake */
		if (turn % read_every && !(dst.tls && !dst.secure))
			continue;
		if (!dst.pcb && !dst.closed)
			continue;
		int r = mstream_recv(&dst, 1ull << 40, &m, err, sizeof(err));

		if (dst.closed || r < 0)
			fail_msg("the target's stream ended (%d) at page %u of %u sent: %s %s", r, got,
				 sent, dst.error, err);
		size_t in_pbufs = held_rx();

		most_held = MAX(most_held, in_pbufs);
		assert_true(in_pbufs <= TCP_WND);
		if (r == 0)
			continue;
		assert_int_equal(m.type, MSG_PAGE);
		assert_int_equal(m.u.page.gpa, (uint64_t)got * WIRE_PAGE);
		page_fill(want, got);
		assert_memory_equal(m.u.page.data, want, WIRE_PAGE);
		got++;
	}
	printf("%s: %u pages, the target held at most %zu bytes in pbufs (window %u); "
	       "%u sends left a sealed record held\n", mode == CLUSTER_KEYED ? "tls" : "plain", pages,
	       most_held, TCP_WND, held);
	/* the starved sends must have met lwIP's refusal, or the held path went untested */
	if (starve_every && mode == CLUSTER_KEYED)
		assert_true(held > 0);
	/* a slow reader must have met the window, or the test proved nothing */
	if (mode == CLUSTER_KEYED)
		assert_true(most_held > TCP_WND / 2);
	mstream_close(&src);
	mstream_close(&dst);
	tcp_close(listener);
	for (int i = 0; i < 100; i++)
		wire_turn();
}

static void test_tls_slow_reader(void **state)
{
	stream_pages(CLUSTER_KEYED, 3000, 3, 0);
}

static void test_plain_slow_reader(void **state)
{
	stream_pages(CLUSTER_INSECURE, 3000, 3, 0);
}

static void test_tls_short_of_segments(void **state)
{
	stream_pages(CLUSTER_KEYED, 3000, 2, 7);
}

static void test_plain_short_of_segments(void **state)
{
	stream_pages(CLUSTER_INSECURE, 3000, 2, 7);
}

static unsigned char arena[512 * 1024] __attribute__((aligned(16)));

static int setup(void **state)
{
	ip4_addr_t a, mask, gw;

	lwip_init();
	IP4_ADDR(&a, 10, 0, 0, 1);
	IP4_ADDR(&mask, 255, 255, 255, 0);
	IP4_ADDR(&gw, 0, 0, 0, 0);
	if (!netif_add(&nif, &a, &mask, &gw, NULL, nif_init, ip_input))
		return -1;
	netif_set_default(&nif);
	netif_set_up(&nif);
	return tls_init(arena, sizeof(arena));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_slow_reader),
		cmocka_unit_test(test_plain_slow_reader),
		cmocka_unit_test(test_tls_short_of_segments),
		cmocka_unit_test(test_plain_short_of_segments),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
