/* Exercises the local APIC accesses that APIC virtualization takes over, and checks
 * what they mean: TPR writes and reads, a self-IPI held back by the TPR and taken the
 * moment the TPR falls below its class, PPR and ISR while it is in service, EOI, a
 * level-triggered vector from the I/O APIC sent again after each EOI, and in long
 * mode CR8, read back through the x2APIC TPR. Whichever path tern runs, the
 * guest sees the same; the system test counts the exits each path took (`info apic`).
 *
 * It runs in the first mode, then switches to the other (xAPIC to x2APIC, or x2APIC
 * through disabled to xAPIC) and runs again, then enters long mode in x2APIC mode.
 *
 * Arguments: apic=xapic|x2apic (the first mode, default xapic), n=N (iterations,
 *            default 1000), base=ADDR (IA32_APIC_BASE moved there first; default
 *            where it is), cr8=1|0 (the long-mode part, default 1)
 *
 * Prints, for each mode and then for long mode,
 *   apicpath: apic=<mode> base=<addr> tpr=<n> ipi=<n> masked=ok level=10
 *             tpr-cycles=<c> ipi-cycles=<c>
 *   apicpath: cr8=<n> masked=ok cr8-cycles=<c>
 * (cycles: guest TSC per iteration), then PASS, or FAIL and what went wrong.
 *
 * Built twice: 32-bit (the APIC's two modes, paging off, the irq library) and 64-bit
 * (CR8 exists only there; the xAPIC page is not mapped there, so x2APIC). */
#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"

#define VEC_HELD 0x45 /* priority class 4 */
#define VEC_IPI 0x41
#define MSR_X2APIC_TPR 0x808
#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_IRR2 0x822 /* vectors 0x40-0x5f */
#define MSR_X2APIC_SELF_IPI 0x83f
#define SPIN 1000

/* Handed from the 32-bit half to the 64-bit one */
struct ap_args {
	uint32_t n;
};

static void spin(void)
{
	for (int i = 0; i < SPIN; i++)
		asm volatile("pause");
}

#ifdef __x86_64__

#include "guests/lib/segments.h"

#define GATE_INTR64 0x8e00

struct gate64 {
	uint16_t off_lo, sel, type, off_mid;
	uint32_t off_hi, reserved;
} __packed;

static struct gate64 idt[256] __attribute__((aligned(16)));
extern char trap64_stubs[]; /* entry64.S: the exception stubs, 16 bytes apart */
void held64(void);
volatile uint32_t taken64 __attribute__((used));

/* The held-back vector's handler: count, EOI (x2APIC), return. */
asm(".text\n"
    ".globl held64\n"
    "held64:\n"
    "	push %rax\n"
    "	push %rcx\n"
    "	push %rdx\n"
    "	lock incl taken64(%rip)\n"
    "	mov $0x80b, %ecx\n"
    "	xor %eax, %eax\n"
    "	xor %edx, %edx\n"
    "	wrmsr\n"
    "	pop %rdx\n"
    "	pop %rcx\n"
    "	pop %rax\n"
    "	iretq\n");

static void gate(unsigned v, uint64_t h)
{
	idt[v] = (struct gate64){ h & 0xffff, SEL_CODE64, GATE_INTR64, (h >> 16) & 0xffff,
				  h >> 32, 0 };
}

static void setup_idt(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed desc = { sizeof(idt) - 1, (uint64_t)idt };

	for (unsigned v = 0; v < 32; v++)
		gate(v, (uint64_t)trap64_stubs + 16 * v);
	gate(VEC_HELD, (uint64_t)held64);
	asm volatile("lidt %0" : : "m"(desc));
}

