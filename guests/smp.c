/* Brings up a multiprocessor VM the way an OS does and checks that its CPUs run and
 * reach each other: finds the CPUs in the ACPI MADT, starts every AP with INIT, SIPI,
 * SIPI (SDM 3A, 9.4.4.1; MP spec B.4) into a real-mode trampoline at TRAMP_BASE that
 * enters protected mode and calls ap_main(), then sends IPIs each way an OS does and
 * watches every CPU's progress counter. xAPIC mode, paging off.
 *
 * Arguments: n=N (fixed and NMI IPIs per AP, default 100), seconds=N (heartbeat,
 *            default 3; 0: forever)
 *
 * Prints
 *   smp: cpus=<n> apic-ids=<id,id,...> bsp=<id>
 *   smp: progress pages=<first>-<last>         (a page per CPU: BSP, then APs)
 *   smp: up=<k> of <n-1> aps
 *   smp: ipi=<round trips> nmi=<taken> logical=<taken> others=<taken>
 *   smp: beat=<k> progress=<bsp>,<ap>,... pings=ok  (each second; APs by APIC ID; each
 *                                                   AP answered a fixed IPI)
 * where ipi counts fixed IPIs (physical destination) each answered by the AP with an
 * IPI back, nmi the NMIs the APs took, logical the APs that took one fixed IPI sent to
 * all of them at once by logical destination (the flat model's 8 bits reach APIC IDs
 * 0-7 only), others those that took one sent with the all-excluding-self shorthand;
 * each the sum over all APs. Then PASS, or FAIL lines naming what went wrong: no
 * MADT, an AP that did not come up, an AP that missed IPIs, or one whose counter stood
 * still during the heartbeat. */
#include "guests/lib/guest.h"
#include "guests/lib/acpi.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/pic.h"
#include "guests/lib/segments.h"
#include "guests/lib/trap.h"
#include "guests/lib/tsc.h"

#define MAX_CPUS 64
#define NO_CPU 0xFF /* not an xAPIC ID a CPU can have: 0xFF is the broadcast */
#define AP_STACK_SIZE 4096
/* The APs start in real mode at page TRAMP_BASE >> 12: below 1 MiB, page aligned,
 * RAM that neither the loader (QEMU's Multiboot info is at 0x9000) nor we use. */
#define TRAMP_BASE 0x8000

#define VEC_PING 0x50
#define VEC_PONG 0x51
#define VEC_LOGICAL 0x52
#define VEC_OTHERS 0x53
#define VEC_NMI 2

/* SDM 3A, table 10-1 and figure 10-12 */
#define LAPIC_LDR 0xD0
#define LAPIC_DFR 0xE0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310 /* destination in bits 24-31 */
#define ICR_FIXED (0u << 8)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_LOGICAL (1u << 11)
#define ICR_BUSY (1u << 12) /* delivery status: send pending */
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)
#define SVR_ENABLE (1u << 8)
#define DFR_FLAT 0xFFFFFFFFu
#define LDR_FLAT_IDS 8 /* the flat model's 8-bit mask: one bit for each APIC ID 0-7 */

/* Used inside the assembly below too: plain numbers */
#define CR0_PE 0x1
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define STR(x) #x
#define XSTR(x) STR(x)

/* One per CPU, a page each: the counters do not share a cache line, and a hypervisor's
 * dirty-page tracking sees each CPU's writes on a page of its own. */
struct cpu {
	uint32_t apic_id;
	volatile uint32_t up;       /* set by the AP in ap_main() */
	volatile uint32_t progress; /* bumped by its CPU while it waits */
	volatile uint32_t ping, nmi, logical, others; /* IPIs taken, by their handlers */
	uint32_t trips;             /* BSP only: pings answered */
} __attribute__((aligned(4096)));

static struct cpu cpus[MAX_CPUS]; /* [0] the BSP, then the APs by APIC ID */
static uint8_t cpu_of[256];       /* APIC ID -> index in cpus; NO_CPU if not listed */
static uint32_t nr_cpus, bsp_id;
static volatile uint32_t pongs;
static volatile uint32_t stray_id = NO_CPU; /* a CPU up that the MADT did not list */
static uint64_t second;                     /* TSC cycles */
static bool failed;

