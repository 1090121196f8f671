/* Intel 8254x/82574 ("e1000", "e1000e") driver: one RX and one TX ring of legacy
 * descriptors, polled. Register offsets and bits: Intel 8254x SDM (317453) ch. 13,
 * and the 82574 datasheet ch. 10 where they differ (they don't, for what is used here). */
#include "hv/console.h"
#include "hv/error.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "lwip/pbuf.h"
#include "net/e1000_ring.h"
#include "net/nic.h"

#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_EERD 0x0014
#define REG_ICR 0x00c0
#define REG_IMC 0x00d8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_MPC 0x4010 /* missed packets (no free RX descriptor); clears on read */
#define REG_MTA 0x5200 /* 128 multicast table entries */
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define STATUS_LU (1u << 1)
#define RCTL_EN (1u << 1)
#define RCTL_BAM (1u << 15)  /* accept broadcast (ARP) */
#define RCTL_SECRC (1u << 26) /* strip the CRC; BSIZE 00 = 2048-byte buffers */
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x10u << 4)
#define TCTL_COLD (0x40u << 12)
#define TIPG_DEFAULT (10u | 8u << 10 | 6u << 20) /* IPGT, IPGR1, IPGR2 for copper */
#define RAH_AV (1u << 31)
#define EERD_START 1u

#define RX_RING 256
#define TX_RING 256
#define BUF_SIZE 2048

struct e1000 {
	volatile uint8_t *regs;
	volatile struct e1000_rx_desc *rxd;
	volatile struct e1000_tx_desc *txd;
	uint8_t *rxbuf, *txbuf; /* RX_RING (TX_RING) buffers of BUF_SIZE bytes */
	struct e1000_ring rx, tx;
};

/* EERD differs: the 8254x has the word address at bit 8 and DONE at bit 4, the 82574
 * the address at bit 2 and DONE at bit 1. */
static const struct e1000_model {
	uint16_t device;
	const char *model;
	uint8_t eerd_addr_shift, eerd_done;
} models[] = {
	{ 0x100e, "82540EM", 8, 1u << 4 }, /* QEMU's and Bochs's e1000 */
	{ 0x100f, "82545EM", 8, 1u << 4 },
	{ 0x10d3, "82574L", 2, 1u << 1 }, /* QEMU's e1000e */
};

static struct e1000 the_e1000; /* tern drives one NIC */

static uint32_t rd(struct e1000 *e, uint32_t reg)
{
	return *(volatile uint32_t *)(e->regs + reg);
}

static void wr(struct e1000 *e, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(e->regs + reg) = v;
}

/* Called every 100 ms: also collects the frames the NIC missed for want of a free
 * RX descriptor (an MMIO read per poll would cost more than the count is worth). */
static bool e1000_link_up(struct nic *nic)
{
	nic->stats.rx_dropped += rd(nic->priv, REG_MPC);
	return rd(nic->priv, REG_STATUS) & STATUS_LU;
}

static int e1000_send(struct nic *nic, const struct pbuf *p)
{
	struct e1000 *e = nic->priv;
	uint32_t slot;
	int r;

	e1000_tx_reclaim(&e->tx, e->txd);
	if (p->tot_len > E1000_FRAME_MAX || !e1000_tx_space(&e->tx)) {
		nic->stats.tx_errors++;
		return p->tot_len > E1000_FRAME_MAX ? -E_INVAL : -E_BUSY;
	}
	slot = e->tx.next;
	pbuf_copy_partial(p, e->txbuf + slot * BUF_SIZE, p->tot_len, 0);
	r = e1000_tx_post(&e->tx, e->txd, (uintptr_t)(e->txbuf + slot * BUF_SIZE), p->tot_len);
	if (r < 0) {
		nic->stats.tx_errors++;
		return r;
	}
	/* The descriptor must be in memory before the NIC sees the new tail. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	wr(e, REG_TDT, e->tx.next);
	nic->stats.tx_packets++;
	return 0;
}

static unsigned e1000_poll(struct nic *nic, nic_rx_fn rx, unsigned budget)
{
	struct e1000 *e = nic->priv;
	uint32_t slot, len, tail = 0;
	unsigned n = 0;

	for (; n < budget; n++) {
		enum e1000_rx_verdict v = e1000_rx_next(&e->rx, e->rxd, &slot, &len);

		if (v == E1000_RX_EMPTY)
			break;
		if (v == E1000_RX_FRAME)
			rx(nic, e->rxbuf + slot * BUF_SIZE, len);
		else
			nic->stats.rx_dropped++;
		tail = e1000_rx_release(&e->rx, e->rxd, slot);
	}
	if (n) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		wr(e, REG_RDT, tail);
	}
	e1000_tx_reclaim(&e->tx, e->txd);
	return n;
}

static const struct nic_ops e1000_ops = {
	.link_up = e1000_link_up,
	.send = e1000_send,
	.poll = e1000_poll,
};

static int reset(struct e1000 *e)
{
	uint64_t end;

	wr(e, REG_IMC, 0xffffffff); /* polled: no interrupts, ever */
	wr(e, REG_CTRL, rd(e, REG_CTRL) | CTRL_RST);
	time_delay_us(10); /* SDM 13.4.1: wait before touching the NIC again */
	end = time_now_ms() + 100;
	while (rd(e, REG_CTRL) & CTRL_RST) {
		if (time_now_ms() > end)
			return -E_IO;
	}
	wr(e, REG_IMC, 0xffffffff);
	(void)rd(e, REG_ICR);
	return 0;
}

