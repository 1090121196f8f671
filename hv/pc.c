#include "hv/console.h"
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pmm.h"
#include "hv/sched.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/wallclock.h"

/* However close a guest programs its timers (a local APIC timer every nanosecond),
 * tern stops it for them at most this often: the rest coalesce, as interrupts a CPU
 * was too busy to take do. */
#define MIN_EVENT_NS 10000

/* A device's warning, naming the VM (dev_warn() says each kind once per device). */
static void emit(void *ctx, const char *line)
{
	struct pc *pc = ctx;

	mon_event("vm%d: %s", pc->vm->id, line);
}

/* --- wiring: ISA interrupt requests to both interrupt controllers --- */

/* ISA IRQ n reaches the 8259 pin n and I/O APIC pin n, but IRQ0 reaches pin 2 (the
 * MADT's interrupt source override, as on every PC with an I/O APIC). */
static void isa_irq(void *ctx, unsigned irq, bool level)
{
	struct pc *pc = ctx;

	pic_set_irq(&pc->pic, irq, level);
	ioapic_set_irq(&pc->ioapic, irq == 0 ? 2 : irq, level);
}

static unsigned nr_cpus(const struct pc *pc)
{
	return pc->vm->nr_vcpus ? pc->vm->nr_vcpus : 1;
}

/* The vCPU of local APIC a takes what it was sent at once: its CPU, when another,
 * leaves the guest (or its idle wait) and looks again. */
static void kick(struct pc *pc, const struct lapic *a)
{
	if (a->apic_id < pc->vm->nr_vcpus)
		sched_kick_vcpu(pc->vm->vcpus[a->apic_id]);
}

/* A message on the VM's APIC bus, to every local APIC it names but `from` (NULL: from
 * the I/O APIC); lowest priority to one of them only, the one with the lowest TPR (the
 * first such, SDM 11.6.2.4 leaves ties to the chipset). Returns how many took it. */
static unsigned bus_send(struct pc *pc, const struct lapic *from, const struct apic_msg *m)
{
	struct lapic *lowest = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < nr_cpus(pc); i++) {
		struct lapic *a = &pc->lapic[i];
		if (a == from || (m->shorthand == APIC_SH_NONE &&
				  !lapic_match(a, m->dest, m->logical)))
			continue;
		if (m->mode == APIC_DM_LOWEST) {
			if (!lowest || lapic_cr8(a) < lapic_cr8(lowest))
				lowest = a;
			continue;
		}
		lapic_deliver(a, m);
		kick(pc, a);
		n++;
	}
	if (lowest) {
		lapic_deliver(lowest, m);
		kick(pc, lowest);
		n++;
	}
	return n;
}

static bool ioapic_deliver(void *ctx, const struct apic_msg *m)
{
	return bus_send(ctx, NULL, m) > 0;
}

/* An IPI from a vCPU to others of its VM: the sender gives way (its slice ends), so a
 * target at home on the same CPU and woken by it runs at once. */
static bool lapic_ipi(void *ctx, const struct lapic *from, const struct apic_msg *m)
{
	struct pc *pc = ctx;
	unsigned n = bus_send(pc, from, m);

	if (n && pc->vm->vcpus[from->apic_id])
		pc->vm->vcpus[from->apic_id]->yield = true;
	pc->next_event = 0;
	return n > 0;
}

/* INIT and STARTUP to an application processor; the bootstrap processor's INIT is not
 * modelled (false: the local APIC says so). */
static bool lapic_start(void *ctx, const struct lapic *a, bool init, uint8_t vector)
{
	struct pc *pc = ctx;

	if (a->apic_id == 0)
		return false;
	vcpu_mp_signal(pc->vm->vcpus[a->apic_id], init, vector);
	kick(pc, a);
	return true;
}

static void lapic_eoi(void *ctx, uint8_t vector)
{
	struct pc *pc = ctx;

	ioapic_eoi(&pc->ioapic, vector);
}

static void request(struct pc *pc, enum pc_request r)
{
	if (!pc->request)
		pc->request = r;
}

