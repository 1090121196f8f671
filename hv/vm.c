#include <stdarg.h>
#include "hv/boot.h"
#include "hv/cmdline.h"
#include "hv/dev/acpi_tables.h"
#include "hv/cpuid.h"
#include "hv/error.h"
#include "hv/hv.h"
#include "hv/idle.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/load.h"
#include "hv/throttle.h"
#include "hv/linuxload.h"
#include "hv/mbload.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/sched.h"
#include "hv/spin.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "hv/backend.h"
#include "hv/vcpu.h"
#include "hv/vcpu_state.h"
#include "hv/x86_rules.h"

static struct vm vms[VM_MAX];
static bool used[VM_MAX];
static int next_id = 1;

/* --- guest memory --- */

static uint64_t host_addr(const struct vm *vm, uint64_t g)
{
	return vm->chunks[g / VM_CHUNK] + g % VM_CHUNK;
}

static bool in_ram(const struct vm *vm, uint64_t g, uint64_t len)
{
	return vm->chunks && g <= vm->mem_size && len <= vm->mem_size - g;
}

bool gpa_read(const struct vm *vm, gpa_t g, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	if (!in_ram(vm, g.v, len))
		return false;
	while (len) {
		uint64_t n = MIN(len, VM_CHUNK - g.v % VM_CHUNK);
		memcpy(d, (const void *)(uintptr_t)host_addr(vm, g.v), n);
		d += n, g.v += n, len -= n;
	}
	return true;
}

bool gpa_write(struct vm *vm, gpa_t g, const void *src, uint64_t len)
{
	const uint8_t *s = src;

	if (!in_ram(vm, g.v, len))
		return false;
	while (len) {
		uint64_t n = MIN(len, VM_CHUNK - g.v % VM_CHUNK);
		memcpy((void *)(uintptr_t)host_addr(vm, g.v), s, n);
		s += n, g.v += n, len -= n;
	}
	return true;
}

uint64_t vm_mem_fold(const struct vm *vm, uint64_t h,
		     uint64_t (*fn)(uint64_t h, const uint8_t *p, size_t n))
{
	for (uint64_t i = 0; i < vm->nr_chunks; i++)
		h = fn(h, (const uint8_t *)(uintptr_t)vm->chunks[i], VM_CHUNK);
	return h;
}

bool vm_page_zero(const struct vm *vm, uint64_t pfn)
{
	const uint64_t *w;

	if (!in_ram(vm, pfn * PAGE_SIZE, PAGE_SIZE))
		return false;
	w = (const uint64_t *)(uintptr_t)host_addr(vm, pfn * PAGE_SIZE);
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		if (w[i])
			return false; /* most pages in use end here, in the first words */
	return true;
}

static void loader_write(void *ctx, uint64_t g, const void *src, uint64_t len)
{
	gpa_write(ctx, gpa(g), src, len);
}

static void loader_zero(void *ctx, uint64_t g, uint64_t len)
{
	struct vm *vm = ctx;

	while (len) {
		uint64_t n = MIN(len, VM_CHUNK - g % VM_CHUNK);
		memset((void *)(uintptr_t)host_addr(vm, g), 0, n);
		g += n, len -= n;
	}
}

/* --- the VM's clock --- */

uint64_t vm_now_ns(const struct vm *vm)
{
	return dev_muldiv(rdtsc() + (uint64_t)vm->vcpu->tsc_offset, NS_PER_S, vm->cpu.tsc_hz);
}

uint64_t vm_ns_to_host_tsc(const struct vm *vm, uint64_t ns)
{
	uint64_t guest = dev_muldiv(ns, vm->cpu.tsc_hz, NS_PER_S);

	return guest == UINT64_MAX ? UINT64_MAX : guest - (uint64_t)vm->vcpu->tsc_offset;
}

/* --- lifetime --- */

static void release(struct vm *vm)
{
	vm_settle(vm);
	if (vm->vcpu)
		dirty_stop(vm);
	for (unsigned i = vm->nr_vcpus; i-- > 0;) { /* the BSP last: it holds the VM's clock */
		vcpu_destroy(vm->vcpus[i]);
		vm->vcpus[i] = NULL;
	}
	vm->vcpu = NULL;
	vm->nr_vcpus = 0;
	hv_backend()->s2_destroy(vm);
	for (uint64_t i = 0; vm->chunks && i < vm->nr_chunks; i++)
		if (vm->chunks[i])
			pmm_free(vm->chunks[i], VM_CHUNK / PAGE_SIZE);
	if (vm->chunks)
		pmm_free((uintptr_t)vm->chunks, 1);
	pc_destroy(vm);
	vm->chunks = NULL;
	vm->nr_chunks = 0;
}

