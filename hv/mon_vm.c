/* Monitor commands for VMs and guest images. */
#include "hv/apicv.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/hv.h"
#include "hv/time.h"
#include "hv/mbload.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/mon_vm.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/vm_args.h"

int cmd_info_modules(int argc, char **argv)
{
	const struct boot_info *bi = hv_boot_info();

	kprintf("%-16s %10s  %-9s %s\n", "name", "size", "format", "args");
	for (uint32_t i = 0; i < bi->nr_modules; i++) {
		const struct boot_module *m = &bi->modules[i];
		kprintf("%-16s %10llu  %-9s %s\n", m->name, (unsigned long long)m->size,
			vm_image_format((const uint8_t *)(uintptr_t)m->base, m->size), m->args);
	}
	return 0;
}

int cmd_vm_start(int argc, char **argv)
{
	struct vm_start_args a;
	char cmdline[256], err[200];
	struct vm *vm;
	int e = vm_parse_start(argc, argv, &a, cmdline, sizeof(cmdline), err, sizeof(err));

	if (!e)
		e = vm_start(&a, &vm, err, sizeof(err));
	if (e) {
		kprintf("error: %s\n", err);
		return e;
	}
	kprintf("vm%d started\n", vm->id);
	return 0;
}

static void console_in(void *ctx, uint8_t byte)
{
	struct vm *vm = ctx;

	/* A guest that stopped reading: the byte is lost, as on a serial line. */
	pc_console_input(vm, &byte, 1);
}

static void console_detached(void *ctx)
{
	struct vm *vm = ctx;

	if (vm->pc)
		pc_console_attach(vm, false);
}

/* The operator talks to the guest's COM1 directly: bytes both ways, raw. */
int cmd_console(int argc, char **argv)
{
	struct vm *vm;

	if (argc != 1) {
		kprintf("error: usage: console <vm>\n");
		return -E_INVAL;
	}
	vm = vm_find(argv[0]);
	if (!vm || (vm->state != VM_RUNNING && vm->state != VM_PAUSED)) {
		kprintf("error: no running VM '%s' (see info vms)\n", argv[0]);
		return -E_NOENT;
	}
	kprintf("console: vm%d's COM1; Ctrl-] returns to the monitor\n", vm->id);
	pc_console_attach(vm, true);
	mon_attach(console_in, console_detached, vm);
	return 0;
}

/* "0,1,1": each vCPU's host CPU; "-" once the vCPUs are gone */
static const char *vcpu_cpus(const struct vm *vm, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < vm->nr_vcpus && n < size; i++)
		n += (size_t)fmt_snprintf(buf + n, size - n, "%s%u", i ? "," : "",
					  vm->vcpu_home[i]);
	return buf[0] ? buf : "-";
}

int cmd_info_vms(int argc, char **argv)
{
	uint64_t tsc_per_ms = time_tsc_hz() / 1000;
	char homes[VM_VCPUS_MAX * 3 + 1];

	kprintf("%-4s %-16s %-8s %7s %10s %9s %3s %5s %-9s  %s\n", "id", "name", "state",
		"mem-MiB", "exits", "cpu-ms", "cpu", "vcpus", "vcpu-cpus", "kind");
	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		if (!vm || !vm->name[0])
			continue;
		/* cpu-ms: time in the guest (xl list's Time), which the scheduler shares */
		/* cpu: the host CPU vCPU 0 runs on (hv/sched.h) */
		/* vcpus: how many it has; vcpu-cpus: each one's host CPU, in order */
		kprintf("%-4d %-16s %-8s %7llu %10llu %9llu %3u %5u %-9s  %s", vm->id, vm->name,
			vm_state_name(vm), (unsigned long long)(vm->mem_size / MIB),
			(unsigned long long)vm->exits,
			(unsigned long long)(vm->run_tsc / tsc_per_ms), vm->home,
			vm->vcpus_given, vcpu_cpus(vm, homes, sizeof(homes)), vm_image_kind(vm));
		/* only while it lasts: a migration's auto-converge (hv/throttle.h) */
		if (vm->throttle_pct)
			kprintf("  throttled %u%%", vm->throttle_pct);
		kprintf("\n");
	}
	return 0;
}

/* The VM a command names, or NULL after saying why. */
struct vm *mon_vm_target(int argc, char **argv, const char *cmd)
{
	struct vm *vm;

	if (argc != 1) {
		kprintf("error: usage: %s <vm>\n", cmd);
		return NULL;
	}
	vm = vm_find(argv[0]);
	if (!vm)
		kprintf("error: no VM '%s' (see info vms)\n", argv[0]);
	return vm;
}