/* Read by the assembly below */
struct {
	uint16_t limit;
	uint32_t base;
} __packed ap_idtr;
uint32_t ap_next; /* the next free AP stack */
uint8_t ap_stacks[MAX_CPUS - 1][AP_STACK_SIZE] __attribute__((aligned(16)));
extern char ap_tramp[], ap_tramp_end[], nmi_entry[];
__noreturn void ap_main(void);
void on_nmi(void);

/* The AP trampoline, copied to TRAMP_BASE. A STARTUP IPI with vector v starts the AP
 * in real mode at CS = v << 8, IP = 0 (SDM 3A, 9.4.4.1), so the code addresses its own
 * data relative to CS. It loads a GDT with the selectors of crt0.S's (the IDT's gates
 * name SEL_CODE32), clears the CD and NW bits INIT set (SDM 3A, table 9-1: with them
 * the AP would run uncached) and sets PE, then jumps to the 32-bit code linked at
 * 1 MiB. That GDT stays in use, so the page is never reused. */
asm(".section .text.ap_tramp, \"ax\"\n"
    ".code16\n"
    ".globl ap_tramp\n"
    "ap_tramp:\n"
    "	cli\n"
    "	mov %cs, %ax\n"
    "	mov %ax, %ds\n"
    "	lgdtl ap_gdt_desc - ap_tramp\n"
    "	mov %cr0, %eax\n"
    "	and $~(" XSTR(CR0_CD) " | " XSTR(CR0_NW) "), %eax\n"
    "	or $" XSTR(CR0_PE) ", %eax\n"
    "	mov %eax, %cr0\n"
    "	ljmpl $" XSTR(SEL_CODE32) ", $ap_entry32\n"
    "	.balign 8\n"
    /* as crt0.S's, accessed bits preset: the CPU need not write the page */
    "ap_gdt:\n"
    "	.quad 0\n"
    "	.quad 0x00cf9b000000ffff\n" /* SEL_CODE32 */
    "	.quad 0x00cf93000000ffff\n" /* SEL_DATA */
    "ap_gdt_desc:\n"
    "	.word ap_gdt_desc - ap_gdt - 1\n"
    "	.long " XSTR(TRAMP_BASE) " + ap_gdt - ap_tramp\n"
    ".globl ap_tramp_end\n"
    "ap_tramp_end:\n"
    ".code32\n"
    ".text\n"
    /* Flat 32-bit now: the BSP's IDT, then a stack of our own, taken by an atomic
     * increment since APs may run this at once. */
    "ap_entry32:\n"
    "	mov $" XSTR(SEL_DATA) ", %eax\n"
    "	mov %eax, %ds\n"
    "	mov %eax, %es\n"
    "	mov %eax, %fs\n"
    "	mov %eax, %gs\n"
    "	mov %eax, %ss\n"
    "	lidt ap_idtr\n"
    "	mov $1, %eax\n"
    "	lock xadd %eax, ap_next\n"
    "	cmp $" XSTR(MAX_CPUS) " - 1, %eax\n"
    "	jae 1f\n"
    "	inc %eax\n"
    "	imul $" XSTR(AP_STACK_SIZE) ", %eax\n"
    "	lea ap_stacks(%eax), %esp\n"
    "	cld\n"
    "	call ap_main\n"
    "1:	cli\n"
    "	hlt\n"
    "	jmp 1b\n"
    /* NMIs come through an interrupt gate of their own, not the exception path that
     * ends the guest; the CPU blocks further NMIs until the IRET (SDM 3A, 6.7.1). */
    ".globl nmi_entry\n"
    "nmi_entry:\n"
    "	pusha\n"
    "	cld\n"
    "	call on_nmi\n"
    "	popa\n"
    "	iret\n");

static void failf(const char *fmt, ...) __printf(1, 2);
static void failf(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL smp: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed = true;
}

static void stop_if_failed(void)
{
	if (failed)
		exit(EXIT_FAIL);
}

/* The CPU running this; handlers run on every CPU and find their own slot so. */
static struct cpu *self(void)
{
	uint8_t i = cpu_of[lapic_id()];

