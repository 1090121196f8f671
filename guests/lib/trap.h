/* Exception handling shared by the 32-bit and the 64-bit runtime. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include "hv/types.h"

#define NR_EXCEPTIONS 32
#define NR_VECTORS 256

/* 32-bit runtime: points vector at handler through a DPL 0 interrupt gate (IF cleared
 * on entry, so handlers never nest). */
void idt_set_gate(int vector, uintptr_t handler);

/* Prints the exception as a FAIL line and exits with EXIT_EXCEPTION. */
__noreturn void unexpected_exception(int vector, uint64_t ip, uint64_t error, uint64_t cr2);

#endif
