/* The PCI host bridge of tern's platform: configuration mechanism #1 (PCI Local Bus
 * 3.0, 3.2.2.3.2) at 0xCF8 (CONFIG_ADDRESS) and 0xCFC-0xCFF (CONFIG_DATA), showing one
 * function, an Intel 440FX host bridge at 00:00.0 (8086:1237, class 06 00 00), and
 * nothing else; and the reset control register at 0xCF9 (PIIX3/PIIX4 RC, ICH RST_CNT),
 * the FADT's RESET_REG. */
#ifndef TERN_DEV_PCI_HOST_H
#define TERN_DEV_PCI_HOST_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_RESET_CONTROL 0xCF9
#define PCI_CONFIG_DATA 0xCFC

/* CONFIG_ADDRESS: enable, bus, device, function, dword register; the rest reads 0 */
#define PCI_CA_ENABLE (1u << 31)
#define PCI_CA_BITS (PCI_CA_ENABLE | 0x00fffffcu)

/* The bridge's writable bits: PCICMD memory-write-and-invalidate enable, parity error
 * response, SERR# enable (440FX: bits 4, 6, 8; bits 1-2 are fixed at 1), and the
 * master latency timer's count (MLT bits 7-3). */
#define PCI_HOST_CMD_RW 0x0150u
#define PCI_HOST_MLT_RW 0xf8u

/* Reset control: SYS_RST chooses a hard reset, RST_CPU's rising edge starts one,
 * FULL_RST (ICH) asks for a power cycle with it. */
#define PCI_RC_SYS_RST (1u << 1)
#define PCI_RC_RST_CPU (1u << 2)
#define PCI_RC_FULL_RST (1u << 3)
#define PCI_RC_BITS (PCI_RC_SYS_RST | PCI_RC_RST_CPU | PCI_RC_FULL_RST)

struct pci_host_state {
	uint32_t addr; /* CONFIG_ADDRESS */
	uint16_t cmd;  /* PCICMD's writable bits */
	uint8_t mlt;   /* master latency timer */
	uint8_t rc;    /* reset control */
};

struct pci_host {
	struct pci_host_state s;
	/* runtime */
	struct dev_log *log;
	void (*reset)(void *ctx);
	void *ctx;
};

extern const struct vms_desc pci_host_vms; /* record "pci_host" */

void pci_host_init(struct pci_host *h, struct dev_log *log, void (*reset)(void *ctx),
		   void *ctx);

/* Accesses to 0xCF8-0xCFF: a dword at 0xCF8 is CONFIG_ADDRESS; a byte at 0xCF9 is
 * reset control; 1-, 2- and 4-byte accesses inside 0xCFC-0xCFF reach the configuration
 * register CONFIG_ADDRESS selects, at the byte the port selects. Anything else reads
 * all ones, writes nothing and is logged once. */
void pci_host_read(struct pci_host *h, uint16_t port, unsigned size, uint32_t *value);
void pci_host_write(struct pci_host *h, uint16_t port, unsigned size, uint32_t value);

#endif