	return i == NO_CPU ? NULL : &cpus[i];
}

static uint32_t ldr_bit(uint32_t apic_id)
{
	return apic_id < LDR_FLAT_IDS ? 1u << apic_id : 0;
}

/* Spins until *p reaches want or a second passes; the BSP's progress meanwhile. */
static bool wait_for(volatile uint32_t *p, uint32_t want)
{
	uint64_t t0 = rdtsc();

	while (*p < want) {
		if (rdtsc() - t0 >= second)
			return false;
		cpus[0].progress++;
		asm volatile("pause");
	}
	return true;
}

static void icr_wait(void)
{
	uint64_t t0 = rdtsc();

	while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY) {
		if (rdtsc() - t0 >= second) {
			failf("the ICR of APIC %u stayed busy for a second", lapic_id());
			exit(EXIT_FAIL);
		}
		asm volatile("pause");
	}
}

/* Writing the low half sends (SDM 3A, 10.6.1). An AP sends only from its ping handler
 * and the BSP only outside its handlers, so the two writes cannot be split by another
 * send on the same CPU. */
static void send_ipi(uint32_t dest, uint32_t icr)
{
	icr_wait();
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	icr_wait();
}

static void on_ping(uint32_t vector)
{
	struct cpu *c = self();

	if (c)
		c->ping++;
	lapic_eoi();
	send_ipi(bsp_id, ICR_ASSERT | ICR_FIXED | VEC_PONG);
}

static void on_pong(uint32_t vector)
{
	pongs++;
	lapic_eoi();
}

static void on_logical(uint32_t vector)
{
	struct cpu *c = self();

	if (c)
		c->logical++;
	lapic_eoi();
}

static void on_others(uint32_t vector)
{
	struct cpu *c = self();

	if (c)
		c->others++;
	lapic_eoi();
}

/* An NMI takes no EOI: it sets no ISR bit. */
void on_nmi(void)
{
	struct cpu *c = self();

	if (c)
		c->nmi++;
}

/* The flat model: each CPU's bit in the LDR's top byte (SDM 3A, 10.6.2.2). */
static void logical_id(uint32_t apic_id)
{
	lapic_write(LAPIC_DFR, DFR_FLAT);
	lapic_write(LAPIC_LDR, ldr_bit(apic_id) << 24);
}

/* INIT left the AP's APIC software-disabled, every LVT masked (SDM 3A, 10.4.7.1). */
void ap_main(void)
{
	uint32_t id = lapic_id();
	struct cpu *c = self();

	lapic_write(LAPIC_SVR, SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
	logical_id(id);
	lapic_write(LAPIC_TPR, 0);
	if (!c) {
		stray_id = id;
		for (;;)
			asm volatile("cli; hlt");
	}
	c->up = 1;
	irq_enable();
	for (;;) {
		c->progress++;
		asm volatile("pause");
	}
}

static void sort(uint8_t *ids, int n)
{
	uint8_t t;

	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ids[j] < ids[j - 1]; j--)
			t = ids[j], ids[j] = ids[j - 1], ids[j - 1] = t;
}

/* cpus[]: the BSP first, then the APs by APIC ID. */
static void find_cpus(void)
{
	uint8_t ids[MAX_CPUS];
	int n = acpi_madt_lapics(ids, MAX_CPUS);

	if (n < 0) {
		failf("no MADT (no RSDP with a valid RSDT/XSDT listing an \"APIC\" table)");
		exit(EXIT_FAIL);
	}
	if (n > MAX_CPUS) {
		failf("the MADT lists %d CPUs, more than the %d this guest handles", n, MAX_CPUS);
		exit(EXIT_FAIL);
	}
	sort(ids, n);
	printf("smp: cpus=%d apic-ids=", n);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", ids[i]);
	printf(" bsp=%u\n", bsp_id);

	memset(cpu_of, NO_CPU, sizeof(cpu_of));
	cpus[0].apic_id = bsp_id;
	cpu_of[bsp_id] = 0;
	nr_cpus = 1;
	for (int i = 0; i < n; i++) {
		if (i && ids[i] == ids[i - 1])
			failf("the MADT lists APIC ID %u twice", ids[i]);
		else if (ids[i] != bsp_id) {
			cpus[nr_cpus].apic_id = ids[i];
			cpu_of[ids[i]] = nr_cpus++;
		}
	}
	if (nr_cpus != (uint32_t)n)
		failf("the MADT does not list the BSP's APIC ID %u", bsp_id);
	printf("smp: progress pages=0x%x-0x%x\n", (uint32_t)(uintptr_t)&cpus[0],
	       (uint32_t)(uintptr_t)&cpus[nr_cpus] - 1);
	stop_if_failed();
}

