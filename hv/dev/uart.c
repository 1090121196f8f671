#include "hv/dev/uart.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

/* IIR interrupt identification (datasheet table 4), bit 0 = none pending. */
#define IIR_NONE 0x01
#define IIR_RLS 0x06
#define IIR_RDA 0x04
#define IIR_CTI 0x0c
#define IIR_THRE 0x02
#define IIR_MSI 0x00
#define IIR_FIFOS 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0
#define FCR_KEPT (FCR_ENABLE | FCR_DMA | FCR_TRIGGER)

#define LCR_WLS 0x03
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

/* MSR inputs; each delta bit is its input's bit >> 4 (TERI: RI's falling edge). */
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_TERI 0x04
#define MSR_DELTAS 0x0f

#define DIVISOR_9600 12

static const uint8_t trigger_levels[4] = { 1, 4, 8, 14 };

static bool fifo_on(const struct uart_state *s)
{
	return s->fcr & FCR_ENABLE;
}

static bool loopback(const struct uart_state *s)
{
	return s->mcr & MCR_LOOP;
}

static unsigned rx_capacity(const struct uart_state *s)
{
	return fifo_on(s) ? UART_FIFO_SIZE : 1;
}

/* The data bits of a character: 5 to 8 per LCR. */
static uint8_t word_mask(const struct uart_state *s)
{
	return (uint8_t)(0xff >> (3 - (s->lcr & LCR_WLS)));
}

/* In loopback the modem inputs are MCR's outputs (DTR->DSR, RTS->CTS, OUT1->RI,
 * OUT2->DCD); otherwise a connected line, which asserts CTS, DSR and DCD. */
