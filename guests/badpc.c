/* Misprograms the PC platform one case at a time, as a hostile or buggy guest would,
 * printing "badpc: <case>" before and "badpc: <case> survived" after each, with what
 * it saw in between. The platform must go on (and log), whatever the guest gets:
 *
 *   pit-zero            PIT channel 0 with count 0, which means 65536 (54.9 ms)
 *   lvt-vector-low      LAPIC timer LVT with vector 5, then with the error LVT on
 *                       vector 2 as well; reads the ESR (SDM 3A, 10.5.3: illegal
 *                       vectors are not delivered, ESR bit 6 says so)
 *   eoi-idle            EOIs with nothing in service
 *   lapic-readonly      writes to the version, ISR, TMR, IRR, PPR, current count
 *   lapic-odd-access    1- and 2-byte, and misaligned LAPIC accesses (each may fault:
 *                       model specific, SDM 3A, 10.4.1)
 *   ioapic-absent-dest  I/O APIC pin 2 (the PIT) sent to an APIC ID nobody has
 *   pic-icw-short       an 8259 initialisation cut short, the PIT running; then a
 *                       proper one, which must deliver IRQ0 again
 *   rtc-fastest         RTC periodic interrupt at 8192 Hz, left running
 *   storm               LAPIC timer periodic, count 1, divide 1, handled with EOI,
 *                       for storm=N seconds of TSC (default 2), a progress line
 *                       every 10^7 loop iterations the storm leaves it
 *                       (storm-count=N, storm-div=N: a gentler storm)
 *   lapic-fp-read       an 8-byte x87 load (FILD) of the LAPIC version register; not
 *                       in the default list: SDM 3A, 10.4.1 makes any FP/MMX/SSE
 *                       access to an APIC register undefined, machine checks
 *                       included, so a platform may end the VM for it (32-bit code
 *                       has no other 8-byte load)
 *
 * wait=1 makes it wait for a line on COM1 (`vm send`) before its first case, so a test
 * can start it and set it going at a moment of its choosing: stopping it instead would
 * stop it in the middle of a case whose time runs on (the TSC does while a VM is paused).
 *
 * case=a,b,... runs some, in that order. A result the hardware rules out is marked
 * UNEXPECTED and makes the end FAIL; otherwise PASS. 32-bit, paging off, xAPIC. */
#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/ioapic.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/pic.h"
#include "guests/lib/pit.h"
#include "guests/lib/probe.h"
#include "guests/lib/tsc.h"

#define PIC_BASE 0x20
#define VEC_IOAPIC 0x31
#define VEC_STORM 0x41
#define VEC_LAPIC_ERROR 0xFE
#define ABSENT_APIC_ID 0x7E /* not 0xFF, xAPIC physical mode's broadcast */
#define RTC_IRQ 8
#define PIT_1KHZ 1193
#define STORM_PROGRESS 10000000u

static uint32_t khz, unexpected;

static volatile uint32_t pic_irqs[16], ioapic_irqs, error_irqs, rtc_irqs, storm_irqs;
static volatile uint64_t pit_tsc[8];
static volatile bool storm_on;
static uint64_t storm_end;

static void expect(bool ok, const char *what)
{
	if (ok)
		return;
	printf("badpc: UNEXPECTED: %s\n", what);
	unexpected++;
}

/* Interrupts on, for at most ms of TSC or until *n reaches target */
static void wait_for(volatile uint32_t *n, uint32_t target, uint32_t ms)
{
	uint64_t t0 = rdtsc();

	irq_enable();
	while ((!n || *n < target) && rdtsc() - t0 < (uint64_t)ms * khz)
		asm volatile("pause");
	irq_disable();
}

static void pic_irq(uint32_t vector)
{
	unsigned irq = vector - PIC_BASE;

	if (irq == PIT_IRQ && pic_irqs[irq] < ARRAY_SIZE(pit_tsc))
		pit_tsc[pic_irqs[irq]] = rdtsc();
	pic_irqs[irq]++;
	pic_eoi(irq);
}

static void reset_pic_counts(void)
{
	memset((void *)pic_irqs, 0, sizeof(pic_irqs));
}

