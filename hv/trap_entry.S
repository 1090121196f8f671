/* Exception entry stubs: one 16-byte stub per vector 0..31, so hv/trap.c can find stub
 * N at trap_stubs + 16*N without a table of absolute addresses (tern is position
 * independent under UEFI). Vectors with a CPU-pushed error code skip the dummy push. */
	.text
	.code64

#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.globl trap_stubs
	.align 16
trap_stubs:
	.set vec, 0
	.rept 32
	.align 16
	.if !HAS_ERR(vec)
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	cld
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	andq $-16, %rsp
	call trap_fatal
1:	cli
	hlt
	jmp 1b

/* Host interrupts (vectors 32-255): the caller-saved registers around a C call that
 * acknowledges the interrupt. The CPU aligned RSP to 16 before pushing its 5 words;
 * 9 more make it aligned again for the call. */
	.globl irq_stub
	.align 16
irq_stub:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	cld
	call apic_host_irq
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	iretq

	.section .note.GNU-stack, "", @progbits
