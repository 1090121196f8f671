#include "hv/console.h"
#include "hv/cpu.h"
#include "hv/x86.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __packed;

extern char trap_stubs[], irq_stub[];

/* 0-31: exceptions, fatal to tern; the rest: interrupts, of which tern takes only its
 * idle timer's (hv/apic_host.c); any other one is acknowledged and ignored. */
static struct idt_gate idt[256] __attribute__((aligned(16)));

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM no math coprocessor",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
	"#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD exception",
	"#VE virtualization exception", "#CP control protection",
};

/* Which IST stack (1-based, 0 = none) each vector runs on: those that can arrive with
 * a broken stack get their own. */
static uint8_t ist_for(int vec)
{
	switch (vec) {
	case 2:
		return 1; /* NMI */
	case 8:
		return 2; /* double fault */
	case 18:
		return 3; /* machine check */
	default:
		return 0;
	}
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed d = { sizeof(idt) - 1, (uintptr_t)idt };

	asm volatile("lidt %0" : : "m"(d));
}

void idt_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t a = i < 32 ? (uintptr_t)trap_stubs + 16 * (uint64_t)i : (uintptr_t)irq_stub;
		idt[i] = (struct idt_gate){
			.off_lo = (uint16_t)a,
			.sel = SEL_CODE,
			.ist = i < 32 ? ist_for(i) : 0,
			.type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	idt_load();
}

static void dump_stack(uint64_t rsp)
{
	const uint64_t *p = (const uint64_t *)rsp;

	/* Only a few words, and only when the pointer looks sane: this runs on broken state. */
	if (rsp < 0x1000 || (rsp & 7))
		return;
	kprintf("stack:");
	for (int i = 0; i < 8; i++)
		kprintf("%s%016llx", i % 4 ? " " : "\n  ", (unsigned long long)p[i]);
	kprintf("\n");
}

__noreturn void trap_fatal(const struct trap_frame *f)
{
	static bool in_trap;
	const char *name = f->vector < 32 && names[f->vector] ? names[f->vector] : "unknown";

	if (in_trap) /* faulted while reporting a fault: nothing more can be said safely */
		cpu_halt_forever();
	in_trap = true;
	console_break_lock();
	kprintf("\n*** tern: unexpected exception %llu (%s), error code 0x%llx\n",
		(unsigned long long)f->vector, name, (unsigned long long)f->error);
	kprintf("rip %016llx  cs  %04llx  rflags %016llx\n", (unsigned long long)f->rip,
		(unsigned long long)f->cs, (unsigned long long)f->rflags);
	kprintf("rsp %016llx  ss  %04llx\n", (unsigned long long)f->rsp,
		(unsigned long long)f->ss);
	kprintf("rax %016llx  rbx %016llx  rcx %016llx\n", (unsigned long long)f->rax,
		(unsigned long long)f->rbx, (unsigned long long)f->rcx);
	kprintf("rdx %016llx  rsi %016llx  rdi %016llx\n", (unsigned long long)f->rdx,
		(unsigned long long)f->rsi, (unsigned long long)f->rdi);
	kprintf("rbp %016llx  r8  %016llx  r9  %016llx\n", (unsigned long long)f->rbp,
		(unsigned long long)f->r8, (unsigned long long)f->r9);
	kprintf("r10 %016llx  r11 %016llx  r12 %016llx\n", (unsigned long long)f->r10,
		(unsigned long long)f->r11, (unsigned long long)f->r12);
	kprintf("r13 %016llx  r14 %016llx  r15 %016llx\n", (unsigned long long)f->r13,
		(unsigned long long)f->r14, (unsigned long long)f->r15);
	kprintf("cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx\n",
		(unsigned long long)read_cr0(), (unsigned long long)read_cr2(),
		(unsigned long long)read_cr3(), (unsigned long long)read_cr4());
	dump_stack(f->rsp);
	kprintf("*** tern halted: this is a bug in tern; the machine must be reset.\n");
	cpu_halt_forever();
}
