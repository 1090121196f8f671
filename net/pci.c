#include "hv/console.h"
#include "hv/pci.h"
#include "net/pci.h"

/* Configuration space header, type 0 (PCI Local Bus spec 3.0, 6.1). */
#define PCI_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_CLASS 0x08
#define PCI_HEADER 0x0c
#define PCI_BAR0 0x10
#define PCI_CMD_MEM (1u << 1)
#define PCI_CMD_MASTER (1u << 2)
#define PCI_HDR_MULTI 0x80
#define PCI_HDR_TYPE 0x7f
#define BAR_IO 1u
#define BAR_TYPE_64 (2u << 1)

static struct pci_dev devs[PCI_MAX_DEVS];
static size_t nr_devs;
static bool scanned;

/* Sizes a BAR the standard way: write all ones, read back which bits stick, restore. */
static uint32_t bar_probe(const struct pci_dev *d, unsigned reg)
{
	uint32_t old = pci_cfg_read32(d->bus, d->dev, d->fn, reg), mask;

	pci_cfg_write32(d->bus, d->dev, d->fn, reg, 0xffffffff);
	mask = pci_cfg_read32(d->bus, d->dev, d->fn, reg);
	pci_cfg_write32(d->bus, d->dev, d->fn, reg, old);
	return mask;
}

static void read_bars(struct pci_dev *d)
{
	uint32_t cmd = pci_cfg_read32(d->bus, d->dev, d->fn, PCI_COMMAND);

	/* No decoding while the BARs hold all ones. */
	pci_cfg_write32(d->bus, d->dev, d->fn, PCI_COMMAND, cmd & ~3u);
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		unsigned reg = PCI_BAR0 + 4 * i;
		uint32_t v = pci_cfg_read32(d->bus, d->dev, d->fn, reg), m = bar_probe(d, reg);
		struct pci_bar *b = &d->bar[i];

		if (!m)
			continue;
		if (v & BAR_IO) {
			b->io = true;
			b->base = v & ~3u;
			b->size = (uint16_t)~(m & ~3u) + 1;
			continue;
		}
		b->base = v & ~0xfu;
		b->size = (uint32_t)~(m & ~0xfu) + 1;
		if ((v & 6u) == BAR_TYPE_64 && i + 1 < PCI_NR_BARS) {
			uint32_t hi = pci_cfg_read32(d->bus, d->dev, d->fn, reg + 4);
			uint32_t mhi = bar_probe(d, reg + 4);
			uint64_t m64 = (uint64_t)mhi << 32 | (m & ~0xfu);

			b->mem64 = true;
			b->base |= (uint64_t)hi << 32;
			b->size = ~m64 + 1;
			i++;
		}
	}
	pci_cfg_write32(d->bus, d->dev, d->fn, PCI_COMMAND, cmd);
}

static void add(unsigned bus, unsigned dev, unsigned fn, uint32_t id)
{
	struct pci_dev *d;

	if (nr_devs == PCI_MAX_DEVS)
		return;
	d = &devs[nr_devs++];
	d->bus = bus, d->dev = dev, d->fn = fn;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	d->class = pci_cfg_read32(bus, dev, fn, PCI_CLASS) >> 8;
	if ((pci_cfg_read32(bus, dev, fn, PCI_HEADER) >> 16 & PCI_HDR_TYPE) == 0)
		read_bars(d);
}

size_t pci_scan(const struct pci_dev **out)
{
	if (!scanned) {
		scanned = true;
		for (unsigned bus = 0; bus < 256; bus++) {
			for (unsigned dev = 0; dev < 32; dev++) {
				for (unsigned fn = 0; fn < 8; fn++) {
					uint32_t id = pci_cfg_read32(bus, dev, fn, PCI_ID);
					uint32_t hdr;

					if ((id & 0xffff) == 0xffff) {
						if (fn == 0)
							break;
						continue;
					}
					add(bus, dev, fn, id);
					hdr = pci_cfg_read32(bus, dev, fn, PCI_HEADER) >> 16;
					if (fn == 0 && !(hdr & PCI_HDR_MULTI))
						break;
				}
			}
		}
	}
	*out = devs;
	return nr_devs;
}

void pci_enable(const struct pci_dev *d)
{
	uint32_t cmd = pci_cfg_read32(d->bus, d->dev, d->fn, PCI_COMMAND);

	pci_cfg_write32(d->bus, d->dev, d->fn, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
}

int cmd_info_pci(int argc, char **argv)
{
	const struct pci_dev *d;
	size_t n = pci_scan(&d);

	(void)argc, (void)argv;
	kprintf("bdf      vendor:device class  bars\n");
	for (size_t i = 0; i < n; i++, d++) {
		kprintf("%02x:%02x.%x  %04x:%04x     %06x", d->bus, d->dev, d->fn, d->vendor,
			d->device, d->class);
		for (unsigned b = 0; b < PCI_NR_BARS; b++) {
			if (d->bar[b].size)
				kprintf(" %u:%s:0x%llx+0x%llx", b, d->bar[b].io ? "io" : "mem",
					(unsigned long long)d->bar[b].base,
					(unsigned long long)d->bar[b].size);
		}
		kprintf("\n");
	}
	if (n == PCI_MAX_DEVS)
		kprintf("(only the first %d devices are listed)\n", PCI_MAX_DEVS);
	return 0;
}