static void case_pit_zero(void)
{
	uint32_t us;

	reset_pic_counts();
	pic_unmask(PIT_IRQ);
	pit_periodic(0);
	wait_for(&pic_irqs[PIT_IRQ], 5, 1000);
	pit_stop();
	pic_mask(PIT_IRQ);
	if (pic_irqs[PIT_IRQ] < 5) {
		printf("badpc: pit-zero: %u ticks in 1 s\n", pic_irqs[PIT_IRQ]);
		expect(false, "pit-zero: fewer than 5 ticks in a second");
		return;
	}
	/* four whole periods, from the first tick (its phase is unknown) */
	us = (pit_tsc[4] - pit_tsc[0]) * 1000 / khz / 4;
	printf("badpc: pit-zero: period-us=%u (65536 clocks: 54925)\n", us);
	expect(us > 54925 * 3 / 4 && us < 54925 * 5 / 4, "pit-zero: period not 65536 clocks");
}

static void lapic_error(uint32_t vector)
{
	error_irqs++;
	lapic_eoi();
}

static void wait_10ms(void *arg)
{
	wait_for(NULL, 0, 10);
}

static void illegal_timer_vector(const char *how)
{
	uint32_t esr;
	int vec;

	error_irqs = 0;
	lapic_esr();
	lapic_timer_start(1, LVT_TIMER_ONESHOT | 5, 1000);
	/* vector 5 delivered after all comes through the #BR gate: caught here */
	vec = probe_insn(wait_10ms, NULL);
	irq_disable();
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	if (vec != PROBE_NONE)
		lapic_eoi(); /* it went through the IRR and ISR like any other */
	esr = lapic_esr();
	printf("badpc: lvt-vector-low: %s: esr=0x%x error-irqs=%u delivered=%s\n", how, esr,
	       error_irqs, vec == PROBE_NONE ? "none" : vector_name(vec));
	expect(vec == PROBE_NONE, "lvt-vector-low: an illegal vector was delivered");
	expect(esr & ESR_RECV_ILLEGAL_VECTOR, "lvt-vector-low: ESR without 'received illegal "
	       "vector'");
}

static void case_lvt_vector_low(void)
{
	irq_set_handler(VEC_LAPIC_ERROR, lapic_error);
	lapic_write(LAPIC_LVT_ERROR, VEC_LAPIC_ERROR);
	illegal_timer_vector("timer vector 5");
	/* the error interrupt is itself illegal: a model that raised it again for
	 * that would never stop */
	lapic_write(LAPIC_LVT_ERROR, 2);
	illegal_timer_vector("timer vector 5, error vector 2");
	lapic_write(LAPIC_LVT_ERROR, VEC_LAPIC_ERROR);
	lapic_esr();
}

static uint32_t isr_bits(void)
{
	uint32_t any = 0;

	for (int i = 0; i < 8; i++)
		any |= lapic_read(LAPIC_ISR + 16 * i);
	return any;
}

static void case_eoi_idle(void)
{
	uint32_t before = isr_bits();

	for (int i = 0; i < 3; i++)
		lapic_eoi();
	wait_for(NULL, 0, 1);
	printf("badpc: eoi-idle: isr before=0x%x after=0x%x ppr=0x%x\n", before, isr_bits(),
	       lapic_read(LAPIC_PPR));
	expect(!isr_bits(), "eoi-idle: an ISR bit set");
}