static bool dead(const struct vm *vm)
{
	return vm->state == VM_EXITED || vm->state == VM_KILLED;
}

static bool id_held(int id, void *ctx)
{
	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && vms[i].id == id)
			return true;
	return false;
}

/* A free slot, or the one of the VM that ended longest ago. */
static struct vm *new_slot(void)
{
	struct vm *oldest = NULL;

	for (int i = 0; i < VM_MAX; i++) {
		if (!used[i]) {
			used[i] = true;
			return &vms[i];
		}
		if (dead(&vms[i]) && (!oldest || vms[i].id < oldest->id))
			oldest = &vms[i];
	}
	return oldest;
}

static const struct boot_module *find_module(const char *name)
{
	const struct boot_info *bi = hv_boot_info();

	for (uint32_t i = 0; i < bi->nr_modules; i++)
		if (strcmp(bi->modules[i].name, name) == 0)
			return &bi->modules[i];
	return NULL;
}

static int alloc_ram(struct vm *vm, uint64_t mib)
{
	vm->mem_size = mib * MIB;
	vm->nr_chunks = ALIGN_UP(vm->mem_size, VM_CHUNK) / VM_CHUNK;
	vm->mem_size = vm->nr_chunks * VM_CHUNK;
	if (vm->nr_chunks > PAGE_SIZE / sizeof(uint64_t))
		return -E_RANGE;
	vm->chunks = (uint64_t *)(uintptr_t)pmm_alloc(1);
	if (!vm->chunks)
		return -E_NOMEM;
	for (uint64_t i = 0; i < vm->nr_chunks; i++) {
		/* 2 MiB aligned so EPT can map each chunk with one large page */
		vm->chunks[i] = pmm_alloc_aligned(VM_CHUNK / PAGE_SIZE, VM_CHUNK / PAGE_SIZE);
		if (!vm->chunks[i])
			return -E_NOMEM;
	}
	if (hv_backend()->s2_init(vm))
		return -E_NOMEM;
	for (uint64_t i = 0; i < vm->nr_chunks; i++)
		if (hv_backend()->s2_map(vm, gpa(i * VM_CHUNK), hpa(vm->chunks[i]), VM_CHUNK, S2_RWX))
			return -E_NOMEM;
	return 0;
}

static struct mb_guest_mem guest_mem(struct vm *vm)
{
	return (struct mb_guest_mem){ vm->mem_size, vm, loader_write, loader_zero };
}

static const struct boot_module *find_image(const struct vm *vm, char *err, size_t err_size)
{
	const struct boot_module *image = find_module(vm->image);

	if (!image)
		fmt_snprintf(err, err_size, "no image '%s' on this host (see info modules)",
			     vm->image);
	return image;
}

static const uint8_t *image_data(const struct boot_module *m)
{
	return (const uint8_t *)(uintptr_t)m->base;
}

static int no_initrd(const struct boot_module *image, const char *initrd, char *err,
		     size_t err_size)
{
	if (!initrd || !initrd[0])
		return 0;
	fmt_snprintf(err, err_size, "initrd= is for Linux kernels; '%s' is a Multiboot image "
		     "(give it mod=)", image->name);
	return -E_INVAL;
}

/* A Multiboot kernel with its modules; its command line starts with its name. */
static int load_multiboot(struct vm *vm, const struct boot_module *image,
			  struct vcpu_state *st, char *err, size_t err_size)
{
	static char cmdline[BOOT_CMDLINE_MAX], modlines[8][BOOT_CMDLINE_MAX / 4];
	struct mb_guest_mem mem = guest_mem(vm);
	struct mb_blob kernel, mods[8];
	struct mb_boot boot;
	int e = no_initrd(image, vm->boot.initrd, err, err_size);

	if (e)
		return e;
	fmt_snprintf(cmdline, sizeof(cmdline), "%s %s", image->name,
		     vm->boot.has_args ? vm->boot.args : image->args);
	kernel = (struct mb_blob){ image_data(image), image->size, cmdline };
	for (unsigned i = 0; i < vm->boot.nr_mods; i++) {
		const struct boot_module *m = find_module(vm->boot.mods[i]);
		if (!m) {
			fmt_snprintf(err, err_size, "no module '%s' (see info modules)",
				     vm->boot.mods[i]);
			return -E_NOENT;
		}
		fmt_snprintf(modlines[i], sizeof(modlines[i]), "%s %s", m->name, m->args);
		mods[i] = (struct mb_blob){ image_data(m), m->size, modlines[i] };
	}
	e = mb_load(&mem, &kernel, mods, vm->boot.nr_mods, &boot, err, err_size);
	if (!e)
		x86_reset_multiboot(&vm->cpu, st, boot.entry, boot.mbi);
	return e;
}

