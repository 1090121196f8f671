#include "hv/error.h"
#include "net/e1000_ring.h"

void e1000_ring_init(struct e1000_ring *r, uint32_t size)
{
	r->size = size;
	r->next = 0;
	r->clean = 0;
	r->discard = false;
}

uint32_t e1000_tx_in_flight(const struct e1000_ring *r)
{
	return (r->next - r->clean) & (r->size - 1);
}

uint32_t e1000_tx_space(const struct e1000_ring *r)
{
	return r->size - 1 - e1000_tx_in_flight(r);
}

int e1000_tx_post(struct e1000_ring *r, volatile struct e1000_tx_desc *d, uint64_t buf,
		  uint32_t len)
{
	uint32_t i = r->next;

	if (len == 0 || len > E1000_FRAME_MAX)
		return -E_INVAL;
	if (!e1000_tx_space(r))
		return -E_BUSY;
	d[i].addr = buf;
	d[i].length = (uint16_t)len;
	d[i].cso = 0;
	d[i].css = 0;
	d[i].special = 0;
	d[i].status = 0;
	/* RS: the NIC reports completion with DD, which reclaim waits for. */
	d[i].cmd = E1000_TXD_EOP | E1000_TXD_IFCS | E1000_TXD_RS;
	r->next = (i + 1) & (r->size - 1);
	return (int)i;
}

uint32_t e1000_tx_reclaim(struct e1000_ring *r, volatile struct e1000_tx_desc *d)
{
	uint32_t n = 0;

	while (r->clean != r->next && (d[r->clean].status & E1000_TXD_DD)) {
		d[r->clean].status = 0;
		r->clean = (r->clean + 1) & (r->size - 1);
		n++;
	}
	return n;
}

enum e1000_rx_verdict e1000_rx_next(struct e1000_ring *r, volatile struct e1000_rx_desc *d,
				    uint32_t *slot, uint32_t *len)
{
	uint32_t i = r->next;
	uint8_t status = d[i].status;
	bool eop;

	if (!(status & E1000_RXD_DD))
		return E1000_RX_EMPTY;
	/* The NIC writes status last; read the rest only after it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*slot = i;
	*len = d[i].length;
	r->next = (i + 1) & (r->size - 1);
	eop = status & E1000_RXD_EOP;
	if (r->discard || !eop) {
		/* Part of a frame larger than one buffer: never a frame tern sends or
		 * takes, so it is dropped whole. */
		r->discard = !eop;
		return E1000_RX_DROP;
	}
	if ((d[i].errors & E1000_RXE_ANY) || *len < E1000_FRAME_MIN || *len > E1000_FRAME_MAX)
		return E1000_RX_DROP;
	return E1000_RX_FRAME;
}

uint32_t e1000_rx_release(struct e1000_ring *r, volatile struct e1000_rx_desc *d,
			  uint32_t slot)
{
	(void)r;
	d[slot].status = 0;
	d[slot].length = 0;
	d[slot].errors = 0;
	return slot;
}
