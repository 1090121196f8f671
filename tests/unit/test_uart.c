#include <stdio.h>
#include <string.h>
#include "hv/dev/uart.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

/* IRQ4 as the PIC sees it. */
static struct {
	bool level;
	int rises, falls;
} irq;

static uint8_t sent[1024];
static unsigned nsent;
static struct dev_log log;
static char logged[512];

static void line_set(void *ctx, unsigned pin, bool level)
{
	assert_int_equal(pin, UART_COM1_IRQ);
	irq.rises += level && !irq.level;
	irq.falls += !level && irq.level;
	irq.level = level;
}

static void tx(void *ctx, uint8_t byte)
{
	assert_ptr_equal(ctx, sent);
	if (nsent < sizeof(sent))
		sent[nsent++] = byte;
}

static void log_emit(void *ctx, const char *line)
{
	strncat(logged, line, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

static void start(struct uart *u)
{
	memset(&irq, 0, sizeof(irq));
	memset(&log, 0, sizeof(log));
	nsent = 0;
	logged[0] = 0;
	log.emit = log_emit;
	uart_init(u, (struct irq_line){ line_set, NULL, UART_COM1_IRQ }, &log, tx, sent);
}

static unsigned input_str(struct uart *u, const char *s)
{
	return uart_input(u, (const uint8_t *)s, (unsigned)strlen(s));
}

static void test_divisor_latch(void **state)
{
	struct uart u;

	start(&u);
	assert_int_equal(uart_read(&u, LCR), 0x03);
	uart_write(&u, LCR, 0x83);
	assert_int_equal(uart_read(&u, DLL), 12);
	assert_int_equal(uart_read(&u, DLM), 0);
	uart_write(&u, DLL, 0x01);
	uart_write(&u, DLM, 0x02);
	assert_int_equal(nsent, 0); /* not a THR write */
	assert_int_equal(uart_read(&u, DLL), 0x01);
	assert_int_equal(uart_read(&u, DLM), 0x02);
	assert_int_equal(input_str(&u, "x"), 1);
	assert_int_equal(uart_read(&u, RBR), 0x01); /* DLL, and no pop */
	uart_write(&u, LCR, 0x03);
	assert_int_equal(uart_read(&u, IER), 0x00);
	uart_write(&u, IER, 0x05);
	assert_int_equal(uart_read(&u, IER), 0x05);
	assert_int_equal(uart_read(&u, LSR) & 0x01, 1);
	assert_int_equal(uart_read(&u, RBR), 'x');
	uart_write(&u, LCR, 0x83);
	assert_int_equal(uart_read(&u, DLM), 0x02);
	uart_write(&u, IER, 0xff); /* DLM takes all 8 bits; IER only its 4 */
	uart_write(&u, LCR, 0x03);
	assert_int_equal(uart_read(&u, IER), 0x05);
	uart_write(&u, IER, 0xff);
	assert_int_equal(uart_read(&u, IER), 0x0f);
	uart_write(&u, SCR, 0x5a);
	assert_int_equal(uart_read(&u, SCR), 0x5a);
	assert_int_equal(uart_read(&u, 8), 0xff);
}

static void test_fifo_on_off(void **state)
{
	struct uart u;
	char buf[21];

	start(&u);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(uart_read(&u, LSR), 0x60);
	/* FIFOs off: RBR holds one byte, the rest wait in the queue */
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE + 1);
	assert_int_equal(input_str(&u, "abc"), 3);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE - 2);
	assert_int_equal(uart_read(&u, LSR), 0x61);
	assert_int_equal(uart_read(&u, RBR), 'a');
	assert_int_equal(uart_read(&u, RBR), 'b');
	/* switching the FIFOs on empties the receiver: 'c' is lost */
	assert_int_equal(input_str(&u, "d"), 1);
	uart_write(&u, FCR, 0x01);
	assert_int_equal(uart_read(&u, IIR), 0xc1);
	assert_int_equal(uart_read(&u, RBR), 'd');
	assert_int_equal(uart_read(&u, LSR), 0x60);
	assert_int_equal(uart_read(&u, RBR), 'd'); /* an empty RBR shows the last byte */
	/* 16 in the FIFO, 4 in the queue; clearing the FIFO lets the queue in */
	assert_int_equal(input_str(&u, "ABCDEFGHIJKLMNOPQRST"), 20);
	uart_write(&u, FCR, 0x03);
	for (int i = 0; i < 4; i++)
		buf[i] = (char)uart_read(&u, RBR);
	buf[4] = 0;
	assert_string_equal(buf, "QRST");
	assert_int_equal(uart_read(&u, LSR) & 0x01, 0);
	/* and off again: emptied, then 1 byte deep; IIR's FIFO bits clear */
	assert_int_equal(input_str(&u, "xyz"), 3);
	uart_write(&u, FCR, 0x00);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(uart_read(&u, LSR), 0x60);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE + 1);
	assert_int_equal(input_str(&u, "yz"), 2);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE - 1);
	assert_int_equal(uart_read(&u, RBR), 'y');
	assert_int_equal(uart_read(&u, RBR), 'z');
	assert_string_equal(logged, "");
	uart_write(&u, FCR, 0xc2); /* without FCR0: nothing but a warning */
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_non_null(strstr(logged, "without FIFO enable"));
}

