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

/* Pure: reads SLP_TYPa for S5 from the \_S5_ package in DSDT bytecode. */
bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typ);

#endif
