/* Guest entry: the Multiboot v1 header, then our own stack, GDT and IDT, then
 * guest_main(magic, mbi). The loader leaves us in 32-bit protected mode with paging
 * and interrupts off, EAX = magic, EBX = mb_info, and no stack (Multiboot 0.6.96, 3.2). */
#include "guests/lib/segments.h"

#define MB_FLAGS 0x3 /* page-aligned modules, memory info; no a.out kludge: use ELF */
#define STACK_SIZE (64 * 1024)

	.section .multiboot, "a"
	.balign 4
	.long 0x1BADB002
	.long MB_FLAGS
	.long -(0x1BADB002 + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	mov $stack_top, %esp
	/* .bss is zero in the ELF image, but the loader need not clear it; keep the
	 * boot registers in callee-saved registers across the clear. */
	mov %eax, %esi
	mov %ebx, %ebp
	cld
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb

	/* The loader's GDT is not ours to rely on (its location is unspecified). */
	lgdt gdt_desc
	ljmp $SEL_CODE32, $1f
1:	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss

	call trap_init
	push %ebp
	push %esi
	call guest_main
	push $0
	call exit

	.section .rodata
	.balign 8
	/* The accessed bits are preset: loading a selector would otherwise make the CPU
	 * write them into this page of .rodata (SDM 3A, 3.4.5.1), a write that dirty
	 * tracking would see outside the guest's writable sections. */
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff /* SEL_CODE32: base 0, limit 4 GiB, 32-bit, execute/read */
	.quad 0x00cf93000000ffff /* SEL_DATA: base 0, limit 4 GiB, read/write */
	.quad 0x00209b0000000000 /* SEL_CODE64: L=1 (SDM 3A, 3.4.5) */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	.bss
	.balign 16
stack:
	.skip STACK_SIZE
	.globl stack_top
stack_top:
