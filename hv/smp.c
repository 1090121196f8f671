#include "hv/acpi.h"
#include "hv/ap_start.h"
#include "hv/apic_host.h"
#include "hv/backend.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/lib/string.h"
#include "hv/pcpu.h"
#include "hv/sched.h"
#include "hv/smp.h"
#include "hv/time.h"
#include "hv/x86.h"

/* The start-up sequence's waits (SDM 8.4.4.1, "typical BSP initialization sequence"):
 * 10 ms after INIT, 200 us after each SIPI. An AP that has not reached tern's C code
 * by AP_ANSWER_US after the second SIPI is given up on. */
#define INIT_WAIT_US 10000
#define SIPI_WAIT_US 200
#define AP_ANSWER_US 1000000

static const char *source = "none";
static uint32_t limit;
static uint8_t *start_page;

const char *smp_source(void)
{
	return source;
}

uint32_t smp_limit(void)
{
	return limit;
}

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* --- on the application processor --- */

/* Control registers as the boot CPU has them (hv/main.c): caches on, FXSAVE and XSAVE
 * allowed; then VMX operation, then the scheduler's loop for the VMs placed here
 * (hv/sched.c). Without VMX the CPU stays parked, woken by IPIs only. */
static __noreturn void ap_main(struct pcpu *p)
{
	const char *why = NULL;

	pcpu_enter(p);
	cpu_control_init();
	apic_host_ap_init();
	if (!hv_enabled())
		why = "not enabled on the boot CPU";
	else if (hv_backend()->cpu_enable(p->index, &why) == 0)
		__atomic_store_n(&p->virt_on, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&p->why, why, __ATOMIC_RELEASE);
	store32(&p->state, PCPU_PARKED);
	if (p->virt_on)
		sched_ap_loop(p);
	for (;;) {
		asm volatile("sti; hlt; cli" ::: "memory");
		__atomic_fetch_add(&p->wakeups, 1, __ATOMIC_RELEASE);
	}
}

/* --- on the boot CPU --- */

