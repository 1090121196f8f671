/* PCI enumeration (configuration mechanism #1, bus 0..255): the devices tern found,
 * their BARs, and enabling one for the driver that claims it. */
#ifndef TERN_NET_PCI_H
#define TERN_NET_PCI_H

#include "hv/types.h"

#define PCI_MAX_DEVS 64
#define PCI_NR_BARS 6

struct pci_bar {
	uint64_t base; /* 0: unused or unimplemented */
	uint64_t size;
	bool io;       /* I/O port space, else memory */
	bool mem64;    /* a 64-bit memory BAR: takes this slot and the next */
};

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint32_t class; /* class:subclass:prog-if, 24 bits */
	struct pci_bar bar[PCI_NR_BARS];
};

/* Scans every bus once; later calls return the same table. */
size_t pci_scan(const struct pci_dev **devs);
/* Turns on memory space decoding and bus mastering (for DMA). */
void pci_enable(const struct pci_dev *d);
/* The monitor's `info pci`. */
int cmd_info_pci(int argc, char **argv);

#endif
