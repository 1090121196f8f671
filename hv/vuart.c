#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/vuart.h"

/* 16550 register offsets; with LCR.DLAB set, 0 and 1 are the divisor latch. */
enum { THR_RBR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

uint8_t vuart_read(struct vuart *u, unsigned off)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (off) {
	case THR_RBR: {
		uint8_t c;
		if (dlab)
			return u->dll;
		if (!u->rx_len)
			return 0;
		c = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % VUART_RX_SIZE;
		u->rx_len--;
		return c;
	}
	case IER:
		return dlab ? u->dlm : u->ier;
	case IIR_FCR:
		return 0xc1; /* FIFOs enabled, no interrupt pending */
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT | (u->rx_len ? LSR_DR : 0); /* transmits instantly */
	case MSR:
		return 0xb0; /* CTS, DSR, DCD */
	default:
		return u->scr;
	}
}

unsigned vuart_input(struct vuart *u, const char *s, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && u->rx_len < VUART_RX_SIZE; i++, u->rx_len++)
		u->rx[(u->rx_head + u->rx_len) % VUART_RX_SIZE] = (uint8_t)s[i];
	return i;
}

void vuart_flush(struct vuart *u, int vm_id)
{
	if (!u->len)
		return;
	u->line[u->len] = 0;
	mon_guest_line(vm_id, u->line);
	u->len = 0;
}

static void put(struct vuart *u, uint8_t c, int vm_id)
{
	if (c == '\n') {
		u->line[u->len] = 0;
		mon_guest_line(vm_id, u->line); /* an empty line still shows */
		u->len = 0;
		return;
	}
	if (c == '\r')
		return;
	/* A guest controls these bytes: keep only printable ASCII so it cannot drive the
	 * operator's terminal with escape sequences. */
	u->line[u->len++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	if (u->len == VUART_LINE_MAX)
		vuart_flush(u, vm_id);
}

void vuart_write(struct vuart *u, unsigned off, uint8_t v, int vm_id)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (off) {
	case THR_RBR:
		if (dlab)
			u->dll = v;
		else
			put(u, v, vm_id);
		break;
	case IER:
		if (dlab)
			u->dlm = v;
		else
			u->ier = v & 0x0f;
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		break;
	case SCR:
		u->scr = v;
		break;
	default: /* FCR, LSR, MSR: nothing to keep */
		break;
	}
}
