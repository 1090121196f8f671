/* The PC platform of one VM: its device models (hv/dev/), how they are wired (ISA IRQs
 * to the 8259 pair and the I/O APIC, the PIC's INTR to the local APIC's LINT0), the
 * ports and device memory they answer, their timers, and their state records. Nothing
 * here knows VT-x: the core's exit handlers (hv/vcpu.c) call in, naming the vCPU
 * (`cpu`, its index in the VM and its local APIC ID) where the local APIC is involved. */
#ifndef TERN_PC_H
#define TERN_PC_H

#include "hv/dev/acpi_pm.h"
#include "hv/dev/ioapic.h"
#include "hv/dev/kbc.h"
#include "hv/dev/lapic.h"
#include "hv/dev/pci_host.h"
#include "hv/dev/pic.h"
#include "hv/dev/pit.h"
#include "hv/dev/rtc.h"
#include "hv/dev/uart.h"
#include "hv/vconsole.h"
#include "hv/vm.h"
#include "hv/vmstate.h"

#define PC_EXIT_PORT 0xf4 /* as QEMU's isa-debug-exit: a write ends the VM */

enum pc_log { LOG_PIC, LOG_PIT, LOG_RTC, LOG_UART, LOG_LAPIC, LOG_IOAPIC, LOG_PM, LOG_KBC,
	      LOG_PCI, LOG_PC, PC_NR_LOGS };

/* What ended a VM's run from inside its platform. */
enum pc_request { PC_RUN = 0, PC_RESET, PC_POWEROFF };

struct vm;

struct pc {
	struct vm *vm;
	struct pic pic;
	struct pit pit;
	struct rtc rtc;
	struct uart uart;
	struct lapic lapic[VM_VCPUS_MAX]; /* one per vCPU: vm->nr_vcpus of them */
	struct ioapic ioapic;
	struct acpi_pm pm;
	struct kbc kbc;
	struct pci_host pci;
	uint32_t *apic_page[VM_VCPUS_MAX]; /* each local APIC's registers (and the
					    * virtual-APIC page) */
	struct dev_log log[PC_NR_LOGS];
	struct lapic_ops lapic_ops;
	struct ioapic_ops ioapic_ops;
	uint64_t next_event;     /* guest ns: the earliest device event */
	enum pc_request request;
	uint8_t ports_logged[8192]; /* a bit per port: already reported as unhandled */
	/* the guest's console output, a line at a time, or raw to an attached operator */
	struct vconsole con;
	bool attached;
};

/* Creates the devices in their power-on state; the VM's CPU model and clock must be
 * set. */
int pc_create(struct vm *vm);
void pc_destroy(struct vm *vm);
/* Puts the firmware tables a PC BIOS leaves into the guest's RAM (0xE0000-0xFFFFF). */
int pc_load_firmware(struct vm *vm, char *err, size_t err_size);
/* Every device back to its power-on state (a reset), keeping the console's line. */
void pc_reset(struct vm *vm);

/* Exits. pc_io returns false when the VM must stop running (it ended, or asked for a
 * reset or power-off: see pc->request). pc_mmio returns false when nothing lives at g.
 * pc_msr returns 1 handled, 0 for #GP, -1 when the MSR is not the platform's. */
bool pc_io(struct vm *vm, uint16_t port, unsigned size, bool in, uint32_t *val);
bool pc_mmio(struct vm *vm, unsigned cpu, uint64_t g, unsigned size, bool write,
	     uint64_t *val);
int pc_msr(struct vm *vm, unsigned cpu, uint32_t msr, bool write, uint64_t *val);
/* Whether a device answers at guest-physical g (for vCPU cpu: the local APIC's page). */
bool pc_mmio_owner(const struct vm *vm, unsigned cpu, uint64_t g);

/* Timers and interrupts, for the vCPU: pc_tick runs what is due; then an interrupt (a
 * vector the local APIC or, through ExtINT, the PIC has for the CPU) or an NMI may be
 * ready. pc_intr_ack is the acknowledge cycle. */
void pc_tick(struct vm *vm);
uint64_t pc_next_event(const struct vm *vm);
bool pc_intr_ready(struct vm *vm, unsigned cpu);
uint8_t pc_intr_ack(struct vm *vm, unsigned cpu);
bool pc_take_nmi(struct vm *vm, unsigned cpu);
bool pc_apic_enabled(const struct vm *vm, unsigned cpu);
/* Only the PIC's vector (ExtINT) is ready: with virtual-interrupt delivery the CPU
 * takes the local APIC's vectors from the page itself. */
bool pc_extint_ready(struct vm *vm, unsigned cpu);

/* The local APIC where the CPU virtualizes it: CR8 on the trapping path, a register the
 * CPU wrote into the page (an APIC-write exit), an EOI it performed (an EOI-induced
 * exit: the vector's ISR bit is already clear). */
uint8_t pc_cr8(struct vm *vm, unsigned cpu);
void pc_set_cr8(struct vm *vm, unsigned cpu, uint8_t val);
void pc_apic_written(struct vm *vm, unsigned cpu, uint32_t offset);
void pc_apic_eoi(struct vm *vm, unsigned cpu, uint8_t vector);

/* The guest's console (COM1): bytes from the operator, and whether its output goes raw
 * to the operator (attached) or as "[vm<ID>] ..." lines. */
unsigned pc_console_input(struct vm *vm, const uint8_t *bytes, unsigned n);
void pc_console_attach(struct vm *vm, bool on);
void pc_console_flush(struct vm *vm);

/* The platform's state records, in the order a migration sends them (the local APIC's:
 * the bootstrap processor's; an application processor's goes with its vCPU state,
 * pc_apic_record). pc_records gives
 * each with the VM's struct it describes, bringing the local APIC's page into its record
 * first (for saving). pc_record_descs lists the same descriptors without a VM (what a
 * migration target checks a source's list against); pc_record_state is the struct of
 * record i in the VM, to decode into (no page brought in: that would overwrite what was
 * decoded). After new contents were decoded into the records, pc_restored() recomputes
 * what derives from them. */
struct pc_record {
	const struct vms_desc *desc;
	void *rec;
};
#define PC_NR_RECORDS 10
unsigned pc_records(struct vm *vm, struct pc_record *out);
unsigned pc_record_descs(const struct vms_desc **out);
void *pc_record_state(struct vm *vm, unsigned i);
void pc_restored(struct vm *vm);
/* vCPU cpu's local APIC record (lapic_vms's struct); save: its page brought in first (a
 * source encoding it), else as is (a target decoding into it before pc_restored). */
void *pc_apic_record(struct vm *vm, unsigned cpu, bool save);
/* The VM's clock was set (its TSC moved): device deadlines are guest times, so the
 * earliest is found again before the VM runs. */
void pc_clock_set(struct vm *vm);

#endif
