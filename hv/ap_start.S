/* The application processors' start code (layout in hv/ap_start.h). It runs from a copy
 * at a page below 1 MiB, so it refers to itself only relative to that page: in real mode
 * through CS (= page >> 4), after that through EBX (= the page's linear address), and
 * fills in its own far pointers and GDT base from it. The boot CPU has filled the rest
 * of the data block (CR3s, EFER, stack, entry). Steps as SDM 9.9.1 (protected mode)
 * and 9.8.5 (IA-32e mode): PE, then PAE, CR3, EFER.LME, PG, then a far jump into a
 * 64-bit code segment. */
#include "hv/ap_start.h"

	.section .text.ap_start, "ax"
	.globl ap_start_code, ap_start_end

	.code16
	.balign 16
ap_start_code:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	movzwl %ax, %ebx
	shll $4, %ebx
	movl $1, AP_DATA + AP_STAGE
	leal AP_DATA + AP_GDT(%ebx), %eax
	movl %eax, AP_DATA + AP_GDTR + 2
	leal (ap_start_32 - ap_start_code)(%ebx), %eax
	movl %eax, AP_DATA + AP_JMP32
	leal (ap_start_64 - ap_start_code)(%ebx), %eax
	movl %eax, AP_DATA + AP_JMP64
	lgdtl AP_DATA + AP_GDTR
	/* After INIT, CR0 has CD and NW set (SDM 9.1.1, Table 9-1): caches on as well. */
	movl %cr0, %eax
	andl $0x9fffffff, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl *AP_DATA + AP_JMP32

	.code32
ap_start_32:
	movw $AP_SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $2, AP_DATA + AP_STAGE(%ebx)
	movl %cr4, %eax
	orl $(1 << 5), %eax             /* PAE */
	movl %eax, %cr4
	movl AP_DATA + AP_CR3_LOW(%ebx), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* IA32_EFER */
	movl AP_DATA + AP_EFER(%ebx), %eax
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax           /* PG: IA-32e mode becomes active */
	movl %eax, %cr0
	ljmpl *AP_DATA + AP_JMP64(%ebx)

	.code64
ap_start_64:
	movl %ebx, %ebx                 /* the upper half is undefined after the switch */
	movl $3, AP_DATA + AP_STAGE(%rbx)
	movq AP_DATA + AP_CR3(%rbx), %rax
	movq %rax, %cr3
	movq AP_DATA + AP_STACK(%rbx), %rsp
	movq AP_DATA + AP_ARG(%rbx), %rdi
	movq AP_DATA + AP_ENTRY(%rbx), %rax
	xorl %ebp, %ebp
	call *%rax
1:	cli
	hlt
	jmp 1b

	.skip AP_DATA - (. - ap_start_code)
ap_data:
	.word 4 * 8 - 1                 /* AP_GDTR: limit, base (set above) */
	.long 0
	.skip AP_JMP32 - (. - ap_data)
	.long 0                         /* offset (set above) */
	.word AP_SEL_CODE32
	.skip AP_JMP64 - (. - ap_data)
	.long 0
	.word AP_SEL_CODE64
	.skip AP_GDT - (. - ap_data)
	.quad 0
	.quad 0x00cf9a000000ffff        /* 32-bit code, flat */
	.quad 0x00cf92000000ffff        /* data, flat */
	.quad 0x00af9a000000ffff        /* 64-bit code */
	.if . - ap_data - AP_DATA_SIZE
	.error "the data block does not match AP_DATA_SIZE"
	.endif
ap_start_end:

	.section .note.GNU-stack, "", @progbits
