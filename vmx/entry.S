/* Entering a guest and coming back (SDM 27, 28). The host's callee-saved registers and
 * the register array's address sit on the stack whose top is HOST_RSP; vmx_exit_entry
 * (HOST_RIP) finds them there. The array is struct vcpu's gpr[], in ModR/M order; its
 * RSP slot is the core's copy of the VMCS's guest RSP, not touched here. */
#define HOST_RSP 0x6c14
#define R_RAX 0
#define R_RCX 8
#define R_RDX 16
#define R_RBX 24
#define R_RBP 40
#define R_RSI 48
#define R_RDI 56
#define R_R8 64
#define R_R9 72
#define R_R10 80
#define R_R11 88
#define R_R12 96
#define R_R13 104
#define R_R14 112
#define R_R15 120

	.text
	.code64
	.globl vmx_enter
vmx_enter:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rdi
	movl $HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe fail_before_entry

	movl %esi, %eax
	testl %eax, %eax
	movq R_RAX(%rdi), %rax
	movq R_RBX(%rdi), %rbx
	movq R_RCX(%rdi), %rcx
	movq R_RDX(%rdi), %rdx
	movq R_RSI(%rdi), %rsi
	movq R_RBP(%rdi), %rbp
	movq R_R8(%rdi), %r8
	movq R_R9(%rdi), %r9
	movq R_R10(%rdi), %r10
	movq R_R11(%rdi), %r11
	movq R_R12(%rdi), %r12
	movq R_R13(%rdi), %r13
	movq R_R14(%rdi), %r14
	movq R_R15(%rdi), %r15
	movq R_RDI(%rdi), %rdi		/* moves keep the flags of the test above */
	jz 1f
	vmresume
	jmp entry_failed
1:	vmlaunch
entry_failed:
	/* CF set: VMfailInvalid; ZF set: VMfailValid */
	movl $1, %eax
	jc 2f
	movl $2, %eax
2:	popq %rdi
	jmp out

fail_before_entry:
	movl $1, %eax
	jc 3f
	movl $2, %eax
3:	popq %rdi
	jmp out

	.globl vmx_exit_entry
vmx_exit_entry:
	pushq %rdi			/* guest rdi; the array's address is above it */
	movq 8(%rsp), %rdi
	movq %rax, R_RAX(%rdi)
	movq %rbx, R_RBX(%rdi)
	movq %rcx, R_RCX(%rdi)
	movq %rdx, R_RDX(%rdi)
	movq %rsi, R_RSI(%rdi)
	movq %rbp, R_RBP(%rdi)
	movq %r8, R_R8(%rdi)
	movq %r9, R_R9(%rdi)
	movq %r10, R_R10(%rdi)
	movq %r11, R_R11(%rdi)
	movq %r12, R_R12(%rdi)
	movq %r13, R_R13(%rdi)
	movq %r14, R_R14(%rdi)
	movq %r15, R_R15(%rdi)
	popq %rax
	movq %rax, R_RDI(%rdi)
	popq %rdi
	xorl %eax, %eax
out:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.section .note.GNU-stack, "", @progbits