/* Data at the trigger level is "received data available"; below it, a character
 * timeout, at once (no baud timing). */
static void test_trigger_levels(void **state)
{
	static const uint8_t levels[4] = { 1, 4, 8, 14 };
	const uint8_t bytes[16] = "0123456789abcdef";

	for (unsigned i = 0; i < 4; i++) {
		struct uart u;

		start(&u);
		uart_write(&u, FCR, (uint8_t)(0x01 | i << 6));
		uart_write(&u, IER, 0x01);
		uart_write(&u, MCR, 0x08);
		assert_int_equal(uart_read(&u, IIR), 0xc1);
		uart_input(&u, bytes, levels[i] - 1u);
		if (levels[i] > 1) {
			assert_int_equal(uart_read(&u, IIR), 0xcc);
			assert_true(irq.level);
		}
		uart_input(&u, bytes, 1);
		assert_int_equal(uart_read(&u, IIR), 0xc4);
		assert_true(irq.level);
		uart_read(&u, RBR);
		assert_int_equal(uart_read(&u, IIR), levels[i] > 1 ? 0xcc : 0xc1);
		while (uart_read(&u, LSR) & 0x01)
			uart_read(&u, RBR);
		assert_int_equal(uart_read(&u, IIR), 0xc1);
		assert_false(irq.level);
	}
}

/* All four sources at once, then each cleared by its own rule, in priority order. */
static void test_priorities(void **state)
{
	struct uart u;

	start(&u);
	uart_write(&u, MCR, 0x18); /* loopback, OUT2: DCD stays, CTS and DSR fall */
	uart_write(&u, IER, 0x0f);
	uart_write(&u, THR, 'a');
	uart_write(&u, THR, 'b'); /* FIFOs off: overwrites 'a', OE */
	assert_int_equal(nsent, 0);
	assert_true(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x06);
	assert_int_equal(uart_read(&u, IIR), 0x06);
	assert_int_equal(uart_read(&u, LSR), 0x63); /* DR, OE, THRE, TEMT */
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_int_equal(uart_read(&u, RBR), 'b');
	assert_int_equal(uart_read(&u, IIR), 0x02); /* and this read clears it */
	assert_int_equal(uart_read(&u, IIR), 0x00);
	assert_true(irq.level);
	assert_int_equal(uart_read(&u, MSR), 0x83); /* DCD; DCTS, DDSR */
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_false(irq.level);
	assert_int_equal(irq.falls, 1); /* MSI held the line up through the THR writes */
}

