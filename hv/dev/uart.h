/* A 16550A UART, the PC's COM1 at 0x3F8-0x3FF on IRQ4 (National PC16550D datasheet).
 *
 *   off  read                      write
 *   0    RBR (DLAB: DLL)           THR (DLAB: DLL)
 *   1    IER (DLAB: DLM)           IER (DLAB: DLM)
 *   2    IIR                       FCR
 *   3    LCR                       LCR
 *   4    MCR                       MCR
 *   5    LSR                       (factory test: ignored)
 *   6    MSR                       (ignored)
 *   7    SCR                       SCR
 *
 * There is no baud timing: a byte written to THR is on its way at once (to the tx
 * callback, or to the receiver in loopback), so THR and the transmitter are always
 * empty and the TX FIFO never holds a byte. The receiver takes bytes from a host-side
 * queue (what the operator typed) whenever its FIFO has room, so host input never
 * overruns; a loopback byte into a full FIFO does, as on the chip. Parity, framing and
 * break errors never happen (LSR bits 2-4 and 7 stay 0); word lengths below 8 bits drop
 * the top bits of each byte both ways. The character timeout interrupt is pending
 * whenever the FIFO holds data below its trigger level: with no baud timing, its four
 * character times have always passed.
 *
 * Interrupts, by priority: receiver line status (OE), received data at the trigger
 * level or character timeout, THR empty, modem status. On a PC the chip's interrupt
 * reaches IRQ4 only while MCR.OUT2 is set; the model holds the line at that level (ISA
 * makes it an edge at the PIC; a THR write drops and raises it, as the chip's THRE
 * interrupt clears and comes back when the byte leaves THR). */
#ifndef TERN_DEV_UART_H
#define TERN_DEV_UART_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_FIFO_SIZE 16
#define UART_QUEUE_SIZE 256

/* dev_warn kinds */
enum { UART_WARN_READ_ONLY, UART_WARN_FCR };

struct uart_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;          /* as last programmed: FIFO enable, DMA mode, RX trigger */
	uint8_t msr_delta;    /* MSR bits 0-3; bits 4-7 follow MCR (loopback) or the line */
	uint8_t overrun;      /* LSR.OE */
	uint8_t thre_pending; /* THR became empty and no IIR read or THR write has since */
	uint8_t rbr;          /* the last byte read: what an empty RBR shows */
	uint8_t rx_head, rx_count;
	uint8_t rx[UART_FIFO_SIZE]; /* 1 byte deep while the FIFOs are off */
	uint16_t q_head, q_count;
	uint8_t queue[UART_QUEUE_SIZE]; /* host input the receiver has no room for yet */
};

struct uart {
	struct uart_state s;
	struct irq_line irq;
	struct dev_log *log;
	void (*tx)(void *ctx, uint8_t byte);
	void *tx_ctx;
	bool line; /* the IRQ line's level as last set */
};

extern const struct vms_desc uart_vms;

/* The chip after reset, with the line set up as a PC BIOS leaves COM1: 8 data bits, no
 * parity, divisor 12 (9600 bps). Guests that never program it send whole bytes. */
void uart_init(struct uart *u, struct irq_line irq, struct dev_log *log,
	       void (*tx)(void *ctx, uint8_t byte), void *tx_ctx);
/* offset 0-7 from the base; reads have side effects (RBR pops, IIR clears a THRE
 * interrupt it reports, LSR clears OE, MSR clears the deltas). 0xFF beyond 7. */
uint8_t uart_read(struct uart *u, unsigned offset);
void uart_write(struct uart *u, unsigned offset, uint8_t val);
/* Host bytes for the guest; returns how many were taken (up to uart_input_room()). */
unsigned uart_input(struct uart *u, const uint8_t *bytes, unsigned n);
unsigned uart_input_room(const struct uart *u);
void uart_restore(struct uart *u);

#endif