static uint8_t msr_inputs(const struct uart_state *s)
{
	uint8_t m = s->mcr;

	if (!loopback(s))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

/* --- interrupts --- */

static uint8_t pending(const struct uart_state *s)
{
	unsigned trigger = fifo_on(s) ? trigger_levels[s->fcr >> 6] : 1;

	if ((s->ier & IER_ELSI) && s->overrun)
		return IIR_RLS;
	if ((s->ier & IER_ERBFI) && s->rx_count)
		return s->rx_count >= trigger ? IIR_RDA : IIR_CTI;
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		return IIR_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr_delta & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_line(struct uart *u)
{
	bool level = (u->s.mcr & MCR_OUT2) && pending(&u->s) != IIR_NONE;

	if (level != u->line) {
		u->line = level;
		irq_set(&u->irq, level);
	}
}

/* --- the receiver --- */

static void rx_push(struct uart_state *s, uint8_t byte)
{
	s->rx[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = byte;
	s->rx_count++;
}

/* Host input reaches the receiver only outside loopback, which disconnects its line. */
static void refill(struct uart_state *s)
{
	if (loopback(s))
		return;
	while (s->q_count && s->rx_count < rx_capacity(s)) {
		rx_push(s, s->queue[s->q_head] & word_mask(s));
		s->q_head = (s->q_head + 1) % UART_QUEUE_SIZE;
		s->q_count--;
	}
}

/* A character into a full receiver is an overrun: with FIFOs the FIFO keeps what it
 * holds and the character is lost; without, it overwrites RBR (datasheet, LSR bit 1). */
static void loop_receive(struct uart_state *s, uint8_t byte)
{
	if (s->rx_count < rx_capacity(s)) {
		rx_push(s, byte);
		return;
	}
	s->overrun = 1;
	if (!fifo_on(s))
		s->rx[s->rx_head] = byte;
}

static void rx_clear(struct uart_state *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* --- registers --- */

static uint8_t read_rbr(struct uart *u)
{
	struct uart_state *s = &u->s;

	if (s->lcr & LCR_DLAB)
		return s->dll;
	if (s->rx_count) {
		s->rbr = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
		s->rx_count--;
		refill(s);
	}
	return s->rbr;
}

static uint8_t read_ier(struct uart *u)
{
	return u->s.lcr & LCR_DLAB ? u->s.dlm : u->s.ier;
}

/* Reading IIR when it reports THR empty clears that interrupt. */
static uint8_t read_iir(struct uart *u)
{
	uint8_t id = pending(&u->s);

	if (id == IIR_THRE)
		u->s.thre_pending = 0;
	return id | (fifo_on(&u->s) ? IIR_FIFOS : 0);
}

static uint8_t read_lcr(struct uart *u)
{
	return u->s.lcr;
}

static uint8_t read_mcr(struct uart *u)
{
	return u->s.mcr;
}

/* THR and the transmitter are always empty. Reading clears OE. */
static uint8_t read_lsr(struct uart *u)
{
	uint8_t v = LSR_THRE | LSR_TEMT | (u->s.rx_count ? LSR_DR : 0) |
		    (u->s.overrun ? LSR_OE : 0);

	u->s.overrun = 0;
	return v;
}

static uint8_t read_msr(struct uart *u)
{
	uint8_t v = msr_inputs(&u->s) | u->s.msr_delta;

	u->s.msr_delta = 0;
	return v;
}

static uint8_t read_scr(struct uart *u)
{
	return u->s.scr;
}

/* The byte leaves THR at once: THRE's interrupt clears on the write and comes back. */
static void write_thr(struct uart *u, uint8_t val)
{
	struct uart_state *s = &u->s;
	uint8_t byte = val & word_mask(s);

	if (s->lcr & LCR_DLAB) {
		s->dll = val;
		return;
	}
	s->thre_pending = 0;
	update_line(u);
	if (loopback(s))
		loop_receive(s, byte);
	else if (u->tx)
		u->tx(u->tx_ctx, byte);
	s->thre_pending = 1;
}

/* Enabling the THRE interrupt while THR is empty raises it (on the rising edge only, as
 * guests that toggle IER to re-arm it expect). */
static void write_ier(struct uart *u, uint8_t val)
{
	struct uart_state *s = &u->s;

	if (s->lcr & LCR_DLAB) {
		s->dlm = val;
		return;
	}
	if (!(s->ier & IER_ETBEI) && (val & IER_ETBEI))
		s->thre_pending = 1;
	s->ier = val & IER_MASK;
}

/* Switching the FIFOs on or off empties them; the other bits are programmed only with
 * FCR0 set (datasheet, FCR bit 0). */
static void write_fcr(struct uart *u, uint8_t val)
{
	struct uart_state *s = &u->s;

	if (!(val & FCR_ENABLE)) {
		if (val)
			dev_warn(u->log, UART_WARN_FCR,
				 "uart: FCR 0x%x without FIFO enable: other bits ignored", val);
		if (fifo_on(s))
			rx_clear(s);
		s->fcr = 0;
	} else {
		if (!fifo_on(s) || (val & FCR_CLEAR_RX))
			rx_clear(s);
		s->fcr = val & FCR_KEPT;
	}
	refill(s);
}

static void write_lcr(struct uart *u, uint8_t val)
{
	u->s.lcr = val;
}

/* Each modem input that changes sets its delta bit; RI only when it falls (TERI). */
static void write_mcr(struct uart *u, uint8_t val)
{
	struct uart_state *s = &u->s;
	uint8_t before = msr_inputs(s), after, changed;

	s->mcr = val & MCR_MASK;
	after = msr_inputs(s);
	changed = before ^ after;
	s->msr_delta |= (changed >> 4) & ~MSR_TERI & MSR_DELTAS;
	s->msr_delta |= ((before & ~after) >> 4) & MSR_TERI;
	refill(s);
}

static void write_ro(struct uart *u, uint8_t val)
{
	dev_warn(u->log, UART_WARN_READ_ONLY, "uart: write of 0x%x to LSR or MSR ignored", val);
}

static void write_scr(struct uart *u, uint8_t val)
{
	u->s.scr = val;
}

static uint8_t (*const readers[8])(struct uart *) = {
	read_rbr, read_ier, read_iir, read_lcr, read_mcr, read_lsr, read_msr, read_scr,
};

static void (*const writers[8])(struct uart *, uint8_t) = {
	write_thr, write_ier, write_fcr, write_lcr, write_mcr, write_ro, write_ro, write_scr,
};

uint8_t uart_read(struct uart *u, unsigned offset)
{
	uint8_t v;

	if (offset >= ARRAY_SIZE(readers))
		return 0xff;
	v = readers[offset](u);
	update_line(u);
	return v;
}

void uart_write(struct uart *u, unsigned offset, uint8_t val)
{
	if (offset >= ARRAY_SIZE(writers))
		return;
	writers[offset](u, val);
	update_line(u);
}

/* --- the host's side --- */

void uart_init(struct uart *u, struct irq_line irq, struct dev_log *log,
	       void (*tx)(void *ctx, uint8_t byte), void *tx_ctx)
{
	memset(u, 0, sizeof(*u));
	u->irq = irq;
	u->log = log;
	u->tx = tx;
	u->tx_ctx = tx_ctx;
	u->s.dll = DIVISOR_9600;
	u->s.lcr = LCR_WLS; /* 8 bits */
}

/* Outside loopback the queue only holds bytes while the receiver is full. */
unsigned uart_input_room(const struct uart *u)
{
	const struct uart_state *s = &u->s;
	unsigned room = UART_QUEUE_SIZE - s->q_count;

	if (!loopback(s) && !s->q_count)
		room += rx_capacity(s) - s->rx_count;
	return room;
}

unsigned uart_input(struct uart *u, const uint8_t *bytes, unsigned n)
{
	struct uart_state *s = &u->s;
	unsigned i;

	for (i = 0; i < n && s->q_count < UART_QUEUE_SIZE; i++) {
		s->queue[(s->q_head + s->q_count) % UART_QUEUE_SIZE] = bytes[i];
		s->q_count++;
		refill(s);
	}
	update_line(u);
	return i;
}

void uart_restore(struct uart *u)
{
	u->line = (u->s.mcr & MCR_OUT2) && pending(&u->s) != IIR_NONE;
	irq_set(&u->irq, u->line);
}

/* --- the record --- */

static bool uart_check(const void *rec, char *err, size_t n)
{
	const struct uart_state *s = rec;

	if (s->fcr & ~FCR_KEPT) {
		fmt_snprintf(err, n, "uart: fcr = 0x%x holds bits that are not kept", s->fcr);
		return false;
	}
	if (s->rx_count > rx_capacity(s)) {
		fmt_snprintf(err, n, "uart: rx_count = %u with the FIFOs off", s->rx_count);
		return false;
	}
	if (!loopback(s) && s->q_count && s->rx_count < rx_capacity(s)) {
		fmt_snprintf(err, n, "uart: q_count = %u while the receiver has room",
			     s->q_count);
		return false;
	}
	return true;
}

static const struct vms_field uart_fields[] = {
	VMS_FIELD(struct uart_state, ier, IER_MASK),
	VMS_FIELD(struct uart_state, lcr, VMS_MAX8),
	VMS_FIELD(struct uart_state, mcr, MCR_MASK),
	VMS_FIELD(struct uart_state, scr, VMS_MAX8),
	VMS_FIELD(struct uart_state, dll, VMS_MAX8),
	VMS_FIELD(struct uart_state, dlm, VMS_MAX8),
	VMS_FIELD(struct uart_state, fcr, FCR_KEPT),
	VMS_FIELD(struct uart_state, msr_delta, MSR_DELTAS),
	VMS_FIELD(struct uart_state, overrun, 1),
	VMS_FIELD(struct uart_state, thre_pending, 1),
	VMS_FIELD(struct uart_state, rbr, VMS_MAX8),
	VMS_FIELD(struct uart_state, rx_head, UART_FIFO_SIZE - 1),
	VMS_FIELD(struct uart_state, rx_count, UART_FIFO_SIZE),
	VMS_BYTES(struct uart_state, rx),
	VMS_FIELD(struct uart_state, q_head, UART_QUEUE_SIZE - 1),
	VMS_FIELD(struct uart_state, q_count, UART_QUEUE_SIZE),
	VMS_BYTES(struct uart_state, queue),
};

const struct vms_desc uart_vms = { "uart", 1, sizeof(struct uart_state), uart_fields,
				   ARRAY_SIZE(uart_fields), uart_check };