/* INIT (assert, level), ~10 ms, then two STARTUP IPIs ~200 us apart (SDM 3A, 9.4.4.1;
 * MP spec B.4); the second is for a CPU that missed the first and is ignored by one
 * that did not. */
static bool start_ap(struct cpu *c)
{
	send_ipi(c->apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	tsc_spin(second / 100);
	for (int i = 0; i < 2; i++) {
		send_ipi(c->apic_id, ICR_STARTUP | ICR_ASSERT | (TRAMP_BASE >> 12));
		tsc_spin(second / 5000);
	}
	return wait_for(&c->up, 1);
}

static void start_aps(void)
{
	uint32_t up = 0;

	memcpy((void *)TRAMP_BASE, ap_tramp, ap_tramp_end - ap_tramp);
	asm volatile("sidt %0" : "=m"(ap_idtr));
	for (uint32_t i = 1; i < nr_cpus; i++)
		up += start_ap(&cpus[i]);
	printf("smp: up=%u of %u aps\n", up, nr_cpus - 1);
	for (uint32_t i = 1; i < nr_cpus; i++)
		if (!cpus[i].up)
			failf("ap %u did not come up within a second", cpus[i].apic_id);
	if (stray_id != NO_CPU)
		failf("a CPU the MADT does not list came up, APIC ID %u", stray_id);
	stop_if_failed();
}

/* Fixed IPIs by physical destination; each waits for the AP's answer. */
static void ping_pong(struct cpu *c, uint32_t n)
{
	for (c->trips = 0; c->trips < n; c->trips++) {
		uint32_t want = pongs + 1;

		send_ipi(c->apic_id, ICR_ASSERT | ICR_FIXED | VEC_PING);
		if (!wait_for(&pongs, want))
			return;
	}
}

/* Each NMI is sent once the last was taken: the CPU would merge a pending one. */
static void nmis(struct cpu *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t want = c->nmi + 1;

		send_ipi(c->apic_id, ICR_ASSERT | ICR_NMI);
		if (!wait_for(&c->nmi, want))
			return;
	}
}

/* One fixed IPI to every AP in the flat model at once, then one by shorthand. */
static void broadcasts(void)
{
	uint32_t mask = 0;

	for (uint32_t i = 1; i < nr_cpus; i++)
		mask |= ldr_bit(cpus[i].apic_id);
	if (mask)
		send_ipi(mask, ICR_ASSERT | ICR_LOGICAL | ICR_FIXED | VEC_LOGICAL);
	send_ipi(0, ICR_ASSERT | ICR_ALL_BUT_SELF | ICR_FIXED | VEC_OTHERS);
	for (uint32_t i = 1; i < nr_cpus; i++) {
		if (ldr_bit(cpus[i].apic_id))
			wait_for(&cpus[i].logical, 1);
		wait_for(&cpus[i].others, 1);
	}
	/* with no AP to wait for, time for a wrong delivery to the BSP to show */
	if (nr_cpus == 1)
		tsc_spin(second / 100);
}

