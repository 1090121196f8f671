/* The e1000 ring bookkeeping, with the test playing the NIC (it sets DD, lengths,
 * errors as the hardware would), and the network address parsers. */
#include <string.h>
#include "hv/error.h"
#include "net/addr.h"
#include "net/e1000_ring.h"
#include "tests/unit/stubs.h"

#define N 8

static struct e1000_tx_desc txd[N];
static struct e1000_rx_desc rxd[N];
static struct e1000_ring r;

static void nic_completes(uint32_t upto) /* the NIC sends [clean, upto) */
{
	for (uint32_t i = r.clean; i != upto; i = (i + 1) % N)
		txd[i].status |= E1000_TXD_DD;
}

static void test_tx_fill_and_full(void **state)
{
	memset(txd, 0, sizeof(txd));
	e1000_ring_init(&r, N);
	assert_int_equal(e1000_tx_space(&r), N - 1);
	for (int i = 0; i < N - 1; i++) {
		assert_int_equal(e1000_tx_post(&r, txd, 0x1000 * (i + 1), 60 + i), i);
		assert_int_equal(txd[i].length, 60 + i);
		assert_int_equal(txd[i].addr, 0x1000 * (i + 1));
		assert_int_equal(txd[i].cmd, E1000_TXD_EOP | E1000_TXD_IFCS | E1000_TXD_RS);
	}
	/* One slot stays empty: tail == head would mean empty to the NIC. */
	assert_int_equal(e1000_tx_space(&r), 0);
	assert_int_equal(e1000_tx_post(&r, txd, 0x9000, 60), -E_BUSY);
	assert_int_equal(r.next, N - 1);
	assert_int_equal(e1000_tx_reclaim(&r, txd), 0); /* nothing done yet */
	nic_completes(3);
	assert_int_equal(e1000_tx_reclaim(&r, txd), 3);
	assert_int_equal(e1000_tx_space(&r), 3);
	assert_int_equal(txd[0].status, 0);
}

static void test_tx_wraps(void **state)
{
	memset(txd, 0, sizeof(txd));
	e1000_ring_init(&r, N);
	for (int round = 0; round < 5 * N; round++) {
		int slot = e1000_tx_post(&r, txd, 0x2000, 100);

		assert_int_equal(slot, round % N);
		assert_int_equal(e1000_tx_in_flight(&r), 1);
		nic_completes(r.next);
		assert_int_equal(e1000_tx_reclaim(&r, txd), 1);
		assert_int_equal(e1000_tx_in_flight(&r), 0);
	}
}

static void test_tx_reclaim_stops_at_first_unfinished(void **state)
{
	memset(txd, 0, sizeof(txd));
	e1000_ring_init(&r, N);
	for (int i = 0; i < 4; i++)
		e1000_tx_post(&r, txd, 0x3000, 64);
	txd[0].status = E1000_TXD_DD;
	txd[2].status = E1000_TXD_DD; /* out of order: must wait for 1 */
	assert_int_equal(e1000_tx_reclaim(&r, txd), 1);
	assert_int_equal(r.clean, 1);
	/* A DD left over in a free slot (past next) is never taken. */
	txd[1].status = txd[3].status = E1000_TXD_DD;
	txd[5].status = E1000_TXD_DD;
	assert_int_equal(e1000_tx_reclaim(&r, txd), 3);
	assert_int_equal(r.clean, r.next);
}

static void test_tx_bad_lengths(void **state)
{
	e1000_ring_init(&r, N);
	assert_int_equal(e1000_tx_post(&r, txd, 0x1000, 0), -E_INVAL);
	assert_int_equal(e1000_tx_post(&r, txd, 0x1000, E1000_FRAME_MAX + 1), -E_INVAL);
	assert_int_equal(e1000_tx_post(&r, txd, 0x1000, E1000_FRAME_MAX), 0);
	assert_int_equal(r.next, 1);
}

static void nic_receives(uint32_t i, uint16_t len, uint8_t status, uint8_t errors)
{
	rxd[i].length = len;
	rxd[i].errors = errors;
	rxd[i].status = status;
}

static void test_rx_frames_and_release(void **state)
{
	uint32_t slot, len;

	memset(rxd, 0, sizeof(rxd));
	e1000_ring_init(&r, N);
	assert_int_equal(e1000_rx_next(&r, rxd, &slot, &len), E1000_RX_EMPTY);
	for (int round = 0; round < 3 * N; round++) {
		uint32_t i = round % N;

		nic_receives(i, 60 + round, E1000_RXD_DD | E1000_RXD_EOP, 0);
		assert_int_equal(e1000_rx_next(&r, rxd, &slot, &len), E1000_RX_FRAME);
		assert_int_equal(slot, i);
		assert_int_equal(len, 60 + round);
		assert_int_equal(e1000_rx_next(&r, rxd, &slot, &len), E1000_RX_EMPTY);
		/* The consumed slot becomes the tail: the NIC owns everything before it. */
		assert_int_equal(e1000_rx_release(&r, rxd, i), i);
		assert_int_equal(rxd[i].status, 0);
	}
}

