/* The architectural state of one vCPU, independent of any virtualization extension:
 * what migration sends and a checkpoint would store. A backend fills it from its own
 * structures (VMCS, VMCB) and loads it back after the core has checked it
 * (hv/x86_rules.h): nothing in here reaches the CPU unchecked. */
#ifndef TERN_VCPU_STATE_H
#define TERN_VCPU_STATE_H

#include "hv/types.h"

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };

/* Segment attributes as the descriptor holds them (bytes 5 and 6), packed in 12 bits
 * the way AMD's VMCB keeps them, plus a flag for a segment register holding a null
 * selector ("unusable" in VMX terms):
 *   11 10  9   8  7  6-5  4  3-0
 *    G D/B L AVL  P  DPL  S  type        bit 12: unusable */
#define SEG_TYPE 0xfu
#define SEG_S (1u << 4)
#define SEG_DPL_SHIFT 5
#define SEG_P (1u << 7)
#define SEG_AVL (1u << 8)
#define SEG_L (1u << 9)
#define SEG_DB (1u << 10)
#define SEG_G (1u << 11)
#define SEG_UNUSABLE (1u << 12)
#define SEG_ATTR_MASK 0x1fffu

struct seg_state {
	uint64_t base;
	uint32_t limit; /* in bytes - 1, G already applied */
	uint16_t sel;
	uint16_t attr;
};

struct dt_state {
	uint64_t base;
	uint16_t limit;
};

/* interruptibility: what blocks events right now (SDM 25.4.2, AMD's interrupt shadow) */
#define INTR_STI (1u << 0)
#define INTR_MOVSS (1u << 1)
#define INTR_NMI (1u << 3)

enum vcpu_activity { ACT_ACTIVE = 0, ACT_HLT = 1 };

/* An event being delivered when the state was taken; it is delivered again on the
 * next entry. type as in the SDM's interruption-information field (Table 25-17). */
enum event_type {
	EV_EXTINT = 0, EV_NMI = 2, EV_HW_EXC = 3, EV_SW_INT = 4, EV_PRIV_SW_EXC = 5,
	EV_SW_EXC = 6,
};

struct vcpu_event {
	uint8_t valid;
	uint8_t type;
	uint8_t vector;
	uint8_t has_error;
	uint32_t error;
	uint32_t insn_len; /* software interrupts and exceptions: the length to skip */
};

/* The XSAVE area in the standard (non-compacted) format, for the components a model
 * may offer: x87 and SSE (the legacy 512 bytes), the header (64), AVX (256 at 576). */
#define XSAVE_BYTES 832
#define XSAVE_HDR 512
#define XSAVE_AVX 576
#define XCR0_X87 (1ull << 0)
#define XCR0_SSE (1ull << 1)
#define XCR0_AVX (1ull << 2)

#define MTRR_FIXED 11 /* 64K_00000, 16K_80000, 16K_A0000, 4K_C0000 .. 4K_F8000 */
#define MTRR_VAR 8    /* variable ranges: base and mask each */

struct vcpu_state {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, xcr0; /* cr0 and cr4 as the guest sees them */
	uint64_t dr0, dr1, dr2, dr3, dr6, dr7;
	uint64_t efer;
	struct seg_state seg[SEG_COUNT];
	struct dt_state gdtr, idtr;
	/* MSRs the guest can write (the APIC's and TSC_DEADLINE are the local APIC's) */
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
	uint64_t pat, misc_enable, mtrr_def_type;
	uint64_t mtrr_fixed[MTRR_FIXED];
	uint64_t mtrr_var[2 * MTRR_VAR]; /* base0, mask0, base1, ... */
	uint64_t tsc;                     /* the guest's TSC when the state was taken */
	uint64_t tsc_adjust;              /* IA32_TSC_ADJUST: what the guest's writes moved it by */
	uint32_t interruptibility;
	uint32_t activity;
	uint8_t nmi_pending;              /* an NMI latched and not yet delivered */
	struct vcpu_event event;
	uint8_t xsave[XSAVE_BYTES] __attribute__((aligned(64)));
};

#endif
