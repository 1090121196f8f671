/* Multiboot2 entry: GRUB jumps here in 32-bit protected mode, paging off, with EBX
 * pointing at the boot information (Multiboot2 spec, 3.3). We identity-map the first
 * 4 GiB with 2 MiB pages, enter long mode and call mb2_main(info). */
#define MB2_MAGIC 0xe85250d6
#define MB2_BOOT_MAGIC 0x36d76289

	.section .multiboot2, "a"
	.align 8
mb2_header:
	.long MB2_MAGIC
	.long 0                                   /* i386 protected mode */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + 0 + (mb2_header_end - mb2_header))
	.short 0, 0                               /* end tag */
	.long 8
mb2_header_end:

	.section .text.boot, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	movl $boot_stack_top, %esp
	cmpl $MB2_BOOT_MAGIC, %eax
	jne halt32
	movl %ebx, mb2_info

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages */
	movl $pdpt, %eax
	orl $0x3, %eax
	movl %eax, pml4
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $pds, %eax
	orl $0x3, %eax
	movl %eax, pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 1b
	xorl %ecx, %ecx                           /* ecx: 2 MiB page number, 0..2047 */
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                           /* present, writable, 2 MiB */
	movl %eax, pds(,%ecx,8)
	movl %ecx, %eax
	shrl $11, %eax                            /* bits 32+ of the address */
	movl %eax, pds+4(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b

	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax                           /* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx                    /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax                     /* PG, PE */
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $0x08, $long_mode

halt32:
	hlt
	jmp halt32

	.code64
long_mode:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl mb2_info, %edi
	movabsq $boot_stack_top, %rsp
	call mb2_main
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.align 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff                  /* 64-bit code */
	.quad 0x00cf92000000ffff                  /* data */
gdt_ptr:
	.short gdt_ptr - gdt - 1
	.long gdt

	.section .data
mb2_info:
	.long 0

	.section .bss
	.align 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pds:	.skip 4 * 4096
	.align 16
	.skip 65536
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
