/* The ACPI tables a guest finds as an OS does (ACPI 6.5, 5.2.5.1): the RSDP by its
 * signature on a 16-byte boundary in the EBDA's first KiB or in 0xE0000-0xFFFFF, then
 * the RSDT or XSDT it points to. Paging is off, so a table's address is a pointer. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "hv/types.h"

/* The System Description Table Header (5.2.6) */
struct acpi_header {
	char sig[4];
	uint32_t length; /* of the whole table, header included */
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* The RSDP's address, or NULL when there is none. */
const void *acpi_rsdp(void);
/* The table at physical address addr when its signature is sig (4 characters) and its
 * checksum is right; NULL otherwise. */
const struct acpi_header *acpi_table(uint64_t addr, const char *sig);

/* The first table with signature sig (4 characters) and a right checksum, as listed
 * by the XSDT when the RSDP has one below 4 GiB, else by the RSDT; NULL if none. */
const struct acpi_header *acpi_find(const char *sig);

/* The APIC IDs of the MADT's enabled Processor Local APIC entries (type 0, flags bit 0;
 * 5.2.12.2), in the MADT's order; stores at most max of them but returns how many
 * there are, or -1 when there is no MADT. */
int acpi_madt_lapics(uint8_t *ids, int max);

#endif
