/* The serial console (a 16550 UART): tern's output and the monitor's input. */
#ifndef TERN_CONSOLE_H
#define TERN_CONSOLE_H

#include "hv/types.h"

/* Selects the UART from `console=com1..com4|0xPORT`; returns false (and keeps COM1)
 * when the value is not understood, so the caller can say so once output works. */
bool console_init(const char *cmdline);
uint16_t console_port(void);

void console_putc(char c);
void console_write(const char *s, size_t n);
/* Bytes as they are, no \r added: a guest's console an operator is attached to. */
void console_write_raw(const uint8_t *s, size_t n);
/* Waits until the UART has sent everything, e.g. before powering off. */
void console_drain(void);
/* Returns the next received byte, or -1 when none is waiting. Never blocks. */
int console_getc(void);

/* For tern's fatal paths only (exception dump, panic): takes the console lock from
 * whoever holds it after a bounded wait, even from this CPU faulting mid-line. */
void console_break_lock(void);

int kprintf(const char *fmt, ...) __printf(1, 2);

#endif
