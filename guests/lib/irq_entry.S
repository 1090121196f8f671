/* 32-bit entry stubs for the interrupt vectors 32-255, 16 bytes apart: each pushes its
 * vector; irq_common saves every register, calls irq_dispatch(vector) and returns with
 * IRET, so the interrupted code sees no register change. */
#define IRQ_STUB_SIZE 16

	.text
	.code32
	.balign IRQ_STUB_SIZE
	.globl irq_stubs
irq_stubs:
	.set vec, 32
	.rept 256 - 32
	.balign IRQ_STUB_SIZE
	push $vec
	jmp irq_common
	.set vec, vec + 1
	.endr

irq_common:
	pusha
	cld /* the C code may rely on DF = 0 (SysV ABI) whatever the interrupted code set */
	pushl 32(%esp) /* the vector, above pusha's eight registers */
	call irq_dispatch
	add $4, %esp
	popa
	add $4, %esp
	iret