/* What a Linux kernel boots with: its initrd module (NULL for none) and its command line,
 * the one given at vm start (args), else the module's own arguments, else what a QEMU
 * -kernel user passes. */
static int linux_inputs(const struct boot_module *image, unsigned nr_mods, const char *initrd,
			const char *args, const struct boot_module **rd, const char **cmdline,
			char *err, size_t err_size)
{
	if (nr_mods) {
		fmt_snprintf(err, err_size, "'%s' is a Linux kernel: it takes initrd=, not mod=",
			     image->name);
		return -E_INVAL;
	}
	*rd = NULL;
	if (initrd && initrd[0] && !(*rd = find_module(initrd))) {
		fmt_snprintf(err, err_size, "no initrd '%s' (see info modules)", initrd);
		return -E_NOENT;
	}
	*cmdline = args ? args : image->args[0] ? image->args : LX_DEFAULT_CMDLINE;
	return 0;
}

/* A bzImage and its initrd; the ACPI tables' RSDP is at the start of the firmware area
 * (pc_load_firmware, acpi_build). */
static int load_linux(struct vm *vm, const struct boot_module *image, struct vcpu_state *st,
		      char *err, size_t err_size)
{
	struct mb_guest_mem mem = guest_mem(vm);
	const struct boot_module *rd;
	struct mb_blob kernel, initrd;
	const char *cmdline;
	struct lx_boot boot;
	int e = linux_inputs(image, vm->boot.nr_mods, vm->boot.initrd, vm->boot.has_args ? vm->boot.args : NULL, &rd,
			     &cmdline, err, err_size);

	if (e)
		return e;
	kernel = (struct mb_blob){ image_data(image), image->size, cmdline };
	if (rd)
		initrd = (struct mb_blob){ image_data(rd), rd->size, NULL };
	e = lx_load(&mem, &kernel, rd ? &initrd : NULL, ACPI_AREA_BASE, &boot, err, err_size);
	if (!e)
		e = lx_boot_state(&vm->cpu, &boot, st, err, err_size);
	return e;
}

/* Refuses what cannot boot before any memory is taken (zeroing a big VM's RAM takes a
 * while under an emulator). Multiboot images are checked against the RAM when loaded. */
static int precheck(const struct vm_start_args *a, const struct boot_module *image, char *err,
		    size_t err_size)
{
	const struct boot_module *rd;
	const char *cmdline;
	int e;

	if (!lx_probe(image_data(image), image->size))
		return no_initrd(image, a->initrd, err, err_size);
	e = linux_inputs(image, a->nr_mods, a->initrd, a->cmdline, &rd, &cmdline, err, err_size);
	if (!e)
		e = lx_check_fit(image_data(image), image->size,
				 ALIGN_UP(a->mem_mib * MIB, VM_CHUNK), rd ? rd->size : 0, cmdline,
				 err, err_size);
	return e;
}

/* Loads the VM's image as it was started (vm->image, args, mods, initrd), with the
 * firmware tables, puts the vCPU in the state the image's boot protocol gives it, and
 * the devices in their power-on state: last, once the vCPU's TSC (the VM's clock) is
 * back at 0, so no device holds a time from before. */
static int load_image(struct vm *vm, char *err, size_t err_size)
{
	static struct vcpu_state st;
	const struct boot_module *image = find_image(vm, err, err_size);
	int e;

	if (!image)
		return -E_NOENT;
	if (lx_probe(image_data(image), image->size))
		e = load_linux(vm, image, &st, err, err_size);
	else
		e = load_multiboot(vm, image, &st, err, err_size);
	if (!e)
		e = pc_load_firmware(vm, err, err_size);
	if (e)
		return e;
	vcpu_set_state(vm->vcpu, &st);
	/* The application processors are as power-on leaves them (their MSRs too, which a
	 * SIPI does not set), waiting for the STARTUP IPI the guest sends them */
	x86_reset_power_on(&vm->cpu, &st);
	for (unsigned i = 1; i < vm->nr_vcpus; i++) {
		vcpu_set_state(vm->vcpus[i], &st);
		vm->vcpus[i]->mp = VCPU_MP_WAIT_SIPI;
		vm->vcpus[i]->halted = false;
		vm->vcpus[i]->tsc_offset = vm->vcpu->tsc_offset; /* one clock, as at power-on */
	}
	pc_reset(vm);
	return 0;
}

static bool name_taken(const char *name)
{
	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && !dead(&vms[i]) && strcmp(vms[i].name, name) == 0)
			return true;
	return false;
}

/* A slot with RAM, EPT, a vCPU and its devices, and CPU model cpu (NULL: this host's);
 * err says why not. */
static int create(uint64_t mem_mib, unsigned nr_vcpus, const char *name, const char *image,
		  const struct cpu_model *cpu, const struct sched_want *want, struct vm **out,
		  char *err, size_t err_size)
{
	const char *why = NULL;
	struct vm *vm;
	uint32_t homes[VM_VCPUS_MAX];
	int e;

	if (hv_enable(&why)) {
		fmt_snprintf(err, err_size, "guests cannot run on this host: %s", why);
		return -E_NOSUP;
	}
	e = sched_place(want, nr_vcpus, homes, err, err_size);
	if (e)
		return e;
	vm = new_slot();
	if (!vm) {
		fmt_snprintf(err, err_size, "too many VMs (at most %d)", VM_MAX);
		return -E_BUSY;
	}
	/* No CPU may look into the slot while it is wiped and filled (memset leaves no
	 * order): its old home CPU sees it at home nowhere, or CPU 0 waits it out. */
	__atomic_store_n(&vm->home, VM_HOME_NONE, __ATOMIC_SEQ_CST);
	sched_wait_out(vm);
	release(vm);
	memset(vm, 0, sizeof(*vm));
	vm->id = vm_id_take(&next_id, id_held, NULL); /* after the memset: its old id is not in the way */
	vm->state = VM_PAUSED;
	strlcpy(vm->image, image, sizeof(vm->image));
	if (name && !name_taken(name))
		strlcpy(vm->name, name, sizeof(vm->name));
	else
		fmt_snprintf(vm->name, sizeof(vm->name), "%.24s-%d", name ? name : image, vm->id);
	/* before the vCPU and the devices: the local APIC takes its TSC rate from it */
	if (cpu)
		vm->cpu = *cpu;
	else
		cpu_model_build(&vm->cpu, cpuid_host, time_tsc_hz());
	e = alloc_ram(vm, mem_mib);
	if (e) {
		fmt_snprintf(err, err_size, "not enough host memory for %llu MiB (%llu MiB free)",
			     (unsigned long long)mem_mib,
			     (unsigned long long)(pmm_stats().free / MIB));
	} else {
		for (unsigned i = 0; i < nr_vcpus && !e; i++) {
			e = vcpu_create(vm, i, &vm->vcpus[i]);
			if (!e)
				vm->nr_vcpus++;
		}
		vm->vcpu = vm->vcpus[0];
		vm->vcpus_given = nr_vcpus;
		if (e)
			fmt_snprintf(err, err_size, "cannot create vCPU %u: %s", vm->nr_vcpus,
				     error_str(e));
		else if ((e = pc_create(vm)))
			fmt_snprintf(err, err_size, "no memory for the VM's devices");
	}
	if (e) {
		vm_discard(vm);
		return e;
	}
	/* Last, with the VM paused: a CPU that sees its home is its sees it whole. Creating
	 * the vCPUs loaded their VMCSs here; another CPU may load one only once it is
	 * cleared. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (homes[i] != 0)
			hv_backend()->vcpu_put(vm->vcpus[i]);
	vm->movable = want->cpu < 0 && !want->npin;
	sched_set_homes(vm, homes);
	*out = vm;
	return 0;
}

int vm_start(const struct vm_start_args *a, struct vm **out, char *err, size_t err_size)
{
	const struct boot_module *image = find_module(a->image);
	struct vm *vm;
	int e;

	if (!image) {
		fmt_snprintf(err, err_size, "no image '%s' (see info modules)", a->image);
		return -E_NOENT;
	}
	if (a->name && name_taken(a->name)) {
		fmt_snprintf(err, err_size, "a VM named '%s' exists already", a->name);
		return -E_EXIST;
	}
	e = precheck(a, image, err, err_size);
	if (e)
		return e;
	e = create(a->mem_mib, a->vcpus, a->name ? a->name : image->name, image->name, NULL,
		   &(struct sched_want){ a->cpu, a->npin, a->pin }, &vm, err, err_size);
	if (e)
		return e;
	if (a->cmdline) {
		strlcpy(vm->boot.args, a->cmdline, sizeof(vm->boot.args));
		vm->boot.has_args = 1;
	}
	for (unsigned i = 0; i < a->nr_mods; i++)
		strlcpy(vm->boot.mods[vm->boot.nr_mods++], a->mods[i], sizeof(vm->boot.mods[0]));
	if (a->initrd)
		strlcpy(vm->boot.initrd, a->initrd, sizeof(vm->boot.initrd));
	e = load_image(vm, err, err_size);
	if (e) {
		vm_discard(vm);
		return e;
	}
	__atomic_store_n(&vm->state, VM_RUNNING, __ATOMIC_RELEASE);
	sched_kick(vm);
	*out = vm;
	return 0;
}

int vm_create_incoming(uint64_t mem_size, unsigned vcpus, const char *name,
		       const char *image, const struct cpu_model *cpu, struct vm **out,
		       char *err, size_t err_size)
{
	int e = create(mem_size / MIB, vcpus, name, image, cpu, &(struct sched_want){ -1, 0, NULL },
		       out, err, err_size);

	if (!e)
		(*out)->state = VM_INCOMING;
	return e;
}

void vm_activate(struct vm *vm)
{
	if (vm->state != VM_INCOMING)
		return;
	__atomic_store_n(&vm->state, VM_RUNNING, __ATOMIC_RELEASE);
	sched_kick(vm);
}

void vm_discard(struct vm *vm)
{
	pc_console_flush(vm); /* a VM that migrated away: the line it began is not lost */
	if (mon_attached_to(vm))
		mon_detach();
	release(vm);
	vm->state = VM_KILLED;
	vm->name[0] = 0;
	used[vm - vms] = false;
}