static void reset_line(void *ctx)
{
	request(ctx, PC_RESET);
}

static void poweroff_line(void *ctx)
{
	request(ctx, PC_POWEROFF);
}

/* --- the guest's console --- */

void pc_console_flush(struct vm *vm)
{
	if (vm->pc)
		vcon_flush(&vm->pc->con, vm->id);
}

/* An attached operator gets the bytes as they are: it chose to talk to the guest. */
static void uart_tx(void *ctx, uint8_t c)
{
	struct pc *pc = ctx;

	if (pc->attached)
		console_write_raw(&c, 1);
	else
		vcon_put(&pc->con, c, pc->vm->id);
}

/* From CPU 0's monitor: the UART is the guest's CPU's meanwhile, so the VM is held. */
unsigned pc_console_input(struct vm *vm, const uint8_t *bytes, unsigned n)
{
	unsigned took;

	vm_hold(vm);
	took = uart_input(&vm->pc->uart, bytes, n);
	vm->pc->next_event = 0;
	vm_unhold(vm);
	return took;
}

/* Held: the line being gathered is the guest's CPU's while the VM runs. */
void pc_console_attach(struct vm *vm, bool on)
{
	vm_hold(vm);
	if (on)
		pc_console_flush(vm);
	vm->pc->attached = on;
	vm_unhold(vm);
}

/* --- life --- */

static void init_devices(struct pc *pc)
{
	struct vm *vm = pc->vm;
	uint64_t now = vm_now_ns(vm);
	const struct cpuid_entry *e1 = cpu_model_find(&vm->cpu, 1, 0);

	for (int i = 0; i < PC_NR_LOGS; i++)
		pc->log[i] = (struct dev_log){ emit, pc, 0 };
	pc->lapic_ops = (struct lapic_ops){ .eoi = lapic_eoi, .ipi = lapic_ipi, .ctx = pc,
					    .log = &pc->log[LOG_LAPIC], .start = lapic_start };
	pc->ioapic_ops = (struct ioapic_ops){ ioapic_deliver, pc };
	for (unsigned i = 0; i < nr_cpus(pc); i++) {
		memset(pc->apic_page[i], 0, PAGE_SIZE);
		lapic_init(&pc->lapic[i], pc->apic_page[i], i, vm->cpu.tsc_hz,
			   e1 && (e1->ecx & (1u << 24)), &pc->lapic_ops, now);
		lapic_set_phys_bits(&pc->lapic[i], cpu_maxphyaddr(&vm->cpu));
	}
	ioapic_init(&pc->ioapic, &pc->ioapic_ops, &pc->log[LOG_IOAPIC]);
	/* Pins 16-23 are PCI lines, pulled up when idle: high, so a guest that programs
	 * them active-low (as PCI wants) sees them deasserted. */
	for (unsigned pin = 16; pin < IOAPIC_PINS; pin++)
		ioapic_set_irq(&pc->ioapic, pin, true);
	pic_init(&pc->pic, &pc->log[LOG_PIC]);
	/* the 8259's INTR and NMI reach the bootstrap processor's LINT pins */
	pc->pic.intr = (struct irq_line){ lapic_lint_line, &pc->lapic[0], 0 };
	pit_init(&pc->pit, (struct irq_line){ isa_irq, pc, 0 }, &pc->log[LOG_PIT], now);
	rtc_init(&pc->rtc, (struct irq_line){ isa_irq, pc, 8 }, &pc->log[LOG_RTC],
		 wallclock_now(), vm->mem_size, now);
	uart_init(&pc->uart, (struct irq_line){ isa_irq, pc, 4 }, &pc->log[LOG_UART], uart_tx, pc);
	acpi_pm_init(&pc->pm, (struct irq_line){ isa_irq, pc, ACPI_SCI_IRQ }, &pc->log[LOG_PM],
		     poweroff_line, pc, now);
	kbc_init(&pc->kbc, &pc->log[LOG_KBC], reset_line, pc);
	pci_host_init(&pc->pci, &pc->log[LOG_PCI], reset_line, pc);
	pc->next_event = 0;
	pc->request = PC_RUN;
}

