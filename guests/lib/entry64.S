/* Entry of a guest's 64-bit part, reached from long_mode_jump() with RDI = its
 * argument: installs the 64-bit IDT, then guest_main64(arg). The stack is crt0's. */
#include "guests/lib/segments.h"

.macro stub vec
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || \
	    (\vec == 29) || (\vec == 30)
	.else
	push $0
	.endif
	push $\vec
	jmp trap64_common
.endm

	.section .text.entry64, "ax"
	.code64
	.globl entry64
entry64:
	push %rdi
	call trap64_init
	pop %rdi
	call guest_main64
1:	cli
	hlt
	jmp 1b

	.text
	.balign 16
	.globl trap64_stubs
trap64_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	stub \v
	.endr
	.irp v, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

/* Nothing is recovered in 64-bit mode: report and exit, so no registers are saved. */
trap64_common:
	mov %rsp, %rdi /* vector, error, rip, ... */
	and $-16, %rsp
	cld
	call trap64_handler
	ud2
