#include "hv/console.h"
#include "hv/cmdline.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/x86.h"

/* 16550 registers, as offsets from the base port. */
enum { UART_DATA = 0, UART_IER = 1, UART_FCR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5 };
#define LSR_DR 0x01   /* data ready */
#define LSR_THRE 0x20 /* transmit holding register empty */
#define LSR_TEMT 0x40 /* transmitter empty */
#define LCR_DLAB 0x80

static uint16_t port = 0x3f8;

static const struct {
	const char *name;
	uint16_t port;
} uarts[] = { { "com1", 0x3f8 }, { "com2", 0x2f8 }, { "com3", 0x3e8 }, { "com4", 0x2e8 } };

static bool pick_port(const char *cmdline)
{
	char val[16];
	uint64_t p;

	if (!cmdline_get(cmdline, "console", val, sizeof(val)))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(uarts); i++) {
		if (strcmp(val, uarts[i].name) == 0) {
			port = uarts[i].port;
			return true;
		}
	}
	if (parse_u64(val, &p) && p > 0 && p <= 0xfff8) {
		port = (uint16_t)p;
		return true;
	}
	return false;
}

bool console_init(const char *cmdline)
{
	bool ok = pick_port(cmdline);

	outb(port + UART_IER, 0);          /* polled: no interrupts */
	outb(port + UART_LCR, LCR_DLAB);
	outb(port + UART_DATA, 1);         /* divisor 1: 115200 baud */
	outb(port + UART_IER, 0);
	outb(port + UART_LCR, 0x03);       /* 8N1 */
	outb(port + UART_FCR, 0x07);       /* FIFOs on and cleared */
	outb(port + UART_MCR, 0x03);       /* DTR, RTS */
	return ok;
}

uint16_t console_port(void)
{
	return port;
}

static void uart_put(char c)
{
	/* Bounded wait: a missing UART reads 0xff (THRE set), a wedged one must not hang tern. */
	for (int i = 0; i < 100000 && !(inb(port + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(port + UART_DATA, (uint8_t)c);
}

/* The console lock: the UART's transmit side, so that a line printed by one CPU is not
 * cut by another's. Taken by every CPU around one call below; nothing else is taken
 * while it is held (it is the innermost lock), and tern runs with interrupts off, so
 * its holder is never interrupted by code that wants it. */
static uint32_t tx_lock;

static void lock(void)
{
	while (__atomic_exchange_n(&tx_lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&tx_lock, __ATOMIC_RELAXED))
			cpu_relax();
}

static void unlock(void)
{
	__atomic_store_n(&tx_lock, 0, __ATOMIC_RELEASE);
}

/* A CPU that faults while it prints holds the lock it would need to report the fault,
 * and a CPU that died printing holds it for ever. Give a live holder time to finish
 * its line (the UART's bounded waits make any call end well within this), then take
 * the lock from whoever has it. */
void console_break_lock(void)
{
	for (uint32_t i = 0; i < 20000000 && __atomic_load_n(&tx_lock, __ATOMIC_RELAXED); i++)
		cpu_relax();
	unlock();
}

static void putc_locked(char c)
{
	if (c == '\n')
		uart_put('\r');
	uart_put(c);
}

void console_putc(char c)
{
	lock();
	putc_locked(c);
	unlock();
}

void console_write_raw(const uint8_t *s, size_t n)
{
	lock();
	while (n--)
		uart_put((char)*s++);
	unlock();
}

void console_write(const char *s, size_t n)
{
	lock();
	while (n--)
		putc_locked(*s++);
	unlock();
}

void console_drain(void)
{
	for (int i = 0; i < 1000000 && !(inb(port + UART_LSR) & LSR_TEMT); i++)
		cpu_relax();
}

int console_getc(void)
{
	uint8_t lsr = inb(port + UART_LSR);

	if (lsr == 0xff || !(lsr & LSR_DR))
		return -1;
	return inb(port + UART_DATA);
}

static void put(char c, void *ctx)
{
	(void)ctx;
	putc_locked(c);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	lock();
	n = fmt_vformat(put, NULL, fmt, ap);
	unlock();
	va_end(ap);
	return n;
}