int pc_create(struct vm *vm)
{
	uint64_t npages = ALIGN_UP(sizeof(struct pc), PAGE_SIZE) / PAGE_SIZE;
	struct pc *pc = (void *)(uintptr_t)pmm_alloc(npages);

	if (!pc)
		return -E_NOMEM;
	pc->vm = vm;
	vm->pc = pc;
	for (unsigned i = 0; i < nr_cpus(pc); i++) {
		pc->apic_page[i] = (uint32_t *)(uintptr_t)pmm_alloc(1);
		if (!pc->apic_page[i]) {
			pc_destroy(vm);
			return -E_NOMEM;
		}
	}
	init_devices(pc);
	return 0;
}

void pc_destroy(struct vm *vm)
{
	struct pc *pc = vm->pc;

	if (!pc)
		return;
	for (unsigned i = 0; i < VM_VCPUS_MAX; i++)
		if (pc->apic_page[i])
			pmm_free((uintptr_t)pc->apic_page[i], 1);
	pmm_free((uintptr_t)pc, ALIGN_UP(sizeof(struct pc), PAGE_SIZE) / PAGE_SIZE);
	vm->pc = NULL;
}

void pc_reset(struct vm *vm)
{
	struct pc *pc = vm->pc;

	init_devices(pc); /* an attached operator stays: the console survives a reset */
}

int pc_load_firmware(struct vm *vm, char *err, size_t err_size)
{
	static uint8_t buf[16 * KIB];
	struct acpi_config c = { .ram_bytes = vm->mem_size, .nr_cpus = nr_cpus(vm->pc) };
	struct acpi_layout l;
	int e;

	for (unsigned i = 0; i < c.nr_cpus; i++)
		c.apic_ids[i] = (uint8_t)i;
	e = acpi_build(&c, ACPI_AREA_BASE, buf, sizeof(buf), &l);

	if (e) {
		fmt_snprintf(err, err_size, "cannot build the ACPI tables for %llu MiB: %s",
			     (unsigned long long)(vm->mem_size / MIB), error_str(e));
		return e;
	}
	if (!gpa_write(vm, gpa(ACPI_AREA_BASE), buf, l.used)) {
		fmt_snprintf(err, err_size, "the VM's RAM does not reach the firmware area");
		return -E_RANGE;
	}
	return 0;
}

/* --- port I/O --- */

static void log_unhandled(struct pc *pc, uint16_t port, bool in)
{
	uint8_t bit = (uint8_t)(1u << (port % 8));

	if (pc->ports_logged[port / 8] & bit)
		return;
	pc->ports_logged[port / 8] |= bit;
	mon_event("vm%d: %s of unhandled I/O port 0x%x (%s; reported once)", pc->vm->id,
		  in ? "read" : "write", port, in ? "reads as all ones" : "write dropped");
}

/* Byte-wide devices: a wider access is a byte access at each port in turn, as the ISA
 * bus splits it. */
static uint8_t byte_in(struct pc *pc, uint16_t port, uint64_t now)
{
	if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 ||
	    port == 0x4d1)
		return pic_read(&pc->pic, port);
	if ((port >= 0x40 && port <= 0x43) || port == 0x61)
		return pit_read(&pc->pit, port, now);
	if (port == 0x70 || port == 0x71)
		return rtc_read(&pc->rtc, port, now);
	if (port >= UART_COM1_BASE && port < UART_COM1_BASE + 8)
		return uart_read(&pc->uart, port - UART_COM1_BASE);
	return 0xff;
}

static bool byte_port(uint16_t p)
{
	return p == 0x20 || p == 0x21 || p == 0xa0 || p == 0xa1 || p == 0x4d0 || p == 0x4d1 ||
	       (p >= 0x40 && p <= 0x43) || p == 0x61 || p == 0x70 || p == 0x71 ||
	       (p >= UART_COM1_BASE && p < UART_COM1_BASE + 8);
}

