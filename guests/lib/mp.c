#include "guests/lib/guest.h"
#include "guests/lib/acpi.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/mp.h"
#include "guests/lib/segments.h"
#include "guests/lib/tsc.h"
#include "hv/lib/fmt.h"

#define AP_STACK_SIZE 4096
/* Used inside the assembly below too: plain numbers */
#define CR0_PE 0x1
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define STR(x) #x
#define XSTR(x) STR(x)

#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310 /* destination in bits 24-31 */

static uint64_t second;

/* Read by the assembly below */
struct {
	uint16_t limit;
	uint32_t base;
} __packed mp_idtr;
void (*mp_entry)(void);
uint32_t mp_next_stack;
uint8_t mp_stacks[MP_MAX_CPUS - 1][AP_STACK_SIZE] __attribute__((aligned(16)));
extern char mp_tramp[], mp_tramp_end[];

/* The trampoline, copied to MP_TRAMP_BASE. A STARTUP IPI with vector v starts the AP
 * in real mode at CS = v << 8, IP = 0 (SDM 3A, 9.4.4.1), so the code addresses its own
 * data relative to CS. It loads a GDT with the selectors of crt0.S's (the IDT's gates
 * name SEL_CODE32), clears the CD and NW bits INIT set (SDM 3A, table 9-1: with them
 * the AP would run uncached) and sets PE, then jumps to the 32-bit code linked at
 * 1 MiB. */
asm(".section .text.mp_tramp, \"ax\"\n"
    ".code16\n"
    ".globl mp_tramp\n"
    "mp_tramp:\n"
    "	cli\n"
    "	mov %cs, %ax\n"
    "	mov %ax, %ds\n"
    "	lgdtl mp_gdt_desc - mp_tramp\n"
    "	mov %cr0, %eax\n"
    "	and $~(" XSTR(CR0_CD) " | " XSTR(CR0_NW) "), %eax\n"
    "	or $" XSTR(CR0_PE) ", %eax\n"
    "	mov %eax, %cr0\n"
    "	ljmpl $" XSTR(SEL_CODE32) ", $mp_entry32\n"
    "	.balign 8\n"
    /* as crt0.S's, accessed bits preset: the CPU need not write the page */
    "mp_gdt:\n"
    "	.quad 0\n"
    "	.quad 0x00cf9b000000ffff\n" /* SEL_CODE32 */
    "	.quad 0x00cf93000000ffff\n" /* SEL_DATA */
    "mp_gdt_desc:\n"
    "	.word mp_gdt_desc - mp_gdt - 1\n"
    "	.long " XSTR(MP_TRAMP_BASE) " + mp_gdt - mp_tramp\n"
    ".globl mp_tramp_end\n"
    "mp_tramp_end:\n"
    ".code32\n"
    ".text\n"
    /* Flat 32-bit now: the BSP's IDT, then a stack of our own, taken by an atomic
     * increment since APs may run this at once. */
    "mp_entry32:\n"
    "	mov $" XSTR(SEL_DATA) ", %eax\n"
    "	mov %eax, %ds\n"
    "	mov %eax, %es\n"
    "	mov %eax, %fs\n"
    "	mov %eax, %gs\n"
    "	mov %eax, %ss\n"
    "	lidt mp_idtr\n"
    "	mov $1, %eax\n"
    "	lock xadd %eax, mp_next_stack\n"
    "	cmp $" XSTR(MP_MAX_CPUS) " - 1, %eax\n"
    "	jae 1f\n"
    "	inc %eax\n"
    "	imul $" XSTR(AP_STACK_SIZE) ", %eax\n"
    "	lea mp_stacks(%eax), %esp\n"
    "	cld\n"
    "	call *mp_entry\n"
    "1:	cli\n"
    "	hlt\n"
    "	jmp 1b\n");

static void sort(uint8_t *ids, int n)
{
	uint8_t t;

	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ids[j] < ids[j - 1]; j--)
			t = ids[j], ids[j] = ids[j - 1], ids[j - 1] = t;
}

