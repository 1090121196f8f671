/* Exception handling shared by the 32-bit and the 64-bit runtime. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include "hv/types.h"

#define NR_EXCEPTIONS 32

/* Prints the exception as a FAIL line and exits with EXIT_EXCEPTION. */
__noreturn void unexpected_exception(int vector, uint64_t ip, uint64_t error, uint64_t cr2);

#endif