/* By name first (live VMs), then by id: "3" or "vm3". */
struct vm *vm_find(const char *id_or_name)
{
	const char *p = id_or_name;
	uint64_t id;

	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && !dead(&vms[i]) && strcmp(vms[i].name, id_or_name) == 0)
			return &vms[i];
	if (strncmp(p, "vm", 2) == 0)
		p += 2;
	if (!parse_u64(p, &id) || p[0] == '0')
		return NULL;
	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && (uint64_t)vms[i].id == id)
			return &vms[i];
	return NULL;
}

struct vm *vm_find_id(int id)
{
	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && vms[i].id == id &&
		    (vms[i].state == VM_RUNNING || vms[i].state == VM_PAUSED))
			return &vms[i];
	return NULL;
}

unsigned vm_slot(const struct vm *vm)
{
	return (unsigned)(vm - vms);
}

struct vm *vm_at(unsigned slot)
{
	return slot < VM_MAX && used[slot] ? &vms[slot] : NULL;
}

unsigned vm_count(void)
{
	unsigned n = 0;

	for (int i = 0; i < VM_MAX; i++)
		n += used[i] && (vms[i].state == VM_RUNNING || vms[i].state == VM_PAUSED);
	return n;
}

/* The VM's state goes from `from` to `to` unless another CPU changed it first (its home
 * CPU ends a VM whose guest asked to, while CPU 0 may pause or kill it). */
