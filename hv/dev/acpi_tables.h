/* The ACPI tables a PC BIOS would leave in a guest's memory, built by tern for each VM:
 * RSDP, RSDT, XSDT, FADT, FACS, MADT and a DSDT whose AML is encoded here. They
 * describe tern's platform (the port and address map in hv/dev/dev.h's devices):
 *
 *   PM1a_EVT 0x600 (4 bytes)  PM1a_CNT 0x604 (2)  PM_TMR 0x608 (4, 32-bit)  SCI IRQ 9
 *   reset register: I/O 0xCF9, value 0x06        I/O APIC ID 1 at 0xFEC00000, GSI base 0
 *   local APICs at 0xFEE00000                    PCI bus 0 through mechanism #1 (0xCF8)
 *   COM1 0x3F8 IRQ 4                             \_S5: SLP_TYPa 5
 *
 * Pure: the tables go into a caller's buffer, which the caller copies to guest RAM at
 * base_gpa; every address inside them is a guest-physical one computed from base_gpa. */
#ifndef TERN_DEV_ACPI_TABLES_H
#define TERN_DEV_ACPI_TABLES_H

#include "hv/types.h"

#define ACPI_MAX_CPUS 64

/* The firmware area (E and F segments): the RSDP must lie in it, on a 16-byte boundary
 * (ACPI 6.x 5.2.5.1), for a guest that scans for it. */
#define ACPI_AREA_BASE 0xE0000ull
#define ACPI_AREA_END 0x100000ull

/* The platform's fixed-feature registers and interrupts. */
#define ACPI_PM1A_EVT 0x600
#define ACPI_PM1A_CNT 0x604
#define ACPI_PM_TMR 0x608
#define ACPI_SCI_IRQ 9
#define ACPI_SLP_TYP_S5 5
#define ACPI_RESET_PORT 0xCF9
#define ACPI_RESET_VALUE 0x06
#define ACPI_IOAPIC_ID 1
#define ACPI_IOAPIC_BASE 0xFEC00000ull
#define ACPI_LAPIC_BASE 0xFEE00000ull
#define ACPI_PCI_MEM_LIMIT 0xFEBFFFFFull /* the last byte of the PCI memory window */

struct acpi_config {
	uint64_t ram_bytes; /* RAM from guest-physical 0 (tern's VMs have one block) */
	unsigned nr_cpus;   /* 1..ACPI_MAX_CPUS */
	uint8_t apic_ids[ACPI_MAX_CPUS]; /* local APIC ID of each vCPU; distinct, not 0xFF */
};

/* Where acpi_build put things: guest-physical addresses. */
struct acpi_layout {
	uint64_t rsdp, rsdt, xsdt, fadt, facs, madt, dsdt;
	uint64_t pci_mem_base, pci_mem_limit; /* the 32-bit window the DSDT hands PCI */
	size_t used;                           /* bytes of buf written, from its start */
};

/* Builds the tables into buf (room bytes), which the caller copies to guest RAM at
 * base_gpa; the RSDP is at buf[0]. Returns 0, or
 *   -E_INVAL  base_gpa not 16-byte aligned or not in [ACPI_AREA_BASE, ACPI_AREA_END);
 *             nr_cpus 0 or above ACPI_MAX_CPUS; an APIC ID repeated or 0xFF; RAM that
 *             leaves no PCI memory window below ACPI_PCI_MEM_LIMIT
 *   -E_RANGE  the tables do not fit in room, or would run past ACPI_AREA_END
 * buf is unspecified after an error. */
int acpi_build(const struct acpi_config *c, uint64_t base_gpa, uint8_t *buf, size_t room,
	       struct acpi_layout *out);

/* A guest-physical range the platform keeps for itself: never RAM the guest may use,
 * whatever its RAM size; memory maps (Multiboot, e820) mark these reserved. */
struct acpi_range {
	uint64_t base, len;
};

/* The reserved ranges in address order; *nr gets their count. */
const struct acpi_range *acpi_reserved_ranges(unsigned *nr);

#endif
