/* The Multiboot (version 1, spec 0.6.96) guest loader: places a kernel (ELF32, ELF64 or
 * an a.out-kludge image) and its modules into a guest's RAM and builds the Multiboot
 * information structure. Pure: guest memory is reached through callbacks, so it is
 * tested hosted. */
#ifndef TERN_MBLOAD_H
#define TERN_MBLOAD_H

#include "hv/types.h"

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u /* EAX at the kernel's entry */
#define MB_SEARCH 8192            /* the header lies within the image's first 8 KiB */
#define MB_MAX_PHDRS 64

/* Multiboot header flags; bits 0-15 are requirements a loader must refuse if unknown. */
#define MB_HF_PAGE_ALIGN (1u << 0)
#define MB_HF_MEMINFO (1u << 1)
#define MB_HF_VIDEO (1u << 2)
#define MB_HF_AOUT_KLUDGE (1u << 16)

/* multiboot_info.flags */
#define MB_INFO_MEM (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS (1u << 3)
#define MB_INFO_MMAP (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)

#define MB_MMAP_AVAILABLE 1
#define MB_MMAP_RESERVED 2

/* As the guest finds them in its memory (spec section 3.3). */
struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB below 640 KiB; KiB from 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch, framebuffer_width, framebuffer_height;
	uint8_t framebuffer_bpp, framebuffer_type;
	uint8_t color_info[6];
} __packed;
_Static_assert(sizeof(struct multiboot_info) == 116, "multiboot_info layout");

struct multiboot_mod {
	uint32_t mod_start, mod_end; /* [start, end) */
	uint32_t string;
	uint32_t reserved;
} __packed;

/* mmap_addr points at the first entry's size, which counts the bytes after it. */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t base_addr, length;
	uint32_t type;
} __packed;
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "mmap entry layout");

/* The guest's RAM, [0, size). The loader calls write and zero only for ranges inside it,
 * and only once everything has been checked: a refused image leaves RAM untouched. */
struct mb_guest_mem {
	uint64_t size;
	void *ctx;
	void (*write)(void *ctx, uint64_t gpa, const void *src, uint64_t len);
	void (*zero)(void *ctx, uint64_t gpa, uint64_t len);
};

/* A kernel or module image; cmdline may be NULL (the guest then sees ""). */
struct mb_blob {
	const uint8_t *data;
	uint64_t size;
	const char *cmdline;
};

/* What the vCPU starts with: 32-bit protected mode, EAX = MB_BOOT_MAGIC. */
struct mb_boot {
	uint32_t entry; /* EIP */
	uint32_t mbi;   /* EBX: guest-physical address of the multiboot_info */
	uint32_t end;   /* first byte after everything the loader placed */
};

/* Loads the kernel at the addresses it asks for, then, page-aligned above its highest
 * byte (and never in [0x9FC00, 0x100000)): each module, then one block holding the
 * multiboot_info, the module list, the memory map and the strings.
 * Returns 0, or a negative error with a one-line reason in err:
 *   -E_FORMAT  malformed or truncated image, overlapping segments, bad entry point
 *   -E_NOSUP   header requires something tern does not provide (video mode, bits 3-15),
 *              or more than MB_MAX_PHDRS program headers
 *   -E_RANGE   a segment outside RAM, above 4 GiB, on page 0 or in the legacy hole
 *   -E_NOMEM   the modules and the information do not fit in RAM below 4 GiB
 *   -E_INVAL   missing arguments */
int mb_load(const struct mb_guest_mem *mem, const struct mb_blob *kernel,
	    const struct mb_blob *mods, unsigned nr_mods, struct mb_boot *out, char *err,
	    size_t err_size);

/* For listing images: 0 when the header is valid and the kernel's layout passes every
 * check mb_load makes that does not depend on the guest's RAM size. */
int mb_check(const uint8_t *data, uint64_t size, char *err, size_t err_size);

#endif
