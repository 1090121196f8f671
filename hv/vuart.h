/* A 16550 UART for a guest at COM1: its output reaches tern's console line by line,
 * prefixed with the VM's id. */
#ifndef TERN_VUART_H
#define TERN_VUART_H

#include "hv/types.h"

#define VUART_BASE 0x3f8
#define VUART_LINE_MAX 160
#define VUART_RX_SIZE 256

struct vuart {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	char line[VUART_LINE_MAX + 1];
	unsigned len;
	uint8_t rx[VUART_RX_SIZE]; /* what the operator typed for the guest, not yet read */
	unsigned rx_head, rx_len;
};

/* off is the register offset 0..7 from VUART_BASE. */
uint8_t vuart_read(struct vuart *u, unsigned off);
/* A complete line (or a full buffer) goes to the console as "[vm<ID>] <line>". */
void vuart_write(struct vuart *u, unsigned off, uint8_t v, int vm_id);
/* Queues bytes for the guest to read; returns how many fit. */
unsigned vuart_input(struct vuart *u, const char *s, unsigned n);
/* Prints what is left of an unfinished line, e.g. when the VM ends. */
void vuart_flush(struct vuart *u, int vm_id);

#endif
