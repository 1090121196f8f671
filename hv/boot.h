/* The boot contract: what either loader hands to hv_main. Nothing after hv_main may
 * depend on which loader ran, except to print it. */
#ifndef TERN_BOOT_H
#define TERN_BOOT_H

#include "hv/types.h"

enum boot_loader { BOOT_LOADER_UEFI = 1, BOOT_LOADER_MULTIBOOT2 = 2 };

enum boot_mem_type {
	BOOT_MEM_USABLE = 1,   /* free RAM */
	BOOT_MEM_RECLAIM = 2,  /* firmware boot-time RAM: free once tern runs on its own page tables */
	BOOT_MEM_LOADED = 3,   /* tern's image, the loader's data, the modules: in use */
	BOOT_MEM_ACPI = 4,     /* ACPI tables and NVS: keep */
	BOOT_MEM_RESERVED = 5, /* everything else: keep */
};

struct boot_mem {
	uint64_t base, len;
	uint32_t type;
};

struct boot_module {
	char name[32];    /* how the monitor names it, e.g. "hello" */
	char args[256];   /* its own argument string */
	uint64_t base;    /* physical address of the image in memory */
	uint64_t size;
};

#define BOOT_MAX_MEM 256
#define BOOT_MAX_USED 32
#define BOOT_MAX_MODULES 16
#define BOOT_CMDLINE_MAX 1024
#define BOOT_MAX_CPUS 64

struct boot_info {
	uint32_t loader; /* enum boot_loader */
	char cmdline[BOOT_CMDLINE_MAX];
	uint64_t rsdp;   /* physical address of the ACPI RSDP, 0 if none */
	uint32_t nr_mem;
	struct boot_mem mem[BOOT_MAX_MEM];
	/* Ranges inside USABLE memory that the loader still occupies (its image, the
	 * modules, the tables it built); the allocator must not hand them out. */
	uint32_t nr_used;
	struct boot_mem used[BOOT_MAX_USED];
	uint32_t nr_modules;
	struct boot_module modules[BOOT_MAX_MODULES];
	char notes[512]; /* the loader's warnings, for tern to print on its console */
	/* Where the application processors start (hv/ap_start.h): AP_START_PAGES pages
	 * below 1 MiB that the loader took out of free memory and listed in used[]
	 * (UEFI: allocated from the firmware before ExitBootServices; Multiboot2: the
	 * highest free pages below the EBDA in GRUB's map); 0 when there was no room. */
	uint64_t ap_start;
	/* The processors as the firmware lists them when it gives no ACPI MADT (OVMF
	 * under Bochs has no ACPI tables): UEFI's MP services; nr_cpus 0 if not known. */
	uint32_t nr_cpus;
	uint32_t cpu_apic_id[BOOT_MAX_CPUS];
};

__noreturn void hv_main(const struct boot_info *bi);

/* Helpers both loaders use to fill the contract (hv/bootinfo.c). */
void boot_add_mem(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type);
void boot_add_used(struct boot_info *bi, uint64_t base, uint64_t len);
/* Whether [base, base + len) meets a range the loader marked used. */
bool boot_used_overlaps(const struct boot_info *bi, uint64_t base, uint64_t len);
/* Reserves npages pages below 640 KiB from USABLE memory that no used[] range covers
 * (the highest such run; page 0 never), lists them in used[], returns their address;
 * 0 when there is no room. For loaders whose firmware has no allocator left. */
uint64_t boot_reserve_low(struct boot_info *bi, uint32_t npages);
/* Derives a module's name from a path ("\guests\hello.elf" -> "hello"). */
void boot_module_name(char *name, size_t size, const char *path);
const char *boot_loader_name(uint32_t loader);

#endif
