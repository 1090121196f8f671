/* The local APIC in xAPIC mode (MMIO at the IA32_APIC_BASE address; paging is off, so
 * physical) or x2APIC mode (MSRs 0x800 + offset / 16), SDM 3A, chapter 10. Registers
 * are named by their xAPIC offset in both modes. */
#ifndef GUEST_LAPIC_H
#define GUEST_LAPIC_H

#include "hv/types.h"

enum lapic_mode { LAPIC_OFF, LAPIC_XAPIC, LAPIC_X2APIC };

/* Register offsets (SDM 3A, table 10-1) */
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_PPR 0xA0
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_ISR 0x100 /* 8 registers, 16 bytes apart */
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3E0

/* LVT fields (SDM 3A, figure 10-8) */
#define LVT_MASKED (1u << 16)
#define LVT_DM_NMI (4u << 8)
#define LVT_DM_EXTINT (7u << 8)
#define LVT_TIMER_ONESHOT (0u << 17)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_TIMER_DEADLINE (2u << 17)

#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define LAPIC_SPURIOUS_VECTOR 0xFF
#define MSR_TSC_DEADLINE 0x6E0

extern enum lapic_mode lapic_mode;
extern uintptr_t lapic_mmio; /* xAPIC: the register page */
extern volatile uint32_t lapic_spurious;

/* Switches the LAPIC to mode (through disabled when leaving x2APIC, the only legal
 * way: SDM 3A, 10.12.5), software-enables it with the spurious vector 0xFF and every
 * LVT masked. LAPIC_OFF disables it globally: the PIC's INTR then reaches the CPU
 * directly. Returns false when CPUID does not offer the mode. Needs irq_init(). */
bool lapic_init(enum lapic_mode mode);
const char *lapic_mode_name(enum lapic_mode mode);
/* "xapic" ... -> mode; false if the name is none of them */
bool lapic_mode_parse(const char *name, enum lapic_mode *mode);

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t val);
void lapic_eoi(void);
uint32_t lapic_id(void);
/* The ESR after the write that latches it (SDM 3A, 10.5.3) */
uint32_t lapic_esr(void);

/* Virtual wire (MP spec 3.6.2.2): the 8259's INTR through LINT0 as ExtINT, NMI on
 * LINT1; the PIC then supplies the vector and takes the EOI. */
void lapic_virtual_wire(void);

/* Starts the timer: divider (1, 2, 4 ... 128), LVT (mode | vector), initial count. */
void lapic_timer_start(uint32_t div, uint32_t lvt, uint32_t count);
/* The timer's input clock in kHz, before the divider: CPUID 0x40000010 EBX, else the
 * CPUID 0x15 crystal (ECX), else measured against the TSC; *source says which. */
uint32_t lapic_timer_khz(uint32_t tsc_khz, const char **source);

#endif
