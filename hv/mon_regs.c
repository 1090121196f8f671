/* `info registers <vm>`: a vCPU's state as the next entry would load it, and what its
 * local APIC holds for it. For the operator who asks why a guest stopped making progress
 * (halted with nothing pending, an interrupt held in the ISR, a timer never armed):
 * QEMU's `info registers` and `info lapic` in one. */
#include "hv/dev/lapic.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/mon_vm.h"
#include "hv/pc.h"
#include "hv/vcpu.h"
#include "hv/vcpu_state.h"
#include "hv/sched.h"
#include "hv/vm.h"

static const char *const seg_names[SEG_COUNT] = { "es", "cs", "ss", "ds", "fs", "gs", "ldtr",
						  "tr" };

/* A timer's next expiry against now: in the future, or already due (it fires when the
 * VM next runs: the monitor's command ran meanwhile). */
static void print_when(const char *what, bool armed, uint64_t at, uint64_t now,
		       const char *unit)
{
	if (!armed)
		kprintf("%s: never\n", what);
	else if (at >= now)
		kprintf("%s: in %llu %s\n", what, (unsigned long long)(at - now), unit);
	else
		kprintf("%s: due %llu %s ago\n", what, (unsigned long long)(now - at), unit);
}

static void print_apic(struct vm *vm, struct vcpu *v)
{
	const struct lapic *a = &vm->pc->lapic[v->index];
	const uint32_t *p = a->page;
	uint64_t now = vm_now_ns(vm), tsc = vcpu_tsc(v);

	kprintf("apic: tpr %02x irr-max %d isr-max %d lvt-timer %08x tmict %u\n",
		p[APIC_TPR / 4], lapic_highest(a, APIC_IRR), lapic_highest(a, APIC_ISR),
		p[APIC_LVT_TIMER / 4], p[APIC_TMICT / 4]);
	print_when("apic-timer", a->s.timer_next != DEV_NEVER, a->s.timer_next, now, "ns");
	print_when("tsc-deadline", a->s.tsc_deadline != 0, a->s.tsc_deadline, tsc, "ticks");
}

int cmd_info_registers(int argc, char **argv)
{
	static struct vcpu_state s; /* 2 KiB with its XSAVE area: not on the monitor's stack */
	static const char *const mp[] = { "run", "wait-for-sipi", "sipi" };
	uint64_t index = 0;
	struct vm *vm;
	struct vcpu *v;

	if (argc == 2 && strncmp(argv[1], "vcpu=", 5) == 0) {
		if (!parse_u64(argv[1] + 5, &index)) {
			kprintf("error: bad vcpu= value '%s': give a vCPU's number\n", argv[1] + 5);
			return -E_INVAL;
		}
		argc = 1;
	}
	vm = mon_vm_target(argc, argv, "info registers");
	if (!vm)
		return -E_INVAL;
	if (!vm->pc || !vm->vcpu) {
		kprintf("error: vm%d has ended: its vCPU is gone\n", vm->id);
		return -E_NOENT;
	}
	if (index >= vm->nr_vcpus) {
		kprintf("error: vm%d has %u vCPU%s: vcpu=0 to vcpu=%u\n", vm->id, vm->nr_vcpus,
			vm->nr_vcpus == 1 ? "" : "s", vm->nr_vcpus - 1);
		return -E_INVAL;
	}
	v = vm->vcpus[index];
	vcpu_get_state(v, &s);
	kprintf("vm: %d\nvcpu: %u\nmp-state: %s\nhalted: %s\n", vm->id, (unsigned)index, mp[v->mp],
		v->halted ? "yes" : "no");
	kprintf("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", s.rax, s.rbx, s.rcx, s.rdx);
	kprintf("rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n", s.rsi, s.rdi, s.rbp, s.rsp);
	kprintf("r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n", s.r8, s.r9, s.r10, s.r11);
	kprintf("r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n", s.r12, s.r13, s.r14, s.r15);
	kprintf("rip %016lx rflags %08lx\n", s.rip, s.rflags);
	kprintf("cr0 %016lx cr2 %016lx cr3 %016lx cr4 %016lx\n", s.cr0, s.cr2, s.cr3, s.cr4);
	kprintf("efer %016lx xcr0 %lx\n", s.efer, s.xcr0);
	for (int i = 0; i < SEG_COUNT; i++)
		kprintf("%-4s %04x %016lx %08x %03x\n", seg_names[i], s.seg[i].sel, s.seg[i].base,
			s.seg[i].limit, s.seg[i].attr);
	kprintf("gdt  %016lx %04x  idt %016lx %04x\n", s.gdtr.base, s.gdtr.limit, s.idtr.base,
		s.idtr.limit);
	kprintf("interruptibility: %x  activity: %s  nmi-pending: %u\n", s.interruptibility,
		s.activity == ACT_HLT ? "hlt" : "active", s.nmi_pending);
	if (s.event.valid)
		kprintf("event: type %u vector %u error %x\n", s.event.type, s.event.vector,
			s.event.has_error ? s.event.error : 0);
	else
		kprintf("event: none\n");
	vm_hold(vm); /* the local APIC model is its CPU's while it runs */
	print_apic(vm, v);
	vm_unhold(vm);
	return 0;
}