static void fill_start_data(struct pcpu *p)
{
	uint8_t *d = start_page + AP_DATA;
	uint32_t cr3_low = (uint32_t)(uintptr_t)(start_page + AP_PML4);
	uint32_t efer = (uint32_t)(rdmsr(MSR_IA32_EFER) & (EFER_LME | EFER_NXE));
	uint64_t cr3 = read_cr3(), entry = (uintptr_t)ap_main, arg = (uintptr_t)p, zero = 0;

	memcpy(d + AP_CR3_LOW, &cr3_low, 4);
	memcpy(d + AP_CR3, &cr3, 8);
	memcpy(d + AP_EFER, &efer, 4);
	memcpy(d + AP_STACK, &p->stack_top, 8);
	memcpy(d + AP_ENTRY, &entry, 8);
	memcpy(d + AP_ARG, &arg, 8);
	memcpy(d + AP_STAGE, &zero, 4);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static uint32_t start_stage(void)
{
	return load32((const uint32_t *)(start_page + AP_DATA + AP_STAGE));
}

static bool answered(struct pcpu *p, uint64_t us)
{
	uint64_t end = time_now_us() + us;

	do {
		if (load32(&p->state) != PCPU_STARTING)
			return true;
		cpu_relax();
	} while (time_now_us() < end);
	return load32(&p->state) != PCPU_STARTING;
}

static void fail(struct pcpu *p, const char *why)
{
	p->why = why;
	p->start_stage = start_stage();
	store32(&p->state, PCPU_FAILED);
}

/* INIT, then two STARTUP IPIs whose vector is the start page's number. */
static void start_one(struct pcpu *p)
{
	uint32_t vector = (uint32_t)((uintptr_t)start_page >> 12);

	if (hv_enabled() && hv_backend()->cpu_prepare(p->index) < 0)
		p->why = "no memory for its VMX region";
	fill_start_data(p);
	if (apic_host_send(p->apic_id, ICR_INIT | ICR_ASSERT) < 0) {
		fail(p, "its INIT IPI was not delivered");
		return;
	}
	time_delay_us(INIT_WAIT_US);
	for (int i = 0; i < 2 && !answered(p, 0); i++) {
		apic_host_send(p->apic_id, ICR_STARTUP | vector);
		time_delay_us(SIPI_WAIT_US);
	}
	if (answered(p, AP_ANSWER_US))
		return;
	fail(p, "did not answer the start-up IPIs");
	/* Back to wait-for-SIPI: a late start must not run the next CPU's start data. */
	apic_host_send(p->apic_id, ICR_INIT | ICR_ASSERT);
}

static uint32_t parse_limit(const char *cmdline)
{
	char val[16];
	uint64_t n;

	if (!cmdline_get(cmdline, "cpus", val, sizeof(val)))
		return 0;
	if (!parse_u64(val, &n) || n == 0) {
		kprintf("warning: cpus=%s: expected a number of CPUs, 1 or more; starting all\n",
			val);
		return 0;
	}
	return n > PCPU_MAX ? PCPU_MAX : (uint32_t)n;
}

/* The enabled processors: the MADT's, else the list the loader got from the firmware. */
static uint32_t list_cpus(const struct boot_info *bi, uint32_t *ids, uint32_t max)
{
	static struct acpi_cpus c;
	uint32_t n = 0;

	if (acpi_host_cpus(&c) == 0 && c.n) {
		source = "acpi";
		if (c.dropped)
			kprintf("smp: the MADT lists %u more CPUs than tern's %u; not started\n",
				c.dropped, (unsigned)ACPI_MAX_CPUS);
		for (; n < c.n && n < max; n++)
			ids[n] = c.apic_id[n];
		return n;
	}
	if (bi->nr_cpus) {
		source = "firmware";
		for (; n < bi->nr_cpus && n < max; n++)
			ids[n] = bi->cpu_apic_id[n];
	}
	return n;
}

static void report(void)
{
	uint32_t parked = 0, failed = 0, disabled = 0, vmx = 0;

	for (uint32_t i = 1; i < pcpu_count(); i++) {
		struct pcpu *p = pcpu_get(i);
		uint32_t st = load32(&p->state);

		parked += st == PCPU_PARKED;
		disabled += st == PCPU_DISABLED;
		vmx += st == PCPU_PARKED && p->virt_on;
		if (st == PCPU_FAILED) {
			failed++;
			kprintf("smp: cpu%u (apic %u) failed: %s (start reached stage %u of 3)\n",
				i, p->apic_id, p->why, p->start_stage);
		} else if (st == PCPU_PARKED && !p->virt_on) {
			kprintf("smp: cpu%u (apic %u): vmx off: %s\n", i, p->apic_id, p->why);
		}
	}
	kprintf("smp: %u CPUs (%s): cpu0 boot, %u parked (%u with vmx on), %u failed",
		pcpu_count(), source, parked, vmx, failed);
	if (limit)
		kprintf(", %u disabled by cpus=%u", disabled, limit);
	kprintf("\n");
}

void smp_init(const struct boot_info *bi)
{
	static uint32_t ids[PCPU_MAX];
	struct pcpu *boot = pcpu_get(0);
	uint32_t n, want;

	boot->apic_id = apic_host_id();
	boot->virt_on = hv_enabled();
	limit = parse_limit(bi->cmdline);
	want = limit ? limit : PCPU_MAX;
	n = list_cpus(bi, ids, PCPU_MAX);
	if (!n) {
		kprintf("smp: the firmware lists no processors (no ACPI MADT): boot CPU only\n");
		return;
	}
	start_page = (uint8_t *)(uintptr_t)bi->ap_start;
	if (start_page) {
		memcpy(start_page, ap_start_code, (size_t)(ap_start_end - ap_start_code));
		memcpy(start_page + AP_PML4, (void *)(uintptr_t)(read_cr3() & ~0xfffull),
		       PAGE_SIZE);
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t st = pcpu_count() < want ? PCPU_STARTING : PCPU_DISABLED;
		struct pcpu *p;

		if (ids[i] == boot->apic_id)
			continue;
		p = pcpu_add(ids[i], st);
		if (!p) {
			kprintf("smp: no memory for cpu (apic %u): not started\n", ids[i]);
			continue;
		}
		if (st != PCPU_STARTING)
			continue;
		if (!start_page)
			fail(p, "the loader reserved no start page below 1 MiB");
		else
			start_one(p);
	}
	report();
}

static bool up(const struct pcpu *p)
{
	uint32_t st = load32(&p->state);

	return st == PCPU_PARKED || st == PCPU_ONLINE;
}

/* A CPU answered when it took the IPI: a parked one wakes from HLT, a busy one takes it
 * when it next enables interrupts (after the VM exit it causes). */
static uint64_t answers(const struct pcpu *p)
{
	return __atomic_load_n(&p->wakeups, __ATOMIC_ACQUIRE) +
	       __atomic_load_n(&p->ipis, __ATOMIC_ACQUIRE);
}

uint32_t smp_ping(uint64_t timeout_us, bool *answered)
{
	uint64_t before[PCPU_MAX], end;
	uint32_t missing = 0;

	memset(answered, 0, PCPU_MAX * sizeof(*answered));
	for (uint32_t i = 1; i < pcpu_count(); i++) {
		struct pcpu *p = pcpu_get(i);
		before[i] = answers(p);
		if (up(p))
			apic_host_send(p->apic_id, ICR_FIXED | ICR_ASSERT | VEC_WAKE);
	}
	end = time_now_us() + timeout_us;
	for (uint32_t i = 1; i < pcpu_count(); i++) {
		struct pcpu *p = pcpu_get(i);
		if (!up(p))
			continue;
		while (answers(p) == before[i] && time_now_us() < end)
			cpu_relax();
		answered[i] = answers(p) != before[i];
		missing += !answered[i];
	}
	return missing;
}
