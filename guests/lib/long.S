/* long_mode_jump(pml4, entry, arg): the switch itself, in the order SDM 3A, 10.8.5
 * gives: CR4.PAE, CR3, EFER.LME, then CR0.PG, then a far jump into a 64-bit segment. */
#include "guests/lib/segments.h"

#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define CR0_PG (1 << 31)

	.text
	.code32
	.globl long_mode_jump
long_mode_jump:
	mov 8(%esp), %esi  /* entry */
	mov 12(%esp), %edi /* arg: RDI, the first argument in the SysV ABI */
	mov 4(%esp), %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $SEL_CODE64, $1f

	.code64
1:	and $-16, %rsp
	call *%rsi
2:	cli
	hlt
	jmp 2b
