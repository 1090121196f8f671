/* Brings up a multiprocessor VM the way an OS does and checks that its CPUs run and
 * reach each other: finds the CPUs in the ACPI MADT, starts every AP with INIT, SIPI,
 * SIPI into ap_main() (guests/lib/mp.h), then sends IPIs each way an OS does and
 * watches every CPU's progress counter. xAPIC mode, paging off.
 *
 * Arguments: n=N (fixed and NMI IPIs per AP, default 100), seconds=N (heartbeat,
 *            default 3; 0: forever)
 *
 * Prints
 *   smp: cpus=<n> apic-ids=<bsp>,<ap>,... bsp=<id>  (the APs by ID)
 *   smp: progress pages=<first>-<last>         (a page per CPU: BSP, then APs)
 *   smp: up=<k> of <n-1> aps
 *   smp: lowest-priority took=<k> by=<id> lowest-tpr=<id>  (k CPUs took it, the last
 *                                              was by; lowest-tpr: the AP that should)
 *   smp: ipi=<round trips> nmi=<taken> logical=<taken> others=<taken>
 *   smp: ipi-round-trip ap=<id> mean-ns=<m> max-ns=<x>  (for each AP: its fixed IPIs,
 *                                                       sent until the answer came)
 *   smp: beat=<k> progress=<bsp>,<ap>,... pings=ok  (each second; APs by APIC ID; each
 *                                                   AP answered a fixed IPI)
 * where ipi counts fixed IPIs (physical destination) each answered by the AP with an
 * IPI back, nmi the NMIs the APs took, logical the APs that took one fixed IPI sent to
 * all of them at once by logical destination (the flat model's 8 bits reach APIC IDs
 * 0-7 only), others those that took one sent with the all-excluding-self shorthand;
 * each the sum over all APs; lowest-priority says who took one IPI of that mode sent to
 * every AP in the flat model, each AP's TPR 0x20 but the last one's (by APIC ID), 0x10:
 * exactly one AP must take it, and by the SDM's rule that one. Then PASS, or FAIL lines
 * naming what went wrong: no MADT, an AP that did not come up, an AP that missed IPIs,
 * or one whose counter stood still during the heartbeat. */
#include "guests/lib/guest.h"
#include "guests/lib/acpi.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/mp.h"
#include "guests/lib/pic.h"
#include "guests/lib/trap.h"
#include "guests/lib/tsc.h"

#define MAX_CPUS MP_MAX_CPUS
#define NO_CPU 0xFF /* not an xAPIC ID a CPU can have: 0xFF is the broadcast */

#define VEC_PING 0x50
#define VEC_PONG 0x51
#define VEC_LOGICAL 0x52
#define VEC_OTHERS 0x53
#define VEC_LOWEST 0x54
#define VEC_NMI 2

/* SDM 3A, table 10-1 */
#define LAPIC_LDR 0xD0
#define LAPIC_DFR 0xE0
#define SVR_ENABLE (1u << 8)
#define DFR_FLAT 0xFFFFFFFFu
#define LDR_FLAT_IDS 8 /* the flat model's 8-bit mask: one bit for each APIC ID 0-7 */

/* One per CPU, a page each: the counters do not share a cache line, and a hypervisor's
 * dirty-page tracking sees each CPU's writes on a page of its own. */
struct cpu {
	uint32_t apic_id;
	volatile uint32_t up;       /* set by the AP in ap_main() */
	volatile uint32_t progress; /* bumped by its CPU while it waits */
	volatile uint32_t ping, nmi, logical, others, lowest; /* IPIs taken, by their handlers */
	uint32_t trips;             /* BSP only: pings answered */
	uint64_t trip_tsc, trip_max; /* BSP only: their round trips, summed and longest */
} __attribute__((aligned(4096)));

static struct cpu cpus[MAX_CPUS]; /* [0] the BSP, then the APs by APIC ID */
static uint8_t cpu_of[256];       /* APIC ID -> index in cpus; NO_CPU if not listed */
static uint32_t nr_cpus, bsp_id;
static volatile uint32_t pongs;
/* The AP that sets the lowest TPR: a lowest-priority IPI to all APs goes to it */
static uint32_t favoured;
static volatile uint32_t stray_id = NO_CPU; /* a CPU up that the MADT did not list */
static uint64_t second;                     /* TSC cycles */
static bool failed;

extern char nmi_entry[];
__noreturn void ap_main(void);
void on_nmi(void);

asm(".text\n"
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
	return mp_wait_for(p, want, &cpus[0].progress);
}

/* An AP sends only from here and the BSP only outside its handlers, so no send on a
 * CPU comes between another's two ICR writes (mp_send_ipi). */
