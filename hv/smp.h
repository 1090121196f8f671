/* The host's other CPUs (application processors): found in the ACPI MADT (or the
 * firmware's own list), started with INIT-SIPI-SIPI, each entering VMX operation and
 * then running the VMs placed on it (hv/sched.h), or parked in HLT, woken by IPIs. */
#ifndef TERN_SMP_H
#define TERN_SMP_H

#include "hv/boot.h"

/* Starts the CPUs the firmware lists, at most `cpus=` of them counting the boot CPU,
 * one at a time; prints what came up. After the local APIC, ACPI and the backend. */
void smp_init(const struct boot_info *bi);
/* Sends every other CPU that is up an IPI and waits up to timeout_us for each to answer
 * (its wake-up or IPI count moves); answered[i] says whether CPU i did (PCPU_MAX
 * entries). Returns how many did not. */
uint32_t smp_ping(uint64_t timeout_us, bool *answered);
/* Where the CPU list came from ("acpi", "firmware", "none"), and the cpus= limit
 * (0: none). */
const char *smp_source(void);
uint32_t smp_limit(void);

#endif
