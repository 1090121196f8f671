/* The Multiboot (version 1) structures a guest reads: the boot loader (tern, or QEMU
 * -kernel) hands over EAX = MB_BOOT_MAGIC and EBX = the physical address of mb_info. */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include "hv/types.h"

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_BOOT_MAGIC 0x2BADB002

/* mb_info.flags: which fields are valid */
#define MB_INFO_MEM (1u << 0)     /* mem_lower, mem_upper */
#define MB_INFO_CMDLINE (1u << 2) /* cmdline */
#define MB_INFO_MODS (1u << 3)    /* mods_count, mods_addr */
#define MB_INFO_MMAP (1u << 6)    /* mmap_length, mmap_addr */

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB below 640 KiB */
	uint32_t mem_upper; /* KiB of contiguous RAM from 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline; /* physical address of "<image-name> <args>" */
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
} __packed;

/* Each entry is preceded by its own size, which does not count the size field. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type; /* 1: usable RAM */
} __packed;

#endif