static void byte_out(struct pc *pc, uint16_t port, uint8_t v, uint64_t now)
{
	if (port == 0x20 || port == 0x21 || port == 0xa0 || port == 0xa1 || port == 0x4d0 ||
	    port == 0x4d1)
		pic_write(&pc->pic, port, v);
	else if ((port >= 0x40 && port <= 0x43) || port == 0x61)
		pit_write(&pc->pit, port, v, now);
	else if (port == 0x70 || port == 0x71)
		rtc_write(&pc->rtc, port, v, now);
	else if (port >= UART_COM1_BASE && port < UART_COM1_BASE + 8)
		uart_write(&pc->uart, port - UART_COM1_BASE, v);
}

static bool in_range(uint16_t p, uint16_t lo, uint16_t n)
{
	return p >= lo && p < lo + n;
}

bool pc_io(struct vm *vm, uint16_t port, unsigned size, bool in, uint32_t *val)
{
	struct pc *pc = vm->pc;
	uint64_t now = vm_now_ns(vm);

	pc->next_event = 0; /* a device may have moved its deadline */
	if (byte_port(port)) {
		uint32_t v = 0;
		for (unsigned i = 0; i < size; i++) {
			uint16_t p = (uint16_t)(port + i);
			if (in)
				v |= (uint32_t)(byte_port(p) ? byte_in(pc, p, now) : 0xff) << (8 * i);
			else if (byte_port(p))
				byte_out(pc, p, (uint8_t)(*val >> (8 * i)), now);
		}
		if (in)
			*val = v;
	} else if (port == 0x60 || port == 0x64 || port == 0x92) {
		if (in)
			kbc_read(&pc->kbc, port, size, val);
		else
			kbc_write(&pc->kbc, port, size, *val);
	} else if (in_range(port, ACPI_PM1A_EVT, 12)) {
		if (in)
			acpi_pm_read(&pc->pm, port, size, val, now);
		else
			acpi_pm_write(&pc->pm, port, size, *val, now);
	} else if (in_range(port, 0xcf8, 8)) {
		if (in)
			pci_host_read(&pc->pci, port, size, val);
		else
			pci_host_write(&pc->pci, port, size, *val);
	} else if (port == PC_EXIT_PORT) {
		if (in) {
			*val = 0xffffffffu;
			return true;
		}
		vm_exit_status(vm, size == 4 ? *val : *val & ((1u << (8 * size)) - 1));
		return false;
	} else if (port == 0x80 || port == 0xed) {
		/* POST codes and the I/O delay port kernels write to wait a little */
		if (in)
			*val = 0xffffffffu;
	} else {
		log_unhandled(pc, port, in);
		if (in)
			*val = 0xffffffffu;
	}
	return pc->request == PC_RUN;
}

/* --- the local APIC's exits --- */

/* Counts an exit that reached the model, by the register's xAPIC offset. */
static void count_apic(struct pc *pc, uint32_t off)
{
	struct apic_counts *st = &pc->vm->apic_counts;

	off &= 0xff0;
	if (off == APIC_TPR)
		st->tpr++;
	else if (off == APIC_EOI)
		st->eoi++;
	else if (off == APIC_ICR_LO || off == APIC_ICR_HI || off == APIC_SELF_IPI)
		st->icr++;
	else
		st->other++;
}

uint8_t pc_cr8(struct vm *vm, unsigned cpu)
{
	vm->apic_counts.cr8++;
	return lapic_cr8(&vm->pc->lapic[cpu]);
}

void pc_set_cr8(struct vm *vm, unsigned cpu, uint8_t val)
{
	vm->apic_counts.cr8++;
	lapic_set_cr8(&vm->pc->lapic[cpu], val, vm_now_ns(vm));
}

/* The CPU wrote the page then exited (SDM 29.4.3.3). A write narrower than the register
 * (the CPU lets bytes of its first 4 through) is taken as a write of the whole
 * register as the page now holds it: the model keeps the bits that may be written. */
void pc_apic_written(struct vm *vm, unsigned cpu, uint32_t offset)
{
	struct pc *pc = vm->pc;

	count_apic(pc, offset);
	pc->next_event = 0;
	lapic_write_done(&pc->lapic[cpu], offset & 0xff0, vm_now_ns(vm));
}

