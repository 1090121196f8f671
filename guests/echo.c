/* Reads its COM1 by interrupts: proves the UART's receive interrupt reaches the guest
 * (IER, MCR.OUT2, IRQ4 through the 8259) and that a guest waiting in HLT wakes for
 * typed input. Each byte is written back as it comes, so an operator sees what they
 * type; CR or LF ends a line, which is answered with
 *
 *   \r\necho: <the line>\r\n
 *   echo: rx-irqs=<receive interrupts so far> bytes=<bytes so far> lines=<n>\r\n
 *
 * (CR LF counts as one end of line; backspace or DEL erases). The line "exit" ends it
 * with PASS. Arguments: fifo=0|1 (default 1: 16550A FIFO on, trigger level 1 byte),
 * apic=xapic|x2apic|off (how the PIC reaches the CPU: the LAPIC's LINT0 in virtual
 * wire mode, default xapic; or the LAPIC off). */
#include "guests/lib/guest.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/pic.h"

#define PIC_BASE 0x20
#define UART_IRQ 4

/* 16550A registers (PC16550D datasheet), offsets from COM1 */
#define RBR 0
#define IER 1
#define IIR 2 /* read */
#define FCR 2 /* write */
#define MCR 4
#define LSR 5
#define MSR 6

#define IER_RX 0x01              /* received data available (and FIFO timeout) */
#define IIR_NONE 0x01            /* no interrupt pending */
#define FCR_ON 0x07              /* enable, clear both FIFOs; trigger level 1 byte */
#define MCR_DTR_RTS_OUT2 0x0b    /* OUT2 gates the UART's interrupt onto IRQ4 on a PC */
#define LSR_DR 0x01
#define LSR_OE 0x02

#define MAX_ROUNDS 16    /* IIR reads per interrupt: a stuck UART cannot hold us */
#define RING 256         /* power of two */
#define LINE 128

static volatile uint32_t rx_irqs, overruns, dropped;
static volatile uint8_t ring[RING];
static volatile uint32_t head, tail; /* written by the handler, read by the main loop */

/* Everything the receiver holds, up to a ring's worth */
static void drain(void)
{
	for (int n = 0; n < RING; n++) {
		uint8_t lsr = inb(COM1 + LSR), c;

		if (lsr & LSR_OE)
			overruns++;
		if (!(lsr & LSR_DR))
			return;
		c = inb(COM1 + RBR);
		if (head - tail < RING)
			ring[head++ % RING] = c;
		else
			dropped++;
	}
}

/* Until the UART has nothing pending: every cause is cleared by reading its register
 * (LSR for line status, RBR for data, MSR for modem status, IIR itself for THR
 * empty), so IRQ4 falls and the next byte raises a new edge. */
static void uart_irq(uint32_t vector)
{
	rx_irqs++;
	for (int r = 0; r < MAX_ROUNDS && !(inb(COM1 + IIR) & IIR_NONE); r++) {
		drain();
		inb(COM1 + MSR);
	}
	pic_eoi(UART_IRQ);
}

static void uart_init(bool fifo)
{
	outb(COM1 + IER, 0);
	/* what came before now is kept: switching the FIFO on or off empties it */
	drain();
	outb(COM1 + FCR, fifo ? FCR_ON : 0);
	inb(COM1 + MSR); /* a stale modem status change */
	inb(COM1 + IIR);
	outb(COM1 + MCR, MCR_DTR_RTS_OUT2);
	outb(COM1 + IER, IER_RX);
}

static uint32_t lines, bytes;

static void line_done(const char *line)
{
	lines++;
	printf("\r\necho: %s\r\n", line);
	printf("echo: rx-irqs=%u bytes=%u lines=%u\r\n", rx_irqs, bytes, lines);
	if (strcmp(line, "exit"))
		return;
	printf("echo: done rx-irqs=%u bytes=%u lines=%u overruns=%u dropped=%u spurious=%u\n",
	       rx_irqs, bytes, lines, overruns, dropped, pic_spurious);
	printf("PASS\n");
	exit(EXIT_PASS);
}

/* One received byte, in the main loop (interrupts off) */
static void byte(char c)
{
	static char line[LINE];
	static size_t len;
	static char prev;

	bytes++;
	if (c == '\n' && prev == '\r') {
		prev = c;
		return;
	}
	prev = c;
	if (c == '\r' || c == '\n') {
		line[len] = 0;
		len = 0;
		line_done(line);
	} else if (c == '\b' || c == 0x7f) {
		if (len) {
			len--;
			serial_puts("\b \b");
		}
	} else {
		if (len < LINE - 1)
			line[len++] = c;
		serial_putc(c);
	}
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	const char *args = cmdline_args(mb_cmdline(mbi));
	char apic[8] = "xapic";
	enum lapic_mode mode;
	bool fifo;

	EXPECT(magic == MB_BOOT_MAGIC);
	fifo = arg_u32(args, "fifo", 1);
	arg_str(args, "apic", apic, sizeof(apic));
	if (!lapic_mode_parse(apic, &mode)) {
		printf("FAIL echo: apic= is none of xapic, x2apic, off\n");
		exit(EXIT_FAIL);
	}
	irq_init();
	pic_init(PIC_BASE);
	if (!lapic_init(mode)) {
		printf("FAIL echo: CPUID does not offer apic=%s\n", apic);
		exit(EXIT_FAIL);
	}
	lapic_virtual_wire();
	irq_set_handler(PIC_BASE + UART_IRQ, uart_irq);
	uart_init(fifo);
	pic_unmask(UART_IRQ);
	printf("echo: ready fifo=%u apic=%s; type lines, 'exit' ends\n", fifo, apic);
	for (;;) {
		/* interrupts are off here: a byte cannot slip in between test and HLT */
		if (head == tail) {
			irq_halt();
			continue;
		}
		byte(ring[tail++ % RING]);
	}
}