static void check_ipis(uint32_t n)
{
	uint32_t trips = 0, nmi = 0, logical = 0, others = 0;
	struct cpu *c;

	for (uint32_t i = 1; i < nr_cpus; i++) {
		ping_pong(&cpus[i], n);
		nmis(&cpus[i], n);
	}
	broadcasts();
	for (uint32_t i = 1; i < nr_cpus; i++) {
		c = &cpus[i];
		trips += c->trips;
		nmi += c->nmi;
		logical += c->logical;
		others += c->others;
	}
	printf("smp: ipi=%u nmi=%u logical=%u others=%u\n", trips, nmi, logical, others);
	for (uint32_t i = 1; i < nr_cpus; i++) {
		c = &cpus[i];
		if (c->trips != n || c->ping != n)
			failf("ap %u answered %u of %u fixed IPIs (took %u)", c->apic_id,
			      c->trips, n, c->ping);
		if (c->nmi != n)
			failf("ap %u took %u of %u NMIs", c->apic_id, c->nmi, n);
		if (c->logical != (ldr_bit(c->apic_id) ? 1u : 0u))
			failf("ap %u took the logical-destination IPI %u times", c->apic_id,
			      c->logical);
		if (c->others != 1)
			failf("ap %u took the all-excluding-self IPI %u times", c->apic_id,
			      c->others);
	}
	if (cpus[0].logical || cpus[0].others || cpus[0].ping)
		failf("the BSP took IPIs meant for the APs: logical=%u others=%u fixed=%u",
		      cpus[0].logical, cpus[0].others, cpus[0].ping);
	stop_if_failed();
}

/* A fixed IPI to each AP, each answered: IPIs still go both ways (after a migration,
 * say); an AP that does not answer within a second ends the guest. */
static void ping_all(void)
{
	for (uint32_t i = 1; i < nr_cpus; i++) {
		uint32_t want = pongs + 1;

		send_ipi(cpus[i].apic_id, ICR_ASSERT | ICR_FIXED | VEC_PING);
		if (!wait_for(&pongs, want)) {
			failf("ap %u did not answer a ping within a second", cpus[i].apic_id);
			exit(EXIT_FAIL);
		}
	}
}

static void print_beat(uint32_t beat)
{
	uint32_t p[MAX_CPUS];

	for (uint32_t i = 0; i < nr_cpus; i++) /* one moment, before the slow printing */
		p[i] = cpus[i].progress;
	ping_all();
	printf("smp: beat=%u progress=", beat);
	for (uint32_t i = 0; i < nr_cpus; i++)
		printf("%s%u", i ? "," : "", p[i]);
	printf(" pings=ok\n");
}

static __noreturn void heartbeat(uint32_t seconds)
{
	uint32_t before[MAX_CPUS];
	uint64_t next = rdtsc() + second;

	for (uint32_t i = 0; i < nr_cpus; i++)
		before[i] = cpus[i].progress;
	for (uint32_t beat = 1; !seconds || beat <= seconds; beat++) {
		while (rdtsc() < next) {
			cpus[0].progress++;
			asm volatile("pause");
		}
		next += second;
		print_beat(beat);
	}
	for (uint32_t i = 1; i < nr_cpus; i++)
		if (cpus[i].progress == before[i])
			failf("ap %u made no progress during the heartbeat", cpus[i].apic_id);
	stop_if_failed();
	printf("PASS\n");
	exit(EXIT_PASS);
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	const char *args = cmdline_args(mb_cmdline(mbi));
	uint32_t n, seconds, khz;

	EXPECT(magic == MB_BOOT_MAGIC);
	n = arg_u32(args, "n", 100);
	seconds = arg_u32(args, "seconds", 3);
	irq_init();
	pic_init(0x20); /* off the exception vectors, masked */
	if (!(khz = tsc_khz(NULL))) {
		failf("no TSC rate");
		exit(EXIT_FAIL);
	}
	second = khz * 1000ull;
	if (!lapic_init(LAPIC_XAPIC)) {
		failf("CPUID offers no local APIC");
		exit(EXIT_FAIL);
	}
	bsp_id = lapic_id();
	logical_id(bsp_id); /* so a logical IPI wrongly taken by the BSP shows */
	find_cpus();

	/* the APs load this IDT: every gate is in place before the first starts */
	idt_set_gate(VEC_NMI, (uintptr_t)nmi_entry);
	irq_set_handler(VEC_PING, on_ping);
	irq_set_handler(VEC_PONG, on_pong);
	irq_set_handler(VEC_LOGICAL, on_logical);
	irq_set_handler(VEC_OTHERS, on_others);
	irq_enable();
	start_aps();
	check_ipis(n);
	heartbeat(seconds);
}