static void case_lapic_readonly(void)
{
	static const struct {
		uint32_t reg;
		const char *name;
	} regs[] = {
		{ LAPIC_VERSION, "version" }, { LAPIC_ISR, "isr0" }, { LAPIC_ISR + 0x70, "isr7" },
		{ LAPIC_TMR, "tmr0" }, { LAPIC_IRR, "irr0" }, { LAPIC_PPR, "ppr" },
		{ LAPIC_TIMER_CUR, "timer-current" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
		uint32_t before = lapic_read(regs[i].reg), after;

		lapic_write(regs[i].reg, ~before);
		after = lapic_read(regs[i].reg);
		printf("badpc: lapic-readonly: %s 0x%x, wrote 0x%x, reads 0x%x\n", regs[i].name,
		       before, ~before, after);
		expect(after == before, "lapic-readonly: a read-only register changed");
	}
	printf("badpc: lapic-readonly: esr=0x%x\n", lapic_esr());
}

/* One access for probe_insn: the address and, for writes, the value */
struct access {
	uint32_t addr;
	uint64_t val;
};

static void read64(void *arg)
{
	struct access *a = arg;

	/* FILD: one 8-byte load; integers come back from FISTP unchanged */
	asm volatile("fninit; fildll (%1); fistpll %0" : "=m"(a->val) : "r"(a->addr));
}

static void read8(void *arg)
{
	struct access *a = arg;

	a->val = *(volatile uint8_t *)a->addr;
}

static void read16(void *arg)
{
	struct access *a = arg;

	a->val = *(volatile uint16_t *)a->addr;
}

static void read32(void *arg)
{
	struct access *a = arg;

	a->val = *(volatile uint32_t *)a->addr;
}

static void write8(void *arg)
{
	struct access *a = arg;

	*(volatile uint8_t *)a->addr = a->val;
}

static void write16(void *arg)
{
	struct access *a = arg;

	*(volatile uint16_t *)a->addr = a->val;
}

static void write32(void *arg)
{
	struct access *a = arg;

	*(volatile uint32_t *)a->addr = a->val;
}

static void case_lapic_odd_access(void)
{
	static const struct {
		const char *what;
		void (*fn)(void *);
		uint32_t off, val;
	} odd[] = {
		{ "read8", read8, LAPIC_ID + 3, 0 },
		{ "read16", read16, LAPIC_VERSION, 0 },
		{ "read32 at +4", read32, LAPIC_VERSION + 4, 0 },
		{ "read32 across two registers", read32, LAPIC_VERSION + 14, 0 },
		{ "read32 of a reserved offset", read32, 0x40, 0 },
		{ "write8", write8, LAPIC_TPR, 0x20 },
		{ "write16", write16, LAPIC_TPR, 0x30 },
		{ "write32 at +4", write32, LAPIC_TPR + 4, 0x40 },
		{ "write32 across two registers", write32, LAPIC_SVR - 2, 0xffffffff },
	};

	for (size_t i = 0; i < ARRAY_SIZE(odd); i++) {
		struct access a = { lapic_mmio + odd[i].off, odd[i].val };
		int vec = probe_insn(odd[i].fn, &a);

		if (vec != PROBE_NONE)
			printf("badpc: lapic-odd-access: %s 0x%x -> %s\n", odd[i].what, a.addr,
			       vector_name(vec));
		else if (odd[i].fn == write8 || odd[i].fn == write16 || odd[i].fn == write32)
			printf("badpc: lapic-odd-access: %s 0x%x <- 0x%x\n", odd[i].what, a.addr,
			       odd[i].val);
		else
			printf("badpc: lapic-odd-access: %s 0x%x -> 0x%llx\n", odd[i].what, a.addr,
			       (unsigned long long)a.val);
	}
	/* what the writes may have left: a raised TPR, a changed SVR */
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, 0x100 | LAPIC_SPURIOUS_VECTOR);
	printf("badpc: lapic-odd-access: esr=0x%x tpr=0x%x svr=0x%x\n", lapic_esr(),
	       lapic_read(LAPIC_TPR), lapic_read(LAPIC_SVR));
}

static void case_lapic_fp_read(void)
{
	struct access a = { lapic_mmio + LAPIC_VERSION, 0 };
	int vec;

	/* the FPU: Multiboot leaves CR0.EM and TS undefined */
	write_cr0(read_cr0() & ~(CR0_EM | CR0_TS));
	printf("badpc: lapic-fp-read: fild of 8 bytes at 0x%x (undefined: SDM 3A, 10.4.1)\n",
	       a.addr);
	vec = probe_insn(read64, &a);
	if (vec != PROBE_NONE)
		printf("badpc: lapic-fp-read: -> %s\n", vector_name(vec));
	else
		printf("badpc: lapic-fp-read: -> 0x%llx\n", (unsigned long long)a.val);
}

