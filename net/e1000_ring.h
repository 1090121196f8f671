/* Descriptor ring bookkeeping of the e1000 family (legacy descriptors, 8254x SDM 3.2 and
 * 3.3; the 82574L keeps the same format by default). Pure: it reads and writes
 * descriptors in memory and returns the tail value the driver must write to the NIC,
 * so it is tested hosted with the test playing the NIC.
 *
 * TX:  clean ..... next           descriptors [clean, next) belong to the NIC
 *      |  in flight |  free  |    free slots = size - 1 - in flight (one stays empty so
 *                                 head == tail means empty, SDM 3.4)
 * RX:  every descriptor but one belongs to the NIC; `next` is the oldest it may have
 *      filled; a consumed one goes back by moving the tail onto it. */
#ifndef TERN_E1000_RING_H
#define TERN_E1000_RING_H

#include "hv/types.h"

struct e1000_rx_desc {
	uint64_t addr;
	uint16_t length;
	uint16_t csum;
	uint8_t status;
	uint8_t errors;
	uint16_t special;
} __packed;

struct e1000_tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso;
	uint8_t cmd;
	uint8_t status;
	uint8_t css;
	uint16_t special;
} __packed;

#define E1000_RXD_DD (1u << 0)
#define E1000_RXD_EOP (1u << 1)
#define E1000_RXE_ANY 0xffu /* CE, SE, SEQ, CXE, RXE... any error drops the frame */
#define E1000_TXD_EOP (1u << 0)
#define E1000_TXD_IFCS (1u << 1)
#define E1000_TXD_RS (1u << 3)
#define E1000_TXD_DD (1u << 0)

#define E1000_FRAME_MIN 14   /* an Ethernet header; the NIC strips the CRC */
#define E1000_FRAME_MAX 1518 /* what a 2 KiB buffer and RCTL.LPE=0 deliver */

struct e1000_ring {
	uint32_t size;  /* descriptors, a power of two */
	uint32_t next;  /* TX: next slot to fill; RX: next slot to look at */
	uint32_t clean; /* TX: oldest slot not yet reclaimed */
	bool discard;   /* RX: inside a frame spanning buffers: drop up to its EOP */
};

void e1000_ring_init(struct e1000_ring *r, uint32_t size);
uint32_t e1000_tx_in_flight(const struct e1000_ring *r);
uint32_t e1000_tx_space(const struct e1000_ring *r);
/* Fills the next TX descriptor with one whole frame; returns its slot, or -E_BUSY when
 * the ring is full, -E_INVAL for a length the NIC must not be given. The new tail is
 * r->next. */
int e1000_tx_post(struct e1000_ring *r, volatile struct e1000_tx_desc *d, uint64_t buf,
		  uint32_t len);
/* Takes back the descriptors the NIC has finished (DD set), oldest first; returns how
 * many. */
uint32_t e1000_tx_reclaim(struct e1000_ring *r, volatile struct e1000_tx_desc *d);

enum e1000_rx_verdict { E1000_RX_EMPTY, E1000_RX_FRAME, E1000_RX_DROP };
/* Looks at the next RX descriptor. FRAME: a whole good frame of *len bytes in buffer
 * *slot; DROP: a frame the NIC flagged, or one that is too short, too long or spans
 * buffers; both must be handed back with e1000_rx_release. EMPTY: nothing yet. */
enum e1000_rx_verdict e1000_rx_next(struct e1000_ring *r, volatile struct e1000_rx_desc *d,
				    uint32_t *slot, uint32_t *len);
/* Gives a consumed descriptor back to the NIC; returns the value for RDT. */
uint32_t e1000_rx_release(struct e1000_ring *r, volatile struct e1000_rx_desc *d,
			  uint32_t slot);

#endif