static uint64_t read_cr8(void)
{
	uint64_t v;

	asm volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static void write_cr8(uint64_t v)
{
	asm volatile("mov %0, %%cr8" : : "r"(v) : "memory");
}

static __noreturn void fail(const char *why, uint64_t got)
{
	printf("FAIL apicpath: %s (0x%llx)\n", why, (unsigned long long)got);
	exit(EXIT_FAIL);
}

/* SDM 10.8.6: CR8[3:0] is TPR[7:4]; writing CR8 clears TPR[3:0]. The APIC is in
 * x2APIC mode here. */
static uint64_t cr8_round_trips(const struct ap_args *a)
{
	uint64_t t0 = rdtsc(), v;

	for (uint32_t i = 0; i < a->n; i++) {
		write_cr8(i & 15);
		if ((v = read_cr8()) != (i & 15))
			fail("CR8 reads back another value", v);
		if ((v = rdmsr(MSR_X2APIC_TPR)) != (i & 15) << 4)
			fail("the TPR does not follow CR8", v);
	}
	wrmsr(MSR_X2APIC_TPR, 0x7a);
	if ((v = read_cr8()) != 7)
		fail("CR8 does not follow the TPR", v);
	write_cr8(0);
	return a->n ? (rdtsc() - t0) / a->n : 0;
}

/* A vector of class 4 waits under CR8 5 and 4, and comes the moment CR8 is 3: with a
 * TPR shadow alone that moment is a TPR-below-threshold exit. */
static void held_by_cr8(void)
{
	uint64_t v;

	asm volatile("cli");
	write_cr8(5);
	wrmsr(MSR_X2APIC_SELF_IPI, VEC_HELD);
	asm volatile("sti");
	spin();
	if (taken64)
		fail("a vector of class 4 was taken under CR8 5", taken64);
	if (!((v = rdmsr(MSR_X2APIC_IRR2)) & (1u << (VEC_HELD - 0x40))))
		fail("the held vector is not in IRR", v);
	write_cr8(4);
	spin();
	if (taken64)
		fail("a vector of class 4 was taken under CR8 4", taken64);
	write_cr8(3);
	if ((v = taken64) != 1)
		fail("not taken right after CR8 fell below its class", v);
	write_cr8(0);
}

void guest_main64(void *arg)
{
	struct ap_args a = *(struct ap_args *)arg;
	uint64_t cycles;

	setup_idt();
	cycles = cr8_round_trips(&a);
	held_by_cr8();
	printf("apicpath: cr8=%u masked=ok cr8-cycles=%llu\n", a.n, (unsigned long long)cycles);
	printf("PASS\n");
	exit(EXIT_PASS);
}

#else /* the 32-bit half */

#include "guests/lib/ioapic.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/paging.h"
#include "guests/lib/pic.h"

#define MSR_APIC_BASE 0x1b
#define LAPIC_ICR_LO 0x300
#define LAPIC_SELF_IPI 0x3f0 /* x2APIC only: MSR 0x83f */
#define ICR_SELF ((1u << 18) | (1u << 14)) /* shorthand self, assert; fixed, edge */
#define VEC_LEVEL 0x52
#define PCI_PIN 16     /* an idle PCI line is high: active high, it is asserted at once */
#define LEVEL_TIMES 10
#define LEVEL_SPINS 1000000

static volatile uint32_t taken, ppr_in, isr_in, level_taken;

static __noreturn void fail(const char *why, uint32_t got)
{
	printf("FAIL apicpath: %s (0x%x)\n", why, got);
	exit(EXIT_FAIL);
}

static bool vec_bit(uint32_t base, unsigned v)
{
	return lapic_read(base + v / 32 * 16) >> (v % 32) & 1;
}

static void self_ipi(uint8_t v)
{
	if (lapic_mode == LAPIC_X2APIC)
		lapic_write(LAPIC_SELF_IPI, v);
	else
		lapic_write(LAPIC_ICR_LO, ICR_SELF | v);
}

static void on_ipi(uint32_t vector)
{
	taken++;
	lapic_eoi();
}

/* In service: PPR is the vector's class, its ISR bit is set (SDM 10.8.3.1). */
static void on_held(uint32_t vector)
{
	taken++;
	ppr_in = lapic_read(LAPIC_PPR);
	isr_in = vec_bit(LAPIC_ISR, vector);
	lapic_eoi();
}

/* The line stays asserted: after each EOI the I/O APIC sends the vector again, until
 * the handler masks the pin. */
static void on_level(uint32_t vector)
{
	if (++level_taken >= LEVEL_TIMES)
		ioapic_mask(PCI_PIN);
	lapic_eoi();
}

/* A level-triggered vector is sent again only once its EOI cleared the I/O APIC's
 * remote IRR (SDM 10.8.5): with virtual-interrupt delivery that EOI must exit. */
static void level_line(void)
{
	uint32_t v;

	level_taken = 0;
	irq_set_handler(VEC_LEVEL, on_level);
	irq_enable();
	ioapic_route(PCI_PIN, VEC_LEVEL, (uint8_t)lapic_id(), IOAPIC_LEVEL);
	for (uint32_t i = 0; i < LEVEL_SPINS && level_taken < LEVEL_TIMES; i++)
		asm volatile("pause");
	irq_disable();
	if ((v = level_taken) != LEVEL_TIMES)
		fail("a level-triggered vector came this often, not again after its EOI", v);
	if (!vec_bit(LAPIC_TMR, VEC_LEVEL) || vec_bit(LAPIC_ISR, VEC_LEVEL))
		fail("TMR clear or ISR still set for the level-triggered vector", 0);
}

static uint64_t tpr_round_trips(uint32_t n)
{
	uint64_t t0 = rdtsc();
	uint32_t v;

	for (uint32_t i = 0; i < n; i++) {
		lapic_write(LAPIC_TPR, (i * 16) & 0xff);
		if ((v = lapic_read(LAPIC_TPR)) != ((i * 16) & 0xff))
			fail("the TPR reads back another value", v);
	}
	lapic_write(LAPIC_TPR, 0);
	return n ? (rdtsc() - t0) / n : 0;
}

static void held_by_tpr(void)
{
	uint32_t v;

	irq_set_handler(VEC_HELD, on_held);
	taken = 0;
	irq_disable();
	lapic_write(LAPIC_TPR, 0x50);
	self_ipi(VEC_HELD);
	irq_enable();
	spin();
	if (taken)
		fail("a vector of class 4 was taken under TPR 0x50", taken);
	if (!vec_bit(LAPIC_IRR, VEC_HELD))
		fail("the held vector is not in IRR", lapic_read(LAPIC_IRR + 0x20));
	if ((v = lapic_read(LAPIC_PPR)) != 0x50)
		fail("PPR is not the TPR", v);
	lapic_write(LAPIC_TPR, 0x40);
	spin();
	if (taken)
		fail("a vector of class 4 was taken under TPR 0x40", taken);
	lapic_write(LAPIC_TPR, 0x30);
	if ((v = taken) != 1)
		fail("not taken right after the TPR fell below its class", v);
	if (ppr_in != 0x40 || !isr_in)
		fail("in service, PPR and ISR say otherwise (PPR, ISR bit)", ppr_in << 8 | isr_in);
	if ((v = lapic_read(LAPIC_PPR)) != 0x30)
		fail("after the EOI PPR is not the TPR", v);
	if (vec_bit(LAPIC_ISR, VEC_HELD) || vec_bit(LAPIC_IRR, VEC_HELD))
		fail("the vector is still in ISR or IRR after its EOI", 0);
	lapic_write(LAPIC_TPR, 0);
}

static uint64_t ipi_round_trips(uint32_t n)
{
	uint64_t t0 = rdtsc();

	irq_set_handler(VEC_IPI, on_ipi);
	taken = 0;
	irq_enable();
	for (uint32_t i = 0; i < n; i++)
		self_ipi(VEC_IPI);
	irq_disable();
	if (taken != n)
		fail("self-IPIs taken", taken);
	return n ? (rdtsc() - t0) / n : 0;
}

/* The TPR, a held-back vector and self-IPIs in the APIC's current mode. */
static void run_mode(uint32_t n)
{
	uint64_t tpr_cycles, ipi_cycles;
	uint32_t esr;

	tpr_cycles = tpr_round_trips(n);
	held_by_tpr();
	level_line();
	ipi_cycles = ipi_round_trips(n);
	if ((esr = lapic_esr()))
		fail("the ESR reports errors", esr);
	printf("apicpath: apic=%s base=0x%x tpr=%u ipi=%u masked=ok level=%u tpr-cycles=%llu "
	       "ipi-cycles=%llu\n", lapic_mode_name(lapic_mode),
	       (uint32_t)rdmsr(MSR_APIC_BASE) & 0xfffff000u, n, n, LEVEL_TIMES,
	       (unsigned long long)tpr_cycles, (unsigned long long)ipi_cycles);
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	static struct ap_args a;
	const char *args = cmdline_args(mb_cmdline(mbi));
	char mode[8] = "xapic";
	enum lapic_mode first;
	uint32_t base;

	EXPECT(magic == MB_BOOT_MAGIC);
	arg_str(args, "apic", mode, sizeof(mode));
	if (!lapic_mode_parse(mode, &first) || first == LAPIC_OFF)
		fail("apic= is neither xapic nor x2apic", 0);
	a.n = arg_u32(args, "n", 1000);
	base = arg_u32(args, "base", 0);
	if (base & 0xfff)
		fail("base= is not page aligned", base);
	irq_init();
	pic_init(0x20); /* off the exception vectors, masked */
	if (base) /* SDM 10.4.5: relocated before the APIC is used; kept by every switch */
		wrmsr(MSR_APIC_BASE, (rdmsr(MSR_APIC_BASE) & 0xfff) | base);
	/* the first mode, then the other (x2APIC to xAPIC through disabled, SDM 10.12.5) */
	if (!lapic_init(first))
		fail("CPUID does not offer that apic= mode", 0);
	run_mode(a.n);
	if (!lapic_init(first == LAPIC_XAPIC ? LAPIC_X2APIC : LAPIC_XAPIC))
		fail("CPUID does not offer x2APIC mode", 0);
	run_mode(a.n);
	if (!arg_u32(args, "cr8", 1)) {
		printf("PASS\n");
		exit(EXIT_PASS);
	}
	/* long mode checks CR8 against the x2APIC TPR */
	if (lapic_mode != LAPIC_X2APIC && !lapic_init(LAPIC_X2APIC))
		fail("CPUID does not offer x2APIC mode", 0);
	enter_long_mode(mb_ram_top(mbi), BLOB64_BASE, &a);
}

#endif
