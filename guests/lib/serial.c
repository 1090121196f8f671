/* Console output on COM1. The UART is left as the loader set it up: tern's virtual
 * 16550 needs no programming, and a real one's defaults are fine for QEMU. */
#include "guests/lib/guest.h"
#include "hv/lib/fmt.h"

#define UART_THR 0
#define UART_RBR 0
#define UART_LSR 5
#define LSR_DR (1 << 0)   /* data ready */
#define LSR_THRE (1 << 5) /* transmit holding register empty */

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1 + UART_THR, c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static char serial_getc(void)
{
	while (!(inb(COM1 + UART_LSR) & LSR_DR))
		;
	return inb(COM1 + UART_RBR);
}

size_t serial_getline(char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while ((c = serial_getc()) != '\n' && c != '\r')
		if (n + 1 < size)
			buf[n++] = c;
	buf[n] = 0;
	return n;
}

static void put(char c, void *ctx)
{
	serial_putc(c);
}

int vprintf(const char *fmt, va_list ap)
{
	return fmt_vformat(put, NULL, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
