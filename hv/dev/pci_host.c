/* PCI configuration mechanism #1 with a lone 440FX host bridge, and reset control at
 * 0xCF9 (Intel 440FX PMC datasheet, 3.2; PIIX4 datasheet, RC register; PCI Local Bus
 * 3.0, 3.2.2.3.2). */
#include "hv/dev/pci_host.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

#define HDR_LEN 64 /* the type 0 header; 0x40-0xFF are the 440FX's own registers */

/* 00:00.0 as the 440FX shows it: 8086:1237, PCICMD 0x0006 (memory and bus master
 * fixed on), PCISTS 0x0280 (fast back-to-back capable, medium DEVSEL; its error bits
 * never get set here, so writing 1 to clear them has nothing to do), revision 02,
 * class 06 00 00 (host bridge), header type 0 (one function), no BIST. BARs,
 * subsystem IDs, capabilities and interrupt registers are reserved and read 0. */
static const uint8_t header_init[HDR_LEN] = {
	[0x00] = 0x86, [0x01] = 0x80, [0x02] = 0x37, [0x03] = 0x12,
	[0x04] = 0x06, [0x05] = 0x00, [0x06] = 0x80, [0x07] = 0x02,
	[0x08] = 0x02, [0x09] = 0x00, [0x0a] = 0x00, [0x0b] = 0x06,
};

/* The bits a guest may change, byte by byte; writes to all others are dropped. */
static const uint8_t header_wmask[HDR_LEN] = {
	[0x04] = PCI_HOST_CMD_RW & 0xff,
	[0x05] = PCI_HOST_CMD_RW >> 8,
	[0x0d] = PCI_HOST_MLT_RW,
};

enum { W_ACCESS, W_ADDR_RESERVED, W_DISABLED, W_CHIPSET, W_RC_RESERVED, W_SOFT_RESET };

void pci_host_init(struct pci_host *h, struct dev_log *log, void (*reset)(void *ctx),
		   void *ctx)
{
	*h = (struct pci_host){ .log = log, .reset = reset, .ctx = ctx };
}

static void header(const struct pci_host *h, uint8_t cfg[HDR_LEN])
{
	memcpy(cfg, header_init, HDR_LEN);
	cfg[0x04] |= (uint8_t)h->s.cmd;
	cfg[0x05] |= (uint8_t)(h->s.cmd >> 8);
	cfg[0x0d] = h->s.mlt;
}

/* --- configuration space --- */

/* The function CONFIG_ADDRESS selects is 00:00.0; every other one is absent. */
static bool selects_bridge(uint32_t addr)
{
	return (addr & 0x00ffff00u) == 0;
}

static uint32_t cfg_read(const struct pci_host *h, unsigned reg, unsigned size)
{
	uint8_t cfg[HDR_LEN];
	uint32_t v = 0;

	header(h, cfg);
	for (unsigned i = 0; i < size; i++)
		if (reg + i < HDR_LEN)
			v |= (uint32_t)cfg[reg + i] << (8 * i);
	return v;
}

static void cfg_write(struct pci_host *h, unsigned reg, unsigned size, uint32_t v)
{
	uint8_t cfg[HDR_LEN];

	header(h, cfg);
	for (unsigned i = 0; i < size; i++) {
		unsigned off = reg + i;
		uint8_t b = (uint8_t)(v >> (8 * i));

		if (off >= HDR_LEN) {
			dev_warn(h->log, W_CHIPSET, "pci_host: write to 440FX register 0x%x "
						    "ignored: not modelled",
				 off);
			continue;
		}
		cfg[off] = (uint8_t)((cfg[off] & ~header_wmask[off]) | (b & header_wmask[off]));
	}
	h->s.cmd = (uint16_t)((cfg[0x04] | cfg[0x05] << 8) & PCI_HOST_CMD_RW);
	h->s.mlt = cfg[0x0d] & PCI_HOST_MLT_RW;
}

/* --- reset control --- */

/* RST_CPU's rising edge resets, and what SYS_RST chooses is what the VM gets:
 *   0x06 (SYS_RST | RST_CPU), 0x0E (with FULL_RST: an ICH power cycle): hard reset,
 *     the VM is reset;
 *   0x04, 0x0C (RST_CPU without SYS_RST): a soft reset, INIT# to the CPUs, which on a
 *     PC sends them to the firmware's reset vector; tern has no firmware, so the VM
 *     is reset too (and this is logged once);
 *   RST_CPU written when already 1, or cleared, or SYS_RST alone (Linux writes 0x02
 *     before 0x06): stored, nothing else.
 * The callback runs last, so a platform that re-initializes this device in it (RC
 * back to 0) is not undone. */
static void rc_write(struct pci_host *h, uint8_t v)
{
	uint8_t old = h->s.rc;

	if (v & ~PCI_RC_BITS)
		dev_warn(h->log, W_RC_RESERVED, "pci_host: reserved bits 0x%x written to 0xcf9",
			 v & ~PCI_RC_BITS);
	h->s.rc = v & PCI_RC_BITS;
	if (!(v & PCI_RC_RST_CPU) || (old & PCI_RC_RST_CPU))
		return;
	if (!(v & PCI_RC_SYS_RST))
		dev_warn(h->log, W_SOFT_RESET,
			 "pci_host: soft reset (0x%x to 0xcf9) taken as a VM reset", v);
	if (h->reset)
		h->reset(h->ctx);
}

