/* Just enough ACPI to find tables and power the machine off (S5). */
#ifndef TERN_ACPI_H
#define TERN_ACPI_H

#include "hv/types.h"

struct acpi_header {
	char sig[4];
	uint32_t len;
	uint8_t rev, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __packed;

/* Locates the RSDP (from the loader, or by scanning the BIOS area) and the FADT. */
int acpi_init(uint64_t rsdp);
/* Finds a table by signature; NULL when absent or its checksum is wrong. */
const struct acpi_header *acpi_find(const char sig[4]);
/* Enters S5. Returns only when the machine did not power off. */
int acpi_poweroff(void);

/* The processors a MADT lists (ACPI 6.5, 5.2.12). */
#define ACPI_MAX_CPUS 64
struct acpi_cpus {
	uint32_t n;                        /* enabled processors, each APIC ID once */
	uint32_t apic_id[ACPI_MAX_CPUS];   /* in table order: the boot CPU is usually first */
	uint32_t not_enabled;              /* listed, but disabled or only online-capable */
	uint32_t dropped;                  /* enabled, past ACPI_MAX_CPUS */
};

/* Pure: the enabled processors of MADT bytes t, of which len may be read: local APIC
 * (type 0) and local x2APIC (type 9) entries with the Enabled flag. -E_FORMAT for a
 * table shorter than its fixed part, a header length past len, or an entry whose
 * length is below its type's size or runs past the table's end. */
int acpi_parse_madt(const uint8_t *t, size_t len, struct acpi_cpus *out);
/* The host's processors from its MADT; -E_NOENT when the firmware gave none. */
int acpi_host_cpus(struct acpi_cpus *out);

/* Pure: reads SLP_TYPa for S5 from the \_S5_ package in DSDT bytecode. */
bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typ);

#endif