static void test_thre_rules(void **state)
{
	struct uart u;

	start(&u);
	uart_write(&u, MCR, 0x08);
	uart_write(&u, THR, 'a'); /* ETBEI off: no interrupt */
	assert_false(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	uart_write(&u, IER, 0x02); /* enabled with THR empty: raised */
	assert_true(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_false(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	uart_write(&u, IER, 0x02); /* already enabled: not raised again */
	assert_int_equal(uart_read(&u, IIR), 0x01);
	uart_write(&u, IER, 0x00);
	uart_write(&u, IER, 0x02);
	assert_int_equal(irq.rises, 2);
	/* a THR write clears it and, the byte gone, it is back: a fresh edge */
	uart_write(&u, THR, 'b');
	assert_int_equal(irq.falls, 2);
	assert_int_equal(irq.rises, 3);
	assert_true(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_false(irq.level);
	uart_write(&u, THR, 'c');
	assert_true(irq.level);
	assert_int_equal(irq.rises, 4);
	assert_int_equal(nsent, 3);
	/* a higher source hides THRE, which stays pending under it */
	uart_write(&u, IER, 0x03);
	input_str(&u, "x");
	assert_int_equal(uart_read(&u, IIR), 0x04);
	uart_read(&u, RBR);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_int_equal(uart_read(&u, IIR), 0x01);
}

/* On a PC the interrupt reaches IRQ4 only while MCR.OUT2 is set. */
static void test_out2_gate(void **state)
{
	struct uart u;

	start(&u);
	uart_write(&u, IER, 0x01);
	input_str(&u, "x");
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_false(irq.level);
	uart_write(&u, MCR, 0x08);
	assert_true(irq.level);
	uart_write(&u, MCR, 0x03);
	assert_false(irq.level);
	assert_int_equal(uart_read(&u, IIR), 0x04);
	uart_write(&u, MCR, 0x0b);
	assert_true(irq.level);
	uart_read(&u, RBR);
	assert_false(irq.level);
}

static void test_loopback(void **state)
{
	struct uart u;
	char buf[8] = { 0 };

	start(&u);
	assert_int_equal(uart_read(&u, MSR), 0xb0); /* a connected line: CTS, DSR, DCD */
	uart_write(&u, MCR, 0x10);
	assert_int_equal(uart_read(&u, MSR), 0x0b); /* all fell: DCTS, DDSR, DDCD */
	assert_int_equal(uart_read(&u, MSR), 0x00);
	uart_write(&u, MCR, 0x1f);
	assert_int_equal(uart_read(&u, MSR), 0xfb); /* RI rose: no TERI */
	uart_write(&u, MCR, 0x1b);
	assert_int_equal(uart_read(&u, MSR), 0xb4); /* RI fell: TERI */
	uart_write(&u, MCR, 0x11);
	assert_int_equal(uart_read(&u, MSR), 0x29); /* DSR stays; DCTS, DDCD */
	/* bytes go to the receiver, not out; host input waits for the loop to end */
	uart_write(&u, FCR, 0x01);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE);
	assert_int_equal(input_str(&u, "host"), 4);
	uart_write(&u, THR, 'l');
	uart_write(&u, THR, 'p');
	assert_int_equal(nsent, 0);
	assert_int_equal(uart_read(&u, RBR), 'l');
	assert_int_equal(uart_read(&u, RBR), 'p');
	assert_int_equal(uart_read(&u, LSR), 0x60);
	uart_write(&u, MCR, 0x00);
	assert_int_equal(uart_read(&u, MSR), 0xb9);
	for (int i = 0; i < 4; i++)
		buf[i] = (char)uart_read(&u, RBR);
	assert_string_equal(buf, "host");
	/* a 17th byte into the full FIFO is lost, and OE says so once */
	uart_write(&u, MCR, 0x10);
	for (int i = 0; i < 17; i++)
		uart_write(&u, THR, (uint8_t)('A' + i));
	assert_int_equal(uart_read(&u, LSR), 0x63);
	assert_int_equal(uart_read(&u, LSR), 0x61);
	for (int i = 0; i < 16; i++)
		assert_int_equal(uart_read(&u, RBR), 'A' + i);
	assert_int_equal(uart_read(&u, LSR), 0x60);
	uart_write(&u, MCR, 0x00);
	assert_int_equal(nsent, 0);
}

/* The queue feeds the FIFO as the guest reads it; host input never overruns. */
static void test_input_queue(void **state)
{
	struct uart u;
	uint8_t in[300];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	start(&u);
	uart_write(&u, FCR, 0x01);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE + UART_FIFO_SIZE);
	assert_int_equal(uart_input(&u, in, 40), 40);
	assert_int_equal(uart_input_room(&u), UART_QUEUE_SIZE + UART_FIFO_SIZE - 40);
	for (unsigned i = 0; i < 40; i++) {
		assert_int_equal(uart_read(&u, LSR), 0x61);
		assert_int_equal(uart_read(&u, RBR), i);
	}
	assert_int_equal(uart_read(&u, LSR), 0x60);
	assert_int_equal(uart_input(&u, in, 300), UART_QUEUE_SIZE + UART_FIFO_SIZE);
	assert_int_equal(uart_input_room(&u), 0);
	assert_int_equal(uart_input(&u, in, 1), 0);
	assert_int_equal(uart_read(&u, RBR), 0);
	assert_int_equal(uart_input_room(&u), 1);
	for (unsigned i = 1; i < UART_QUEUE_SIZE + UART_FIFO_SIZE; i++)
		assert_int_equal(uart_read(&u, RBR), i & 0xff);
	assert_int_equal(uart_read(&u, LSR), 0x60);
}

static void test_tx_order(void **state)
{
	struct uart u;

	start(&u);
	for (const char *p = "hello"; *p; p++)
		uart_write(&u, THR, (uint8_t)*p);
	assert_int_equal(nsent, 5);
	assert_memory_equal(sent, "hello", 5);
	/* 7 data bits: the top bit is not sent, nor received */
	uart_write(&u, LCR, 0x02);
	uart_write(&u, THR, 0xff);
	assert_int_equal(sent[5], 0x7f);
	uart_input(&u, (const uint8_t *)"\xe1", 1);
	assert_int_equal(uart_read(&u, RBR), 0x61);
	uart_write(&u, LSR, 0);
	uart_write(&u, MSR, 0);
	assert_non_null(strstr(logged, "LSR or MSR"));
	assert_null(strstr(strstr(logged, "LSR or MSR") + 1, "LSR or MSR")); /* said once */
}

static void test_record(void **state)
{
	struct uart a, b;
	struct uart_state bad;
	uint8_t buf[512], again[512];
	uint8_t in[40];
	char err[120];
	size_t n;

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('!' + i);
	start(&a);
	uart_write(&a, FCR, 0x81); /* trigger 8 */
	uart_write(&a, IER, 0x03);
	uart_write(&a, MCR, 0x0b);
	uart_write(&a, SCR, 0x42);
	uart_input(&a, in, 40);
	for (int i = 0; i < 5; i++)
		uart_read(&a, RBR); /* the FIFO wraps around its end */
	assert_true(irq.level);
	n = vms_encode(&uart_vms, &a.s, buf);
	assert_int_equal(n, vms_size(&uart_vms));

	irq.level = false;
	memset(&b, 0, sizeof(b));
	b.irq = a.irq;
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), 0);
	assert_int_equal(vms_encode(&uart_vms, &b.s, again), n);
	assert_memory_equal(buf, again, n);
	uart_restore(&b);
	assert_true(irq.level);
	assert_int_equal(uart_read(&b, IIR), 0xc4);
	assert_int_equal(uart_read(&b, SCR), 0x42);
	for (unsigned i = 5; i < 40; i++)
		assert_int_equal(uart_read(&b, RBR), in[i]);
	assert_int_equal(uart_read(&b, IIR), 0xc2); /* THRE, still pending */

	bad = a.s;
	bad.ier = 0x10;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: ier = 0x10, above its maximum 0xf");
	bad = a.s;
	bad.q_count = 257;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: q_count = 0x101, above its maximum 0x100");
	bad = a.s;
	bad.rx_head = 16;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: rx_head = 0x10, above its maximum 0xf");
	bad = a.s;
	bad.fcr = 0x02;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: fcr = 0x2 holds bits that are not kept");
	bad = a.s;
	bad.fcr = 0;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: rx_count = 16 with the FIFOs off");
	bad = a.s;
	bad.rx_count = 3;
	n = vms_encode(&uart_vms, &bad, buf);
	assert_int_equal(vms_decode(&uart_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "uart: q_count = 19 while the receiver has room");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_divisor_latch),
		cmocka_unit_test(test_fifo_on_off),
		cmocka_unit_test(test_trigger_levels),
		cmocka_unit_test(test_priorities),
		cmocka_unit_test(test_thre_rules),
		cmocka_unit_test(test_out2_gate),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_input_queue),
		cmocka_unit_test(test_tx_order),
		cmocka_unit_test(test_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
