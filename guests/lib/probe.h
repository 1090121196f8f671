/* Running an instruction that is expected to fault. The exception handler resumes
 * after the probe instead of treating the exception as a guest bug. 32-bit only. */
#ifndef GUEST_PROBE_H
#define GUEST_PROBE_H

#include "hv/types.h"

#define PROBE_NONE (-1)

/* Calls fn(arg); returns the exception vector it raised, or PROBE_NONE. */
int probe_insn(void (*fn)(void *), void *arg);
int probe_rdmsr(uint32_t msr, uint64_t *val);
int probe_wrmsr(uint32_t msr, uint64_t val);

/* "#UD", "#GP", ... for printing a vector */
const char *vector_name(int vector);

#endif