static void test_rx_drops(void **state)
{
	uint32_t slot, len;

	memset(rxd, 0, sizeof(rxd));
	e1000_ring_init(&r, N);
	nic_receives(0, 64, E1000_RXD_DD | E1000_RXD_EOP, 0x01); /* CRC error */
	nic_receives(1, 13, E1000_RXD_DD | E1000_RXD_EOP, 0);    /* runt */
	nic_receives(2, 1519, E1000_RXD_DD | E1000_RXD_EOP, 0);  /* giant */
	nic_receives(3, 2048, E1000_RXD_DD, 0);                  /* spans buffers... */
	nic_receives(4, 2048, E1000_RXD_DD, 0);
	nic_receives(5, 100, E1000_RXD_DD | E1000_RXD_EOP, 0);  /* ...to here */
	nic_receives(6, 14, E1000_RXD_DD | E1000_RXD_EOP, 0);   /* the next good one */
	for (uint32_t i = 0; i < 6; i++) {
		assert_int_equal(e1000_rx_next(&r, rxd, &slot, &len), E1000_RX_DROP);
		assert_int_equal(slot, i);
		e1000_rx_release(&r, rxd, slot);
	}
	assert_false(r.discard);
	assert_int_equal(e1000_rx_next(&r, rxd, &slot, &len), E1000_RX_FRAME);
	assert_int_equal(slot, 6);
	assert_int_equal(len, 14);
}

static void test_parse_ip(void **state)
{
	uint32_t ip;
	unsigned prefix;
	uint8_t mac[6];

	assert_true(net_parse_ip4("10.0.0.1", &ip));
	assert_int_equal(ip, 0x0a000001);
	assert_true(net_parse_ip4("255.255.255.255", &ip));
	assert_int_equal(ip, 0xffffffff);
	assert_true(net_parse_ip4("0.0.0.0", &ip));
	/* and back to text */
	char text[16];
	net_format_ip4(text, sizeof(text), 0xffffffff);
	assert_string_equal(text, "255.255.255.255");
	net_format_ip4(text, sizeof(text), 0x0a000102);
	assert_string_equal(text, "10.0.1.2");
	const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "01.2.3.4",
			      "1..2.3", "a.b.c.d", "1.2.3.-4", "1.2.3.4/24", "1234.1.1.1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(net_parse_ip4(bad[i], &ip));
	assert_false(net_parse_ip4(NULL, &ip));
	assert_true(net_parse_cidr("192.168.1.7/16", &ip, &prefix));
	assert_int_equal(ip, 0xc0a80107);
	assert_int_equal(prefix, 16);
	assert_true(net_parse_cidr("10.0.0.3", &ip, &prefix));
	assert_int_equal(prefix, 24);
	assert_true(net_parse_cidr("10.0.0.3/0", &ip, &prefix));
	assert_int_equal(prefix, 0);
	assert_false(net_parse_cidr("10.0.0.3/33", &ip, &prefix));
	assert_false(net_parse_cidr("10.0.0.3/", &ip, &prefix));
	assert_false(net_parse_cidr("10.0.0.3/2x", &ip, &prefix));
	assert_int_equal(net_prefix_mask(24), 0xffffff00);
	assert_int_equal(net_prefix_mask(0), 0);
	assert_int_equal(net_prefix_mask(32), 0xffffffff);
	assert_int_equal(net_prefix_mask(1), 0x80000000);
	assert_true(net_parse_mac("52:54:00:Ab:cD:0f", mac));
	assert_int_equal(mac[3], 0xab);
	assert_int_equal(mac[5], 0x0f);
	assert_false(net_parse_mac("01:00:5e:00:00:01", mac)); /* multicast */
	assert_false(net_parse_mac("52:54:00:00:00", mac));
	assert_false(net_parse_mac("52:54:00:00:00:01:", mac));
	assert_false(net_parse_mac("52-54-00-00-00-01", mac));
	assert_false(net_parse_mac("52:54:00:00:00:0g", mac));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_fill_and_full),
		cmocka_unit_test(test_tx_wraps),
		cmocka_unit_test(test_tx_reclaim_stops_at_first_unfinished),
		cmocka_unit_test(test_tx_bad_lengths),
		cmocka_unit_test(test_rx_frames_and_release),
		cmocka_unit_test(test_rx_drops),
		cmocka_unit_test(test_parse_ip),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
