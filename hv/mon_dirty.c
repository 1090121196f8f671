/* Monitor commands for dirty tracking and the shadow region. */
#include "hv/bitmap.h"
#include "hv/console.h"
#include "hv/dirty.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/mon_vm.h"
#include "hv/shadow.h"
#include "hv/vm.h"

/* The live VM named by argv[0], or NULL after saying why. */
static struct vm *live_vm(int argc, char **argv, int max_args, const char *usage)
{
	struct vm *vm;

	if (argc < 1 || argc > max_args) {
		kprintf("error: usage: %s\n", usage);
		return NULL;
	}
	vm = vm_find(argv[0]);
	if (!vm)
		kprintf("error: no VM '%s' (see info vms)\n", argv[0]);
	else if (vm->state != VM_RUNNING && vm->state != VM_PAUSED)
		kprintf("error: vm%d is %s\n", vm->id, vm_state_name(vm));
	else
		return vm;
	return NULL;
}

/* The tracked VM named by argv[0]; changing its tracking (change) is refused while a
 * migration holds the VM, since the migration reads that log. */
static struct vm *tracked_vm(int argc, char **argv, const char *usage, bool change)
{
	struct vm *vm = live_vm(argc, argv, 1, usage);

	if (vm && change && !mon_vm_free(vm))
		return NULL;
	/* the policy's short sampling windows are not the operator's tracking */
	if (vm && (vm->dirty.mode == DIRTY_OFF || vm->dirty.sample)) {
		kprintf("error: vm%d is not tracked (dirty start %s first)\n", vm->id, argv[0]);
		return NULL;
	}
	return vm;
}

int cmd_dirty_start(int argc, char **argv)
{
	const char *usage = "dirty start <vm> [mode=wp|pml|ad]";
	struct vm *vm = live_vm(argc, argv, 2, usage);
	enum dirty_mode mode = DIRTY_WP;
	char err[200];

	if (!vm || !mon_vm_free(vm))
		return -E_INVAL;
	if (argc == 2 && (strncmp(argv[1], "mode=", 5) || !dirty_mode_parse(argv[1] + 5, &mode))) {
		kprintf("error: usage: %s\n", usage);
		return -E_INVAL;
	}
	if (dirty_start(vm, mode, err, sizeof(err))) {
		kprintf("error: %s\n", err);
		return -E_INVAL;
	}
	kprintf("vm%d: dirty tracking on, mode %s, %llu pages\n", vm->id, dirty_mode_name(mode),
		(unsigned long long)vm->dirty.npages);
	return 0;
}

int cmd_dirty_stop(int argc, char **argv)
{
	struct vm *vm = tracked_vm(argc, argv, "dirty stop <vm>", true);

	if (!vm)
		return -E_INVAL;
	dirty_stop(vm);
	kprintf("vm%d: dirty tracking off\n", vm->id);
	return 0;
}

int cmd_dirty_sync(int argc, char **argv)
{
	struct vm *vm = tracked_vm(argc, argv, "dirty sync <vm>", true);

	if (!vm)
		return -E_INVAL;
	kprintf("dirty-pages: %llu\n", (unsigned long long)dirty_sync(vm));
	return 0;
}

/* The last completed round as ranges of guest-physical addresses, one a line. */
int cmd_dirty_dump(int argc, char **argv)
{
	struct vm *vm = tracked_vm(argc, argv, "dirty dump <vm>", false);
	uint64_t from = 0, start, end, pages = 0;
	const struct dirty *d;

	if (!vm)
		return -E_INVAL;
	d = &vm->dirty;
	while (bitmap_next_run(d->bitmap[d->cur ^ 1], d->npages, &from, &start, &end)) {
		kprintf("0x%09llx-0x%09llx\n", (unsigned long long)(start * PAGE_SIZE),
			(unsigned long long)(end * PAGE_SIZE - 1));
		pages += end - start;
	}
	kprintf("pages: %llu\n", (unsigned long long)pages);
	return 0;
}

int cmd_info_dirty(int argc, char **argv)
{
	struct vm *vm = live_vm(argc, argv, 1, "info dirty <vm>");
	const struct dirty *d;

	if (!vm)
		return -E_INVAL;
	d = &vm->dirty;
	kprintf("mode: %s\n", d->sample ? "off" : dirty_mode_name(d->mode));
	kprintf("sampling: %s\n", d->sample ? "yes" : "no");
	kprintf("rounds: %llu\n", (unsigned long long)d->rounds);
	kprintf("dirty-pages: %llu\n", (unsigned long long)d->last_pages);
	kprintf("dirty-rate: %llu\n", (unsigned long long)dirty_rate(d));
	kprintf("exits: %llu\n", (unsigned long long)d->exits);
	kprintf("round-ms: %llu\n", (unsigned long long)(d->last_round_us / 1000));
	kprintf("page-size: %llu\n", (unsigned long long)PAGE_SIZE);
	kprintf("mem-pages: %llu\n", (unsigned long long)(vm->mem_size / PAGE_SIZE));
	return 0;
}

int cmd_info_shadow(int argc, char **argv)
{
	struct shadow_stats s = shadow_stats();

	kprintf("size: %llu KiB\n", (unsigned long long)(s.size / KIB));
	kprintf("used: %llu KiB\n", (unsigned long long)(s.used / KIB));
	kprintf("free: %llu KiB\n", (unsigned long long)((s.size - s.used) / KIB));
	for (unsigned i = 0; i < SHADOW_MAX_EXTENTS; i++) {
		const struct shadow_extent *x = shadow_extent_at(i);
		const struct vm *vm;
		if (!x)
			continue;
		/* a policy sample is short-lived and yields to the operator: say which it is */
		vm = vm_find_id(x->owner);
		kprintf("vm%d: %llu KiB%s\n", x->owner, (unsigned long long)(x->size / KIB),
			vm && vm->dirty.sample ? " (policy sample)" : "");
	}
	return 0;
}
