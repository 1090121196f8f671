/* The Linux/x86 boot protocol (the kernel's Documentation/arch/x86/boot.rst and
 * zero-page.rst), the loader's side: recognizes a bzImage, places its protected-mode
 * kernel, the initrd and the command line in a guest's RAM, fills the zero page
 * (struct boot_params) with the setup header, the e820 map and the ACPI RSDP, and says
 * how the vCPU enters the kernel (64-bit entry point, or the 32-bit one). Pure, like
 * hv/mbload.h: guest memory through callbacks, every check made before anything is
 * written, so it is tested hosted.
 *
 * The guest's low memory as the loader leaves it (all of it usable RAM in the e820
 * map: the kernel copies the zero page and the command line before it reuses it):
 *
 *   0x0000 page 0 (untouched)   0x1000 GDT          0x2000 PML4   0x3000 PDPT
 *   0x4000 4 page directories: 4 GiB identity-mapped in 2 MiB pages (64-bit entry)
 *   0x8000 the zero page        0x9000 the command line (up to 4 KiB)
 *   0xa000-0x10000 a boot stack  0x100000 the protected-mode kernel ... initrd at the top
 */
#ifndef TERN_LINUXLOAD_H
#define TERN_LINUXLOAD_H

#include "hv/cpu_model.h"
#include "hv/mbload.h"
#include "hv/types.h"
#include "hv/vcpu_state.h"

/* 2.10 (Linux 2.6.31) gave the header init_size and pref_address, which tell how much
 * RAM the kernel needs where: older kernels are refused. */
#define LX_MIN_VERSION 0x020a
/* What a user of QEMU's -kernel passes: the console on the first serial port. */
#define LX_DEFAULT_CMDLINE "console=ttyS0,115200"

#define LX_GDT 0x1000ull
#define LX_PML4 0x2000ull
#define LX_ZERO_PAGE 0x8000ull
#define LX_CMDLINE 0x9000ull
#define LX_CMDLINE_MAX 4096 /* with its NUL */
#define LX_STACK_TOP 0x10000ull
#define LX_KERNEL 0x100000ull /* where a bzImage's protected-mode kernel goes */
#define LX_BOOT_CS 0x10       /* __BOOT_CS and __BOOT_DS, as the protocol names them */
#define LX_BOOT_DS 0x18

/* e820 entry types (ACPI 6.x Table 15-374, "Address Range Types") */
#define E820_RAM 1
#define E820_RESERVED 2
#define LX_E820_MAX 128 /* entries boot_params holds */

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
} __packed;
_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry layout");

/* What the loader decided; lx_boot_state turns it into the vCPU's state. */
struct lx_boot {
	uint16_t version;   /* the kernel's boot protocol */
	uint8_t long_mode;  /* 1: the 64-bit entry point; 0: the 32-bit one */
	uint64_t entry;     /* RIP */
	uint64_t zero_page; /* RSI (ESI) */
	uint64_t kernel, kernel_size; /* the protected-mode kernel as loaded */
	uint64_t init_end;  /* the end of the RAM the kernel needs before it reads its map */
	uint64_t initrd, initrd_size; /* 0, 0 without one */
	unsigned e820_entries;
};

/* Whether the image has a Linux boot protocol header ("HdrS" at 0x202): the image's
 * format, before any check of the rest. */
bool lx_probe(const uint8_t *data, uint64_t size);

/* The e820 map of a VM with ram bytes of RAM from address 0: its RAM less the legacy
 * hole (0xa0000 up to the firmware area) and the platform's reserved ranges
 * (acpi_reserved_ranges()), which are listed as reserved; in address order. Returns the
 * number of entries written (at most max). */
unsigned lx_e820(uint64_t ram, struct e820_entry *out, unsigned max);

/* Loads kernel (a bzImage, kernel->cmdline its command line: NULL for none) and initrd
 * (NULL, or size 0, for none) into mem and fills the zero page; rsdp is the ACPI RSDP's
 * guest-physical address (0: none). Returns 0, or a negative error with a one-line
 * reason in err, mem untouched:
 *   -E_FORMAT  not a bzImage; a truncated or corrupt image (header fields that
 *              contradict each other or the file)
 *   -E_NOSUP   a boot protocol older than LX_MIN_VERSION, a zImage
 *   -E_RANGE   the kernel's init_size at its run address passes the VM's RAM; a command
 *              line longer than the kernel (or the loader) takes
 *   -E_NOMEM   the initrd does not fit in RAM beside the kernel
 *   -E_INVAL   missing arguments */
int lx_load(const struct mb_guest_mem *mem, const struct mb_blob *kernel,
	    const struct mb_blob *initrd, uint64_t rsdp, struct lx_boot *out, char *err,
	    size_t err_size);

/* For listing images: 0 when the header passes every check lx_load makes that does
 * not depend on the VM. */
int lx_check(const uint8_t *data, uint64_t size, char *err, size_t err_size);

/* Whether lx_load would take the image into a VM of ram bytes, with an initrd of
 * initrd_size bytes (0: none) and this command line (NULL: none): every check it makes,
 * nothing written; the same errors. For refusing before the VM's RAM is allocated. */
int lx_check_fit(const uint8_t *data, uint64_t size, uint64_t ram, uint64_t initrd_size,
		 const char *cmdline, char *err, size_t err_size);

/* The vCPU's state at the kernel's entry (boot.rst, "32-bit Boot Protocol" and "64-bit
 * Boot Protocol"): flat __BOOT_CS and __BOOT_DS from the GDT at LX_GDT, interrupts
 * off, RSI the zero page; 64-bit mode with the identity map at LX_PML4, or protected
 * mode with paging off and EBX, EBP, EDI zero. The MTRRs as a BIOS leaves them.
 * Returns 0, or -E_NOSUP (with err) when the model cannot enter that mode (no long
 * mode for a 64-bit entry). */
int lx_boot_state(const struct cpu_model *m, const struct lx_boot *b, struct vcpu_state *s,
		  char *err, size_t err_size);

#endif
