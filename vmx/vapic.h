/* The virtual-APIC page as VT-x reads it (SDM 29.1.1): the xAPIC register layout the
 * local APIC model keeps its registers in (hv/dev/lapic.h), so the model's page is the
 * VMCS's virtual-APIC page. What the VMCS must hold before an entry is computed here
 * from the page, and the MSR bitmap for x2APIC virtualization. Pure: tested hosted. */
#ifndef TERN_VMX_VAPIC_H
#define TERN_VMX_VAPIC_H

#include "hv/types.h"

#define VAPIC_TPR 0x080
#define VAPIC_ISR 0x100 /* 8 registers 16 bytes apart, as TMR and IRR */
#define VAPIC_TMR 0x180
#define VAPIC_IRR 0x200

/* The highest vector set in the 256-bit register at base (ISR, TMR, IRR), or -1. */
int vapic_highest(const uint32_t *page, unsigned base);
/* The guest interrupt status (SDM 25.4.2): RVI, the highest requested vector, in bits
 * 7:0; SVI, the highest in service, in 15:8; 0 for none. */
uint16_t vapic_intr_status(const uint32_t *page);
/* The EOI-exit bitmap (SDM 25.6.8): the TMR, so the EOI of a level-triggered vector
 * exits and the I/O APIC hears of it. */
void vapic_eoi_exit(const uint32_t *page, uint64_t out[4]);
/* The TPR threshold when the CPU does not deliver interrupts itself (SDM 29.1.2): the
 * priority class of the highest requested vector while the TPR alone holds it back,
 * so that the guest lowering its TPR below it (MOV to CR8) exits and tern can deliver
 * it; else 0. Never above VTPR[7:4], as VM entry requires (SDM 26.3.1.1). */
uint32_t vapic_tpr_threshold(const uint32_t *page);

/* The MSR bitmap (SDM 25.6.9): one page, read bits for MSRs 0-0x1fff from byte 0, for
 * 0xc0000000-0xc0001fff from byte 1024, write bits 2048 bytes further. */
void msr_bitmap_set(uint8_t *bitmap, uint32_t msr, bool read_exits, bool write_exits);
bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write);

/* The x2APIC MSRs 0x800-0x8ff: all exit (off: the guest is not in x2APIC mode, or
 * there is no x2APIC virtualization), or, with "virtualize x2APIC mode" on, the reads
 * the CPU satisfies from the page (with APIC-register virtualization) and the writes
 * it virtualizes (TPR; EOI and self-IPI with virtual-interrupt delivery) pass (SDM
 * 29.5). Reads the page cannot answer keep exiting: the current count (the model
 * computes it), the 64-bit ICR (its high half is at 0x310, not 0x304), PPR without
 * virtual-interrupt delivery (the CPU does not keep it then), and every register the
 * model lacks, which must #GP. */
void vapic_x2apic_msrs(uint8_t *bitmap, bool on, bool reg_virt, bool intr_delivery);

#endif