static void ioapic_irq(uint32_t vector)
{
	ioapic_irqs++;
	lapic_eoi();
}

static void case_ioapic_absent_dest(void)
{
	irq_set_handler(VEC_IOAPIC, ioapic_irq);
	ioapic_irqs = 0;
	ioapic_route(PIT_IOAPIC_PIN, VEC_IOAPIC, ABSENT_APIC_ID, 0);
	pit_periodic(PIT_1KHZ);
	wait_for(NULL, 0, 50);
	pit_stop();
	ioapic_mask(PIT_IOAPIC_PIN);
	printf("badpc: ioapic-absent-dest: pin %u -> apic id 0x%x, 50 ms at 1 kHz: %u "
	       "delivered here\n", PIT_IOAPIC_PIN, ABSENT_APIC_ID, ioapic_irqs);
	expect(ioapic_irqs == 0, "ioapic-absent-dest: delivered to an APIC it does not name");
}

static void case_pic_icw_short(void)
{
	uint32_t taken = irq_stats.taken, unhandled = irq_stats.unhandled;

	reset_pic_counts();
	/* ICW1 and ICW2 to the master, then the mask an OS would write next, which a
	 * master still waiting for ICW3 takes as ICW3; ICW1 alone to the slave */
	outb(0x20, 0x11);
	outb(0x21, PIC_BASE);
	outb(0x21, 0xfe);
	outb(0xa0, 0x11);
	pit_periodic(PIT_1KHZ);
	wait_for(NULL, 0, 50);
	printf("badpc: pic-icw-short: 50 ms at 1 kHz: irq0=%u other-irqs=%u unhandled=%u\n",
	       pic_irqs[0], irq_stats.taken - taken - pic_irqs[0],
	       irq_stats.unhandled - unhandled);
	pic_init(PIC_BASE);
	reset_pic_counts();
	pic_unmask(PIT_IRQ);
	wait_for(&pic_irqs[PIT_IRQ], 3, 200);
	pit_stop();
	pic_mask(PIT_IRQ);
	printf("badpc: pic-icw-short: initialised again: irq0=%u\n", pic_irqs[PIT_IRQ]);
	expect(pic_irqs[PIT_IRQ] >= 3, "pic-icw-short: no IRQ0 after a full initialisation");
}

/* MC146818: register A rate select 3 (8192 Hz, the fastest: rates 1 and 2 are slower
 * quirks), divider 010 (32.768 kHz time base); B.PIE; C is read to acknowledge */
#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define RTC_A_8192HZ 0x23
#define RTC_B_PIE 0x40