static void on_ping(uint32_t vector)
{
	struct cpu *c = self();

	if (c)
		c->ping++;
	lapic_eoi();
	mp_send_ipi(bsp_id, ICR_ASSERT | ICR_FIXED | VEC_PONG);
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

static void on_lowest(uint32_t vector)
{
	struct cpu *c = self();

	if (c)
		c->lowest++;
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
	/* below every vector used here: only the lowest-priority arbitration sees it */
	lapic_write(LAPIC_TPR, c && c == &cpus[favoured] ? 0x10 : 0x20);
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

/* cpus[]: the BSP first, then the APs by APIC ID. */
static void find_cpus(void)
{
	uint8_t ids[MAX_CPUS];
	char err[96];
	int n = mp_find_cpus(bsp_id, ids, MAX_CPUS, err, sizeof(err));

	if (n < 0) {
		failf("%s", err);
		exit(EXIT_FAIL);
	}
	printf("smp: cpus=%d apic-ids=", n);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", ids[i]);
	printf(" bsp=%u\n", bsp_id);

	memset(cpu_of, NO_CPU, sizeof(cpu_of));
	for (nr_cpus = 0; nr_cpus < (uint32_t)n; nr_cpus++) {
		cpus[nr_cpus].apic_id = ids[nr_cpus];
		cpu_of[ids[nr_cpus]] = nr_cpus;
	}
	printf("smp: progress pages=0x%x-0x%x\n", (uint32_t)(uintptr_t)&cpus[0],
	       (uint32_t)(uintptr_t)&cpus[nr_cpus] - 1);
}

static void start_aps(void)
{
	uint32_t up = 0;

	mp_init(ap_main, second);
	for (uint32_t i = 1; i < nr_cpus; i++)
		up += mp_start_ap(cpus[i].apic_id, &cpus[i].up, &cpus[0].progress);
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
		uint64_t t0 = rdtsc(), t;

		mp_send_ipi(c->apic_id, ICR_ASSERT | ICR_FIXED | VEC_PING);
		if (!wait_for(&pongs, want))
			return;
		t = rdtsc() - t0;
		c->trip_tsc += t;
		c->trip_max = MAX(c->trip_max, t);
	}
}

/* Each NMI is sent once the last was taken: the CPU would merge a pending one. */
static void nmis(struct cpu *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t want = c->nmi + 1;

		mp_send_ipi(c->apic_id, ICR_ASSERT | ICR_NMI);
		if (!wait_for(&c->nmi, want))
			return;
	}
}

/* Every AP the flat model's logical destination can name */
static uint32_t aps_mask(void)
{
	uint32_t mask = 0;

	for (uint32_t i = 1; i < nr_cpus; i++)
		mask |= ldr_bit(cpus[i].apic_id);
	return mask;
}

/* One fixed IPI to every AP in the flat model at once, then one by shorthand. */
static void broadcasts(void)
{
	uint32_t mask = aps_mask();

	if (mask)
		mp_send_ipi(mask, ICR_ASSERT | ICR_LOGICAL | ICR_FIXED | VEC_LOGICAL);
	mp_send_ipi(0, ICR_ASSERT | ICR_ALL_BUT_SELF | ICR_FIXED | VEC_OTHERS);
	for (uint32_t i = 1; i < nr_cpus; i++) {
		if (ldr_bit(cpus[i].apic_id))
			wait_for(&cpus[i].logical, 1);
		wait_for(&cpus[i].others, 1);
	}
	/* with no AP to wait for, time for a wrong delivery to the BSP to show */
	if (nr_cpus == 1)
		tsc_spin(second / 100);
}

/* One lowest-priority IPI to every AP in the flat model: exactly one takes it. Which
 * one is the platform's choice (SDM 3A, 10.6.2.4: the lowest priority by the TPRs, but
 * a chipset may keep sending to one; QEMU's TCG takes the first), so it is reported,
 * beside the AP whose TPR is lowest, not judged here. */
static void lowest_priority(void)
{
	uint32_t mask = aps_mask(), took = 0, by = NO_CPU;

	if (!mask)
		return;
	mp_send_ipi(mask, ICR_ASSERT | ICR_LOGICAL | ICR_LOWEST | VEC_LOWEST);
	wait_for(&cpus[favoured].lowest, 1);
	tsc_spin(second / 100); /* time for a second, wrong delivery to show */
	for (uint32_t i = 0; i < nr_cpus; i++) {
		took += cpus[i].lowest;
		if (cpus[i].lowest)
			by = cpus[i].apic_id;
	}
	printf("smp: lowest-priority took=%u by=%u lowest-tpr=%u\n", took, by,
	       cpus[favoured].apic_id);
	if (took != 1)
		failf("a lowest-priority IPI to the APs was taken %u times, not once", took);
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
	lowest_priority();
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
		if (c->trips)
			printf("smp: ipi-round-trip ap=%u mean-ns=%u max-ns=%u\n", c->apic_id,
			       (uint32_t)(c->trip_tsc * 1000000000ull / second / c->trips),
			       (uint32_t)(c->trip_max * 1000000000ull / second));
	}
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

		mp_send_ipi(cpus[i].apic_id, ICR_ASSERT | ICR_FIXED | VEC_PING);
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
	for (uint32_t i = 1; i < nr_cpus; i++)
		if (ldr_bit(cpus[i].apic_id))
			favoured = i;

	/* the APs load this IDT: every gate is in place before the first starts */
	idt_set_gate(VEC_NMI, (uintptr_t)nmi_entry);
	irq_set_handler(VEC_PING, on_ping);
	irq_set_handler(VEC_PONG, on_pong);
	irq_set_handler(VEC_LOGICAL, on_logical);
	irq_set_handler(VEC_OTHERS, on_others);
	irq_set_handler(VEC_LOWEST, on_lowest);
	irq_enable();
	start_aps();
	check_ipis(n);
	heartbeat(seconds);
}
