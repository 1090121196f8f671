/* The interface between tern's network glue (net/net.c) and a NIC driver: a small table
 * of operations, polled from tern's loop (no interrupts). */
#ifndef TERN_NIC_H
#define TERN_NIC_H

#include "hv/types.h"
#include "net/pci.h"

struct pbuf;

struct nic_stats {
	uint64_t rx_packets, tx_packets, rx_dropped, tx_errors;
};

struct nic;
/* Hands one received frame (without CRC) to the stack; the buffer is the driver's and
 * is reused when this returns. */
typedef void (*nic_rx_fn)(struct nic *nic, const void *frame, uint32_t len);

struct nic_ops {
	bool (*link_up)(struct nic *nic);
	/* Queues one frame for sending; 0, or a negative error (ring full, bad length). */
	int (*send)(struct nic *nic, const struct pbuf *p);
	/* Delivers up to budget received frames; returns how many descriptors it consumed. */
	unsigned (*poll)(struct nic *nic, nic_rx_fn rx, unsigned budget);
};

struct nic {
	const struct nic_ops *ops;
	const char *model;
	const struct pci_dev *pci;
	uint8_t mac[6];
	struct nic_stats stats;
	void *priv;
};

/* Claims a supported e1000-family device, resets it and sets it up with mac (NULL: the
 * one in its EEPROM). Returns 0, -E_NOENT when the device is not one of ours, or
 * another negative error (reported here) when it cannot be used. */
int e1000_attach(struct nic *nic, const struct pci_dev *d, const uint8_t *mac);

#endif