static bool alive(const struct vm *vm)
{
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED)
		return true;
	kprintf("error: vm%d has %s\n", vm->id, vm->state == VM_EXITED ? "exited" : "been killed");
	return false;
}

bool mon_vm_free(const struct vm *vm)
{
	char what[96], how[96];

	if (!vm->owner)
		return true;
	vm->owner->describe(vm, what, how, sizeof(what));
	kprintf("error: vm%d is %s (%s)\n", vm->id, what, how);
	return false;
}

/* The local APIC of a VM and what its exits cost: the figures that show the APIC
 * virtualization at work (the CPU handles what these counters do not see). */
int cmd_info_apic(int argc, char **argv)
{
	static const char *const modes[] = { "disabled", "xapic", "x2apic" };
	struct vm *vm = mon_vm_target(argc, argv, "info apic");
	const struct apic_counts *c;
	struct vcpu_apic ap;
	char path[128];

	if (!vm)
		return -E_INVAL;
	c = &vm->apic_counts;
	hv_apicv_describe(hv_apicv(), path, sizeof(path));
	kprintf("vm: %d\n", vm->id);
	if (vm->pc && vm->vcpu) { /* an ended VM's devices are freed: its counts stay */
		vcpu_apic(vm->vcpu, &ap);
		kprintf("mode: %s\nbase: 0x%llx\n", modes[ap.mode], (unsigned long long)ap.base);
	}
	kprintf("virtualization: %s\n", path);
	kprintf("exits: %llu\nexit-us: %llu\n", (unsigned long long)vm->exits,
		(unsigned long long)dev_muldiv(vm->exit_tsc, 1000000, time_tsc_hz()));
	kprintf("exits-tpr: %llu\nexits-eoi: %llu\nexits-icr: %llu\nexits-cr8: %llu\n"
		"exits-other: %llu\ninjected: %llu\n", (unsigned long long)c->tpr,
		(unsigned long long)c->eoi, (unsigned long long)c->icr,
		(unsigned long long)c->cr8, (unsigned long long)c->other,
		(unsigned long long)c->injected);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	struct vm *vm = mon_vm_target(argc, argv, "stop");

	if (!vm || !alive(vm) || !mon_vm_free(vm))
		return -E_INVAL;
	vm_pause(vm);
	kprintf("vm%d paused\n", vm->id);
	return 0;
}

int cmd_cont(int argc, char **argv)
{
	struct vm *vm = mon_vm_target(argc, argv, "cont");

	if (!vm || !alive(vm) || !mon_vm_free(vm))
		return -E_INVAL;
	vm_resume(vm);
	kprintf("vm%d running\n", vm->id);
	return 0;
}

/* A VM that something else holds (a migration) is given back first, so that its holder
 * ends cleanly (a migration's target frees what it reserved), then killed. */
int cmd_kill(int argc, char **argv)
{
	struct vm *vm = mon_vm_target(argc, argv, "kill");
	char what[96], how[96], err[128];

	if (!vm || !alive(vm))
		return -E_INVAL;
	/* the holder says it let go ("cancelled by kill"), or why it cannot */
	if (vm->owner && vm->owner->release(vm, "by kill", err, sizeof(err))) {
		vm->owner->describe(vm, what, how, sizeof(what));
		kprintf("error: vm%d is %s (%s): %s\n", vm->id, what, how, err);
		return -E_BUSY;
	}
	vm_kill(vm, "by the operator");
	return 0;
}

int cmd_vm_send(int argc, char **argv)
{
	char text[UART_QUEUE_SIZE];
	unsigned len = 0;
	struct vm *vm;

	if (argc < 2) {
		kprintf("error: usage: vm send <vm> <text>\n");
		return -E_INVAL;
	}
	vm = vm_find(argv[0]);
	if (!vm) {
		kprintf("error: no VM '%s' (see info vms)\n", argv[0]);
		return -E_NOENT;
	}
	if (!alive(vm))
		return -E_INVAL;
	for (int i = 1; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (len + n + 1 > sizeof(text)) {
			kprintf("error: text too long\n");
			return -E_RANGE;
		}
		memcpy(text + len, argv[i], n);
		len += (unsigned)n;
		text[len++] = i + 1 < argc ? ' ' : '\n';
	}
	if (pc_console_input(vm, (const uint8_t *)text, len) < len) {
		kprintf("error: vm%d's input buffer is full (the guest is not reading)\n", vm->id);
		return -E_BUSY;
	}
	return 0;
}