int mp_find_cpus(uint32_t bsp_id, uint8_t *ids, int max, char *err, size_t err_size)
{
	uint8_t found[MP_MAX_CPUS];
	int n = acpi_madt_lapics(found, MP_MAX_CPUS), k = 1;

	if (n < 0) {
		fmt_snprintf(err, err_size,
			     "no MADT (no RSDP with a valid RSDT/XSDT listing an \"APIC\" table)");
		return -1;
	}
	if (n > MIN(max, MP_MAX_CPUS)) {
		fmt_snprintf(err, err_size, "the MADT lists %d CPUs, more than the %d handled",
			     n, MIN(max, MP_MAX_CPUS));
		return -1;
	}
	sort(found, n);
	ids[0] = bsp_id;
	for (int i = 0; i < n; i++) {
		if (i && found[i] == found[i - 1]) {
			fmt_snprintf(err, err_size, "the MADT lists APIC ID %u twice", found[i]);
			return -1;
		}
		if (found[i] == bsp_id)
			continue;
		if (k == n)
			break; /* every slot taken: the BSP is not among them */
		ids[k++] = found[i];
	}
	if (k != n) {
		fmt_snprintf(err, err_size, "the MADT does not list the BSP's APIC ID %u", bsp_id);
		return -1;
	}
	return n;
}

int mp_discover(uint8_t *ids, int max, char *err, size_t err_size)
{
	uint8_t listed[MP_MAX_CPUS];

	if (acpi_madt_lapics(listed, MP_MAX_CPUS) <= 1)
		return 1;
	irq_init();
	if (!lapic_init(LAPIC_XAPIC)) {
		fmt_snprintf(err, err_size, "the MADT lists CPUs but CPUID offers no local APIC");
		return -1;
	}
	return mp_find_cpus(lapic_id(), ids, max, err, err_size);
}

uint32_t mp_discover_or_fail(const char *who, uint8_t *ids)
{
	char err[96];
	int n = mp_discover(ids, MP_MAX_CPUS, err, sizeof(err));

	if (n < 0) {
		printf("FAIL %s: %s\n", who, err);
		exit(EXIT_FAIL);
	}
	return (uint32_t)n;
}

void mp_init(void (*entry)(void), uint64_t cycles_per_second)
{
	mp_entry = entry;
	second = cycles_per_second;
	memcpy((void *)MP_TRAMP_BASE, mp_tramp, mp_tramp_end - mp_tramp);
	asm volatile("sidt %0" : "=m"(mp_idtr));
}

static void icr_wait(void)
{
	uint64_t t0 = rdtsc();

	while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY) {
		if (rdtsc() - t0 >= second) {
			printf("FAIL mp: the ICR of APIC %u stayed busy for a second\n", lapic_id());
			exit(EXIT_FAIL);
		}
		asm volatile("pause");
	}
}

void mp_send_ipi(uint32_t dest, uint32_t icr)
{
	icr_wait();
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	icr_wait();
}

bool mp_wait_for(volatile uint32_t *p, uint32_t want, volatile uint32_t *progress)
{
	uint64_t t0 = rdtsc();

	while (*p < want) {
		if (rdtsc() - t0 >= second)
			return false;
		if (progress)
			(*progress)++;
		asm volatile("pause");
	}
	return true;
}

/* INIT (assert, level), ~10 ms, then two STARTUP IPIs ~200 us apart; the second is for
 * a CPU that missed the first and is ignored by one that did not. */
bool mp_start_ap(uint32_t apic_id, volatile uint32_t *up, volatile uint32_t *progress)
{
	mp_send_ipi(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	tsc_spin(second / 100);
	for (int i = 0; i < 2; i++) {
		mp_send_ipi(apic_id, ICR_STARTUP | ICR_ASSERT | (MP_TRAMP_BASE >> 12));
		tsc_spin(second / 5000);
	}
	return mp_wait_for(up, 1, progress);
}

static void (*all_entry)(uint32_t index);
static uint32_t starting;               /* the AP being started: its index in ids */
static volatile uint32_t started[MP_MAX_CPUS];

static __noreturn void start_one(void)
{
	uint32_t i = starting;

	started[i] = 1;
	all_entry(i);
	for (;;)
		asm volatile("cli; hlt");
}

void mp_start_all(const char *who, const uint8_t *ids, uint32_t n,
		  void (*entry)(uint32_t index))
{
	uint32_t khz;

	if (n <= 1)
		return;
	if (!(khz = tsc_khz(NULL))) {
		printf("FAIL %s: no TSC rate to time the APs' start by\n", who);
		exit(EXIT_FAIL);
	}
	all_entry = entry;
	mp_init(start_one, khz * 1000ull);
	for (starting = 1; starting < n; starting++) {
		if (!mp_start_ap(ids[starting], &started[starting], NULL)) {
			printf("FAIL %s: the AP with APIC ID %u did not start within a second\n",
			       who, ids[starting]);
			exit(EXIT_FAIL);
		}
	}
}