void pc_apic_eoi(struct vm *vm, unsigned cpu, uint8_t vector)
{
	vm->apic_counts.eoi++;
	vm->pc->next_event = 0;
	lapic_eoi_done(&vm->pc->lapic[cpu], vector);
}

/* --- device memory --- */

static bool at_lapic(const struct lapic *a, uint64_t g)
{
	uint64_t base = lapic_mmio_base(a);

	return lapic_enabled(a) && !lapic_x2apic(a) && g >= base && g < base + LAPIC_PAGE_SIZE;
}

bool pc_mmio_owner(const struct vm *vm, unsigned cpu, uint64_t g)
{
	return at_lapic(&vm->pc->lapic[cpu], g) || (g >= IOAPIC_BASE && g < IOAPIC_BASE + IOAPIC_SIZE);
}

bool pc_mmio(struct vm *vm, unsigned cpu, uint64_t g, unsigned size, bool write,
	     uint64_t *val)
{
	struct pc *pc = vm->pc;
	struct lapic *a = &pc->lapic[cpu];
	uint64_t now = vm_now_ns(vm), base = lapic_mmio_base(a);

	pc->next_event = 0;
	if (at_lapic(a, g)) {
		count_apic(pc, (uint32_t)(g - base));
		if (write)
			lapic_mmio_write(a, (uint32_t)(g - base), size, *val, now);
		else
			*val = lapic_mmio_read(a, (uint32_t)(g - base), size, now);
		return true;
	}
	if (g >= IOAPIC_BASE && g < IOAPIC_BASE + IOAPIC_SIZE) {
		if (write)
			ioapic_write(&pc->ioapic, (uint32_t)(g - IOAPIC_BASE), size, (uint32_t)*val);
		else
			*val = ioapic_read(&pc->ioapic, (uint32_t)(g - IOAPIC_BASE), size);
		return true;
	}
	return false;
}

int pc_msr(struct vm *vm, unsigned cpu, uint32_t msr, bool write, uint64_t *val)
{
	struct lapic *a = &vm->pc->lapic[cpu];
	uint64_t now = vm_now_ns(vm);

	if (msr != MSR_IA32_APIC_BASE && msr != MSR_IA32_TSC_DEADLINE &&
	    (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST))
		return -1;
	vm->pc->next_event = 0;
	count_apic(vm->pc, msr >= MSR_X2APIC_FIRST ? (msr - MSR_X2APIC_FIRST) << 4 : 0);
	return write ? lapic_msr_write(a, msr, *val, now) : lapic_msr_read(a, msr, val, now);
}

/* --- timers and interrupts --- */

static uint64_t earliest(const struct pc *pc)
{
	uint64_t t = pit_next_event(&pc->pit);

	t = MIN(t, rtc_next_event(&pc->rtc));
	for (unsigned i = 0; i < nr_cpus(pc); i++)
		t = MIN(t, lapic_next_event(&pc->lapic[i]));
	return MIN(t, acpi_pm_next_event(&pc->pm));
}

void pc_tick(struct vm *vm)
{
	struct pc *pc = vm->pc;
	uint64_t now = vm_now_ns(vm), next;

	if (now < pc->next_event)
		return;
	pit_run(&pc->pit, now);
	rtc_run(&pc->rtc, now);
	for (unsigned i = 0; i < nr_cpus(pc); i++)
		lapic_run(&pc->lapic[i], now);
	acpi_pm_run(&pc->pm, now);
	next = earliest(pc);
	pc->next_event = next == DEV_NEVER ? DEV_NEVER : MAX(next, now + MIN_EVENT_NS);
}

uint64_t pc_next_event(const struct vm *vm)
{
	return vm->pc->next_event;
}

/* The PIC reaches the CPU through LINT0 as ExtINT (or directly with the local APIC
 * off), and is asked first, as the interrupt acknowledge cycle would. */
static bool extint(struct pc *pc, unsigned cpu)
{
	return pic_intr(&pc->pic) && lapic_extint(&pc->lapic[cpu]);
}

