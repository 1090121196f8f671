/* 32-bit exception entry stubs: each pushes a dummy error code where the CPU pushes
 * none (SDM 3A, 6.13), then its vector, so trap_handler sees one frame layout. */
#include "guests/lib/segments.h"

.macro stub vec
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || \
	    (\vec == 29) || (\vec == 30)
	.else
	push $0
	.endif
	push $\vec
	jmp trap_common
.endm

	.text
	.code32
	.balign 16
	.globl trap_stubs
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	stub \v
	.endr
	.irp v, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

trap_common:
	pusha
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	push %esp /* struct trap_frame * */
	cld
	call trap_handler
	add $4, %esp
	popa
	add $8, %esp /* vector, error code */
	iret

/* int probe_insn(void (*fn)(void *), void *arg): calls fn with a recovery point
 * armed. On an exception trap_handler records the vector and returns to probe_resume
 * with whatever stack the fault left; the saved ESP puts it right. */
	.globl probe_insn
probe_insn:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, probe_esp
	movl $-1, probe_vector
	movl $probe_resume, probe_eip
	pushl 24(%esp) /* arg */
	call *24(%esp) /* fn (the push moved it 4 bytes further) */
	.globl probe_resume
probe_resume:
	mov probe_esp, %esp
	movl $0, probe_eip
	mov probe_vector, %eax
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret
