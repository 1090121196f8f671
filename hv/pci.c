#include "hv/pci.h"
#include "hv/x86.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static uint32_t addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | (bus & 0xff) << 16 | (dev & 0x1f) << 11 | (fn & 7) << 8 |
	       (reg & 0xfc);
}

uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(PCI_ADDR, addr(bus, dev, fn, reg));
	return inl(PCI_DATA);
}

void pci_cfg_write32(unsigned bus, unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	outl(PCI_ADDR, addr(bus, dev, fn, reg));
	outl(PCI_DATA, v);
}
