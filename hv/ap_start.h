/* The start code of the application processors (hv/ap_start.S), copied into two pages
 * below 1 MiB that the loader reserved (boot_info.ap_start). A started AP begins there
 * in real mode at CS = page >> 4, IP = 0 (SDM 8.4.4.1, 10.6.1: the SIPI vector is the
 * page number), and goes 16 -> 32 -> 64 bit onto tern's page tables:
 *
 *   page +0x000  code (16-, 32- and 64-bit parts), position independent in the page
 *   page +0x800  data the boot CPU fills before each start (offsets below)
 *   page +0x1000 a copy of tern's PML4: CR3 must be below 4 GiB while still in 32-bit
 *                mode, and tern's own PML4 may not be; the copy's entries point to
 *                tern's own lower-level tables.
 *
 * One AP starts at a time: the boot CPU waits for it to leave the page before it
 * rewrites the data for the next one. Shared by C and assembly. */
#ifndef TERN_AP_START_H
#define TERN_AP_START_H

#define AP_START_PAGES 2
#define AP_DATA 0x800
#define AP_PML4 0x1000

/* The data block, from AP_DATA */
#define AP_GDTR 0x00    /* limit (2), base (4): the GDT below */
#define AP_JMP32 0x08   /* far pointer to the 32-bit part: offset (4), selector (2) */
#define AP_JMP64 0x10   /* far pointer to the 64-bit part: offset (4), selector (2) */
#define AP_CR3_LOW 0x18 /* the PML4 copy (4) */
#define AP_CR3 0x20     /* tern's own CR3 (8) */
#define AP_EFER 0x28    /* EFER (4): LME and what else the boot CPU has */
#define AP_STACK 0x30   /* top of the AP's stack (8) */
#define AP_ENTRY 0x38   /* the C function it calls (8) */
#define AP_ARG 0x40     /* its argument, the AP's struct pcpu (8) */
#define AP_STAGE 0x48   /* (4) the AP writes how far it got: 1 real, 2 protected, 3 long */
#define AP_GDT 0x50     /* null, 32-bit code, data, 64-bit code (4 x 8) */
#define AP_DATA_SIZE 0x70

#define AP_SEL_CODE32 0x08
#define AP_SEL_DATA 0x10
#define AP_SEL_CODE64 0x18

#ifndef __ASSEMBLER__
extern char ap_start_code[], ap_start_end[];
#endif

#endif
