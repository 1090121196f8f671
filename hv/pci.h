/* PCI configuration space through the legacy 0xCF8/0xCFC mechanism (every x86 PC and
 * emulator has it). Enumeration and drivers live in net/. */
#ifndef TERN_PCI_H
#define TERN_PCI_H

#include "hv/types.h"

uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned reg);
void pci_cfg_write32(unsigned bus, unsigned dev, unsigned fn, unsigned reg, uint32_t v);

#endif