bool pc_intr_ready(struct vm *vm, unsigned cpu)
{
	struct pc *pc = vm->pc;

	return extint(pc, cpu) || lapic_pending(&pc->lapic[cpu]) >= 0;
}

uint8_t pc_intr_ack(struct vm *vm, unsigned cpu)
{
	struct pc *pc = vm->pc;
	struct lapic *a = &pc->lapic[cpu];
	int v;

	vm->apic_counts.injected++;
	if (extint(pc, cpu)) {
		uint8_t vec = pic_intack(&pc->pic);
		lapic_extint_taken(a);
		return vec;
	}
	v = lapic_pending(a);
	lapic_accept(a, (uint8_t)v);
	return (uint8_t)v;
}

bool pc_extint_ready(struct vm *vm, unsigned cpu)
{
	return extint(vm->pc, cpu);
}

bool pc_take_nmi(struct vm *vm, unsigned cpu)
{
	return lapic_take_nmi(&vm->pc->lapic[cpu]);
}

bool pc_apic_enabled(const struct vm *vm, unsigned cpu)
{
	return lapic_enabled(&vm->pc->lapic[cpu]);
}

/* --- state records --- */

/* Each record and where its struct lives: in struct pc, or (in_vm) in struct vm. The
 * VM's boot record travels with the devices' so that a reset on a migration's target
 * loads what the firmware of the source would have (QEMU's -kernel, -initrd and -append
 * are the machine's too). */
static const struct {
	const struct vms_desc *desc;
	size_t off;
	bool in_vm;
} records[PC_NR_RECORDS] = {
	{ &vm_boot_vms, offsetof(struct vm, boot), true },
	{ &pic_vms, offsetof(struct pc, pic.s), false },
	{ &pit_vms, offsetof(struct pc, pit.s), false },
	{ &rtc_vms, offsetof(struct pc, rtc.s), false },
	{ &uart_vms, offsetof(struct pc, uart.s), false },
	{ &lapic_vms, offsetof(struct pc, lapic[0].s), false },
	{ &ioapic_vms, offsetof(struct pc, ioapic.s), false },
	{ &acpi_pm_vms, offsetof(struct pc, pm.s), false },
	{ &kbc_vms, offsetof(struct pc, kbc.s), false },
	{ &pci_host_vms, offsetof(struct pc, pci.s), false },
};

unsigned pc_record_descs(const struct vms_desc **out)
{
	for (unsigned i = 0; i < PC_NR_RECORDS; i++)
		out[i] = records[i].desc;
	return PC_NR_RECORDS;
}

void *pc_record_state(struct vm *vm, unsigned i)
{
	if (i >= PC_NR_RECORDS)
		return NULL;
	return (records[i].in_vm ? (uint8_t *)vm : (uint8_t *)vm->pc) + records[i].off;
}

unsigned pc_records(struct vm *vm, struct pc_record *out)
{
	pc_apic_record(vm, 0, true);
	for (unsigned i = 0; i < PC_NR_RECORDS; i++)
		out[i] = (struct pc_record){ records[i].desc, pc_record_state(vm, i) };
	return PC_NR_RECORDS;
}

void pc_restored(struct vm *vm)
{
	struct pc *pc = vm->pc;
	uint64_t now = vm_now_ns(vm);

	pic_restore(&pc->pic);
	pit_restore(&pc->pit, now);
	rtc_restore(&pc->rtc, now);
	uart_restore(&pc->uart);
	for (unsigned i = 0; i < nr_cpus(pc); i++)
		lapic_restore(&pc->lapic[i], now);
	ioapic_restore(&pc->ioapic);
	acpi_pm_restore(&pc->pm, now);
	pc->next_event = 0;
}

void *pc_apic_record(struct vm *vm, unsigned cpu, bool save)
{
	if (save)
		lapic_save(&vm->pc->lapic[cpu]);
	return &vm->pc->lapic[cpu].s;
}

void pc_clock_set(struct vm *vm)
{
	vm->pc->next_event = 0;
}