/* One 16-bit EEPROM word; -E_IO when the NIC does not answer within 10 ms. */
static int eeprom_read(struct e1000 *e, const struct e1000_model *m, unsigned word)
{
	uint64_t end = time_now_ms() + 10;
	uint32_t v;

	wr(e, REG_EERD, EERD_START | word << m->eerd_addr_shift);
	while (!((v = rd(e, REG_EERD)) & m->eerd_done)) {
		if (time_now_ms() > end)
			return -E_IO;
	}
	return v >> 16;
}

/* The MAC: given, else what the NIC loaded into RAL0/RAH0 at reset (QEMU), else the
 * EEPROM's first three words (Bochs leaves RAL0/RAH0 empty). */
static int set_mac(struct e1000 *e, const struct e1000_model *m, struct nic *nic,
		   const uint8_t *mac)
{
	uint32_t lo = rd(e, REG_RAL0), hi = rd(e, REG_RAH0);

	for (int i = 0; i < 4; i++)
		nic->mac[i] = lo >> (8 * i);
	nic->mac[4] = hi;
	nic->mac[5] = hi >> 8;
	if (!(hi & RAH_AV)) {
		for (unsigned w = 0; w < 3; w++) {
			int v = eeprom_read(e, m, w);

			if (v < 0)
				return v;
			nic->mac[2 * w] = v;
			nic->mac[2 * w + 1] = v >> 8;
		}
	}
	if (mac) {
		for (int i = 0; i < 6; i++)
			nic->mac[i] = mac[i];
	}
	if ((nic->mac[0] & 1) || !(nic->mac[0] | nic->mac[1] | nic->mac[2] | nic->mac[3] |
				    nic->mac[4] | nic->mac[5]))
		return -E_INVAL;
	lo = nic->mac[0] | nic->mac[1] << 8 | nic->mac[2] << 16 | (uint32_t)nic->mac[3] << 24;
	hi = nic->mac[4] | nic->mac[5] << 8 | RAH_AV;
	wr(e, REG_RAL0, lo);
	wr(e, REG_RAH0, hi);
	return 0;
}

static int setup_rings(struct e1000 *e)
{
	uint64_t rxd = pmm_alloc(1), txd = pmm_alloc(1);
	uint64_t rxb = pmm_alloc(RX_RING * BUF_SIZE / PAGE_SIZE);
	uint64_t txb = pmm_alloc(TX_RING * BUF_SIZE / PAGE_SIZE);

	if (!rxd || !txd || !rxb || !txb)
		return -E_NOMEM; /* at boot: what was taken stays taken, tern runs without net */
	e->rxd = (void *)(uintptr_t)rxd;
	e->txd = (void *)(uintptr_t)txd;
	e->rxbuf = (void *)(uintptr_t)rxb;
	e->txbuf = (void *)(uintptr_t)txb;
	e1000_ring_init(&e->rx, RX_RING);
	e1000_ring_init(&e->tx, TX_RING);
	for (uint32_t i = 0; i < RX_RING; i++)
		e->rxd[i].addr = rxb + i * BUF_SIZE;
	return 0;
}

static void start(struct e1000 *e)
{
	for (uint32_t i = 0; i < 128; i++)
		wr(e, REG_MTA + 4 * i, 0);
	wr(e, REG_RDBAL, (uint32_t)(uintptr_t)e->rxd);
	wr(e, REG_RDBAH, (uint32_t)((uintptr_t)e->rxd >> 32));
	wr(e, REG_RDLEN, RX_RING * sizeof(struct e1000_rx_desc));
	wr(e, REG_RDH, 0);
	wr(e, REG_RDT, RX_RING - 1);
	wr(e, REG_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
	wr(e, REG_TDBAL, (uint32_t)(uintptr_t)e->txd);
	wr(e, REG_TDBAH, (uint32_t)((uintptr_t)e->txd >> 32));
	wr(e, REG_TDLEN, TX_RING * sizeof(struct e1000_tx_desc));
	wr(e, REG_TDH, 0);
	wr(e, REG_TDT, 0);
	wr(e, REG_TIPG, TIPG_DEFAULT);
	wr(e, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
	wr(e, REG_CTRL, rd(e, REG_CTRL) | CTRL_SLU | CTRL_ASDE);
}

int e1000_attach(struct nic *nic, const struct pci_dev *d, const uint8_t *mac)
{
	struct e1000 *e = &the_e1000;
	const struct pci_bar *bar = &d->bar[0];
	const struct e1000_model *m = NULL;
	const char *model;
	int err;

	for (size_t i = 0; i < ARRAY_SIZE(models); i++) {
		if (d->vendor == 0x8086 && d->device == models[i].device)
			m = &models[i];
	}
	if (!m)
		return -E_NOENT;
	model = m->model;
	/* tern's page tables map the 32-bit MMIO hole (write-back there is overridden to
	 * UC by the firmware's MTRRs); a BAR above 4 GiB is not mapped. */
	if (bar->io || !bar->base || bar->size < 0x6000 || bar->base + bar->size > 4 * GIB) {
		kprintf("net: e1000 %s: BAR0 (0x%llx) is not 32-bit MMIO; not used\n", model,
			(unsigned long long)bar->base);
		return -E_NOSUP;
	}
	pci_enable(d);
	e->regs = (volatile uint8_t *)(uintptr_t)bar->base;
	err = reset(e);
	if (!err)
		err = setup_rings(e);
	if (err) {
		kprintf("net: e1000 %s: %s\n", model,
			err == -E_IO ? "does not come out of reset" : "no memory for its rings");
		return err;
	}
	nic->ops = &e1000_ops;
	nic->model = model;
	nic->pci = d;
	nic->priv = e;
	err = set_mac(e, m, nic, mac);
	if (err) {
		kprintf("net: e1000 %s: %s\n", model, err == -E_IO ? "EEPROM does not answer" :
			"no valid MAC address (give mac=)");
		return err;
	}
	start(e);
	return 0;
}