static uint8_t rtc_read(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static void rtc_write(uint8_t reg, uint8_t val)
{
	outb(RTC_INDEX, reg);
	outb(RTC_DATA, val);
}

static void rtc_irq(uint32_t vector)
{
	rtc_irqs++;
	rtc_read(RTC_C);
	pic_eoi(RTC_IRQ);
}

static void case_rtc_fastest(void)
{
	irq_set_handler(PIC_BASE + RTC_IRQ, rtc_irq);
	rtc_write(RTC_A, RTC_A_8192HZ);
	rtc_write(RTC_B, rtc_read(RTC_B) | RTC_B_PIE);
	rtc_read(RTC_C);
	pic_unmask(RTC_IRQ);
	wait_for(NULL, 0, 100);
	printf("badpc: rtc-fastest: %u interrupts in 100 ms (8192 Hz), left running\n", rtc_irqs);
	expect(rtc_irqs > 0, "rtc-fastest: no periodic interrupt");
}

/* Stops itself once the storm's time is up, as the main loop may never run again
 * while it lasts */
static void storm_irq(uint32_t vector)
{
	storm_irqs++;
	if (rdtsc() >= storm_end) {
		lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
		lapic_write(LAPIC_TIMER_INIT, 0);
		storm_on = false;
	}
	lapic_eoi();
}

static uint32_t storm_seconds, storm_count, storm_div;

static void case_storm(void)
{
	uint32_t loops = 0, lines = 0;
	uint64_t start = rdtsc();

	irq_set_handler(VEC_STORM, storm_irq);
	storm_end = start + (uint64_t)storm_seconds * khz * 1000;
	storm_on = true;
	lapic_timer_start(storm_div, LVT_TIMER_PERIODIC | VEC_STORM, storm_count);
	irq_enable();
	while (storm_on || rdtsc() < storm_end) {
		if (++loops % STORM_PROGRESS)
			continue;
		printf("badpc: storm: loops=%u irqs=%u rtc-irqs=%u ms=%u\n", loops, storm_irqs,
		       rtc_irqs, (uint32_t)((rdtsc() - start) / khz));
		lines++;
	}
	irq_disable();
	printf("badpc: storm: count=%u div=%u %u s: irqs=%u loops=%u progress-lines=%u "
	       "rtc-irqs=%u\n", storm_count, storm_div, storm_seconds, storm_irqs, loops, lines,
	       rtc_irqs);
}

static const struct {
	const char *name;
	void (*run)(void);
} cases[] = {
	{ "pit-zero", case_pit_zero },
	{ "lvt-vector-low", case_lvt_vector_low },
	{ "eoi-idle", case_eoi_idle },
	{ "lapic-readonly", case_lapic_readonly },
	{ "lapic-odd-access", case_lapic_odd_access },
	{ "ioapic-absent-dest", case_ioapic_absent_dest },
	{ "pic-icw-short", case_pic_icw_short },
	{ "rtc-fastest", case_rtc_fastest },
	{ "storm", case_storm },
	{ "lapic-fp-read", case_lapic_fp_read },
};

static bool run_case(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (strlen(cases[i].name) != len || strncmp(cases[i].name, name, len))
			continue;
		printf("badpc: %s\n", cases[i].name);
		cases[i].run();
		printf("badpc: %s survived\n", cases[i].name);
		return true;
	}
	return false;
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	const char *args = cmdline_args(mb_cmdline(mbi)), *source;
	char list[200] = "pit-zero,lvt-vector-low,eoi-idle,lapic-readonly,lapic-odd-access,"
			 "ioapic-absent-dest,pic-icw-short,rtc-fastest,storm";

	EXPECT(magic == MB_BOOT_MAGIC);
	arg_str(args, "case", list, sizeof(list));
	storm_seconds = arg_u32(args, "storm", 2);
	storm_count = arg_u32(args, "storm-count", 1);
	storm_div = arg_u32(args, "storm-div", 1);
	if (!storm_count || !storm_div || storm_div > 128 || (storm_div & (storm_div - 1))) {
		printf("FAIL badpc: storm-count=0, or storm-div not a power of two to 128\n");
		exit(EXIT_FAIL);
	}
	irq_init();
	pic_init(PIC_BASE);
	for (int irq = 0; irq < 16; irq++)
		if (irq != 7 && irq != 15) /* pic.c's: spurious ones */
			irq_set_handler(PIC_BASE + irq, pic_irq);
	khz = tsc_khz(&source);
	if (!khz || !lapic_init(LAPIC_XAPIC)) {
		printf("FAIL badpc: %s\n", khz ? "no xAPIC" : "no TSC rate");
		exit(EXIT_FAIL);
	}
	lapic_virtual_wire();
	printf("badpc: tsc-khz=%u from %s, lapic at 0x%x\n", khz, source, lapic_mmio);
	if (arg_u32(args, "wait", 0)) {
		char go[16];

		printf("badpc: waiting for a line on COM1\n");
		serial_getline(go, sizeof(go));
	}
	for (const char *s = list; *s;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (!run_case(s, len)) {
			printf("FAIL badpc: unknown case '%.*s'\n", (int)len, s);
			exit(EXIT_FAIL);
		}
		s += len + (end ? 1 : 0);
	}
	printf("badpc: done interrupts=%u unhandled=%u (last vector %u) spurious pic=%u "
	       "lapic=%u\n", irq_stats.taken, irq_stats.unhandled, irq_stats.last_unhandled,
	       pic_spurious, lapic_spurious);
	if (unexpected) {
		printf("FAIL badpc: %u unexpected results\n", unexpected);
		exit(EXIT_FAIL);
	}
	printf("PASS\n");
	exit(EXIT_PASS);
}
