/* A guest's other CPUs, started the way an OS starts them: the CPUs the ACPI MADT
 * lists, each AP woken with INIT, SIPI, SIPI (SDM 3A, 9.4.4.1; MP spec B.4) into a
 * real-mode trampoline at MP_TRAMP_BASE that enters flat 32-bit protected mode, loads
 * the BSP's IDT and calls the guest's entry on a stack of its own. xAPIC mode, paging
 * off. */
#ifndef GUEST_MP_H
#define GUEST_MP_H

#include "hv/types.h"

#define MP_MAX_CPUS 16
/* The APs start in real mode at page MP_TRAMP_BASE >> 12: below 1 MiB, page aligned,
 * RAM that neither the loader (QEMU's Multiboot info is at 0x9000) nor a guest uses.
 * The trampoline's GDT stays in use there, so the page is never reused. */
#define MP_TRAMP_BASE 0x8000

/* ICR fields (SDM 3A, figure 10-12) */
#define ICR_FIXED (0u << 8)
#define ICR_LOWEST (1u << 8)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_LOGICAL (1u << 11)
#define ICR_BUSY (1u << 12) /* delivery status: send pending */
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

/* The CPUs the MADT lists: ids[0] the BSP (bsp_id, the caller's), then the APs by APIC
 * ID. Returns their number; -1 with a message in err when there is no MADT, more CPUs
 * than max, an ID listed twice or the BSP not listed. */
int mp_find_cpus(uint32_t bsp_id, uint8_t *ids, int max, char *err, size_t err_size);

/* The CPUs a guest that runs on all of them uses: 1 (ids[0] unset, the local APIC
 * untouched) when the MADT lists at most one or there is none; else it enables this
 * CPU's local APIC in xAPIC mode (irq_init() and lapic_init() first) and returns
 * mp_find_cpus()'s answer, or -1 with a message in err. */
int mp_discover(uint8_t *ids, int max, char *err, size_t err_size);

/* mp_discover(), for a guest that cannot go on without its CPUs: a failure ends it with
 * a FAIL line that starts with who. */
uint32_t mp_discover_or_fail(const char *who, uint8_t *ids);

/* Sets what every AP started from now on runs (it must not return), and the TSC
 * cycles of a second, the patience of every wait below. Copies the trampoline and
 * takes the IDT now in use: every gate the APs need must be in place. */
void mp_init(void (*entry)(void), uint64_t second);

/* Sends an IPI: dest is the ICR's destination byte (SDM 3A, 10.6.1). Writing the low
 * half sends, so no other send on this CPU may come between (an interrupt handler
 * that sends must be the only sender while it runs). An ICR busy for a second ends
 * the guest with a FAIL line. */
void mp_send_ipi(uint32_t dest, uint32_t icr);

/* Starts the AP with that APIC ID, then waits up to a second for *up to become
 * nonzero (the AP's entry sets it); returns whether it did. While waiting it bumps
 * *progress, when given (the BSP's own counter). */
bool mp_start_ap(uint32_t apic_id, volatile uint32_t *up, volatile uint32_t *progress);

/* Starts the APs ids[1..n-1] one after another, each running entry(i), i its index in
 * ids (entry must not return). Ends the guest with a FAIL line that starts with who
 * when there is no TSC rate to time the start by, or an AP is not up within a second.
 * Sets up the trampoline itself (see mp_init). */
void mp_start_all(const char *who, const uint8_t *ids, uint32_t n,
		  void (*entry)(uint32_t index));

/* Spins until *p reaches want or a second passes, bumping *progress when given. */
bool mp_wait_for(volatile uint32_t *p, uint32_t want, volatile uint32_t *progress);

#endif