static bool set_state(struct vm *vm, enum vm_state from, enum vm_state to)
{
	return __atomic_compare_exchange_n(&vm->state, &from, to, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

/* Returns once the VM is out of its guest on whichever CPU runs it. */
void vm_pause(struct vm *vm)
{
	if (!set_state(vm, VM_RUNNING, VM_PAUSED))
		return;
	sched_wait_out(vm);
}

void vm_resume(struct vm *vm)
{
	if (set_state(vm, VM_PAUSED, VM_RUNNING))
		sched_kick(vm);
}

/* CPU 0's part of a VM's end: its console's last line, the operator's console, the
 * event. */
static void announce(struct vm *vm, const char *msg)
{
	pc_console_flush(vm);
	if (mon_attached_to(vm))
		mon_detach();
	mon_event("vm%d %s", vm->id, msg);
}

/* In an exit handler (the VM's lock held), or on another CPU than 0: the state changes
 * at once, so the guest is not entered again, and CPU 0 announces it (vm_settle) once
 * every CPU is out of it, as only CPU 0 touches the monitor; the wait cannot be here,
 * where a CPU waited for may be spinning on the lock. */
static void end(struct vm *vm, enum vm_state state, const char *msg)
{
	for (;;) {
		enum vm_state cur = __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE);
		if (cur == VM_EXITED || cur == VM_KILLED)
			return; /* the first end stands, wherever it happened */
		if (set_state(vm, cur, state))
			break;
	}
	if (pcpu_this()->index != 0 || spin_held_here(&vm->lock)) {
		strlcpy(vm->end_msg, msg, sizeof(vm->end_msg));
		__atomic_store_n(&vm->end_pending, 1, __ATOMIC_RELEASE);
		return;
	}
	sched_wait_out(vm);
	announce(vm, msg);
}

void vm_settle(struct vm *vm)
{
	sched_wait_out(vm);
	if (!__atomic_load_n(&vm->end_pending, __ATOMIC_ACQUIRE))
		return;
	mon_drain_events(); /* what the guest printed before its end comes first */
	announce(vm, vm->end_msg);
	__atomic_store_n(&vm->end_pending, 0, __ATOMIC_RELEASE);
}

void vm_kill(struct vm *vm, const char *fmt, ...)
{
	char reason[200], msg[220];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	fmt_snprintf(msg, sizeof(msg), "killed: %s", reason);
	end(vm, VM_KILLED, msg);
}

void vm_exit_status(struct vm *vm, uint32_t status)
{
	char msg[48];

	fmt_snprintf(msg, sizeof(msg), "exited with status %u", status);
	end(vm, VM_EXITED, msg);
}

const char *vm_state_name(const struct vm *vm)
{
	static const char *const names[] = { "running", "paused", "exited", "killed",
					     "incoming" };

	return names[vm->state];
}

const char *vm_image_kind(const struct vm *vm)
{
	const struct boot_module *m = find_module(vm->image);

	if (!m)
		return "-";
	return lx_probe((const uint8_t *)(uintptr_t)m->base, m->size) ? "linux" : "multiboot";
}

/* An initramfs is a cpio archive ("newc", with or without CRCs), as it is or compressed
 * in a format the kernel unpacks. */
static bool initrd_magic(const uint8_t *p, uint64_t size)
{
	static const struct {
		uint8_t n;
		char b[6];
	} magic[] = {
		{ 6, "070701" }, { 6, "070702" }, { 2, "\x1f\x8b" },     { 6, "\xfd" "7zXZ" },
		{ 4, "\x28\xb5\x2f\xfd" }, { 3, "BZh" }, { 4, "\x02\x21\x4c\x18" },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(magic); i++)
		if (size >= magic[i].n && !memcmp(p, magic[i].b, magic[i].n))
			return true;
	return false;
}

const char *vm_image_format(const uint8_t *data, uint64_t size)
{
	if (lx_probe(data, size))
		return lx_check(data, size, NULL, 0) ? "invalid" : "linux";
	if (!mb_check(data, size, NULL, 0))
		return "multiboot";
	return initrd_magic(data, size) ? "initrd" : "invalid";
}

/* A reset (the keyboard controller's pulse, 0xCF9): the VM starts again from its
 * image, its devices at power-on, as a PC after a reset finds its firmware again. A
 * migration tracking it sees every page as written. */
static void reset(struct vm *vm)
{
	char err[160];

	pc_console_flush(vm);
	if (load_image(vm, err, sizeof(err))) {
		vm_kill(vm, "cannot start again after a reset: %s", err);
		return;
	}
	if (vm->dirty.mode != DIRTY_OFF)
		for (uint64_t pfn = 0; pfn < vm->mem_size / PAGE_SIZE; pfn++)
			dirty_mark(&vm->dirty, pfn);
	vm->vcpu->halted = false;
	mon_event("vm%d reset", vm->id);
}

/* What the platform asked for during the VM's last run: on CPU 0, the VM held when it
 * is at home elsewhere (hv/sched.c). */
void vm_platform_request(struct vm *vm)
{
	enum pc_request r = vm->pc->request;

	vm->pc->request = PC_RUN;
	if (r == PC_RESET && vm->state == VM_RUNNING)
		reset(vm);
	else if (r == PC_POWEROFF)
		end(vm, VM_EXITED, "powered off");
}

/* Frees what ended VMs hold. Done here, outside any exit handler, so no code still
 * running on a VM's behalf sees its memory go. */
void vm_reap(void)
{
	for (int i = 0; i < VM_MAX; i++)
		if (used[i] && dead(&vms[i]) && vms[i].chunks) {
			vm_settle(&vms[i]);
			release(&vms[i]);
		}
}