/* --- port accesses --- */

enum target { T_ADDR, T_RC, T_DATA, T_NONE, T_BAD };

/* Which register a port access reaches. Byte and word accesses to 0xCF8-0xCFB other
 * than reset control are ordinary I/O cycles on the bus (PCI 3.2.2.3.2), which nothing
 * claims: they read all ones without a complaint (Linux's probe for mechanism #1 writes
 * a byte to 0xCFB). */
static enum target target(uint16_t port, unsigned size)
{
	unsigned off = (unsigned)(uint16_t)(port - PCI_CONFIG_ADDRESS);

	if ((size != 1 && size != 2 && size != 4) || off >= 8 || off + size > 8)
		return T_BAD;
	if (off >= 4)
		return T_DATA;
	if (off + size > 4)
		return T_BAD; /* across CONFIG_ADDRESS and CONFIG_DATA */
	if (size == 4)
		return off == 0 ? T_ADDR : T_BAD;
	if (off == 1 && size == 1)
		return T_RC;
	if (off <= 1 && off + size > 1)
		return T_BAD; /* covers reset control, which takes bytes only */
	return T_NONE;
}

static uint32_t ones(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

/* The data port reaches configuration space only while CONFIG_ADDRESS is enabled;
 * otherwise it is an ordinary I/O cycle nobody claims. */
static bool data_enabled(struct pci_host *h)
{
	if (h->s.addr & PCI_CA_ENABLE)
		return true;
	dev_warn(h->log, W_DISABLED,
		 "pci_host: CONFIG_DATA accessed while CONFIG_ADDRESS is disabled (0x%x)",
		 h->s.addr);
	return false;
}

static unsigned data_reg(const struct pci_host *h, uint16_t port)
{
	return (h->s.addr & 0xfc) | (port & 3);
}

void pci_host_read(struct pci_host *h, uint16_t port, unsigned size, uint32_t *value)
{
	switch (target(port, size)) {
	case T_ADDR:
		*value = h->s.addr;
		return;
	case T_RC:
		*value = h->s.rc;
		return;
	case T_DATA:
		if (data_enabled(h) && selects_bridge(h->s.addr))
			*value = cfg_read(h, data_reg(h, port), size);
		else
			*value = ones(size); /* master abort: no such function */
		return;
	case T_BAD:
		dev_warn(h->log, W_ACCESS, "pci_host: %u-byte read at port 0x%x ignored", size,
			 port);
		/* fall through */
	case T_NONE:
		*value = ones(size);
		return;
	}
}

static void addr_write(struct pci_host *h, uint32_t v)
{
	if (v & ~PCI_CA_BITS)
		dev_warn(h->log, W_ADDR_RESERVED,
			 "pci_host: reserved bits 0x%x written to CONFIG_ADDRESS",
			 v & ~PCI_CA_BITS);
	h->s.addr = v & PCI_CA_BITS;
}

void pci_host_write(struct pci_host *h, uint16_t port, unsigned size, uint32_t value)
{
	switch (target(port, size)) {
	case T_ADDR:
		addr_write(h, value);
		return;
	case T_RC:
		rc_write(h, (uint8_t)value);
		return;
	case T_DATA:
		if (data_enabled(h) && selects_bridge(h->s.addr))
			cfg_write(h, data_reg(h, port), size, value);
		return;
	case T_BAD:
		dev_warn(h->log, W_ACCESS, "pci_host: %u-byte write at port 0x%x ignored", size,
			 port);
		return;
	case T_NONE:
		return;
	}
}

/* --- the record --- */

static bool bits_ok(const char *field, uint32_t v, uint32_t allowed, char *err, size_t n)
{
	if (!(v & ~allowed))
		return true;
	fmt_snprintf(err, n, "pci_host: %s = 0x%x has bits outside 0x%x", field, v, allowed);
	return false;
}

static bool check(const void *rec, char *err, size_t n)
{
	const struct pci_host_state *s = rec;

	return bits_ok("addr", s->addr, PCI_CA_BITS, err, n) &&
	       bits_ok("cmd", s->cmd, PCI_HOST_CMD_RW, err, n) &&
	       bits_ok("mlt", s->mlt, PCI_HOST_MLT_RW, err, n) &&
	       bits_ok("rc", s->rc, PCI_RC_BITS, err, n);
}

static const struct vms_field fields[] = {
	VMS_FIELD(struct pci_host_state, addr, PCI_CA_BITS),
	VMS_FIELD(struct pci_host_state, cmd, PCI_HOST_CMD_RW),
	VMS_FIELD(struct pci_host_state, mlt, PCI_HOST_MLT_RW),
	VMS_FIELD(struct pci_host_state, rc, PCI_RC_BITS),
};

const struct vms_desc pci_host_vms = { "pci_host", 1, sizeof(struct pci_host_state), fields,
				       ARRAY_SIZE(fields), check };
