/* The architecture's rules, free of any virtualization extension: what a guest may write
 * to a control register, debug register, XCR0 or MSR on a CPU with a given model
 * (hv/cpu_model.h), the effects a write has, and whether a whole vCPU state
 * (hv/vcpu_state.h) is one a CPU could hold. Pure: no hardware access, tested hosted.
 *
 * Every "ok" function returns true when a CPU with that model accepts the value and false
 * when the instruction (MOV to CR, MOV to DR, XSETBV, WRMSR) raises #GP(0). Checks that
 * come before those (CPL, CR4.OSXSAVE for XSETBV, CR4.DE for DR4/DR5) are the caller's. */
#ifndef TERN_X86_RULES_H
#define TERN_X86_RULES_H

#include "hv/cpu_model.h"
#include "hv/types.h"
#include "hv/vcpu_state.h"
#include "hv/x86.h"

/* Architectural bits hv/x86.h does not name (SDM Vol. 3A 2.5, 2.2.1). The EFER ones are
 * spelled as vmx/ spells them, so both may be included. */
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR4_PSE (1ULL << 4)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_LA57 (1ULL << 12)
#define CR4_SMXE (1ULL << 14)
#define CR4_PCIDE (1ULL << 17)
#define CR4_OSXSAVE (1ULL << 18)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR3_NOFLUSH (1ULL << 63) /* with CR4.PCIDE: keep the PCID's translations */
#define EFER_SCE (1ull << 0)
#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_VM (1ULL << 17)
#define RFLAGS_FIXED1 (1ULL << 1)

/* The MSRs struct vcpu_state holds (SDM Vol. 4, Table 2-2); MSR_IA32_EFER is hv/x86.h's. */
#define MSR_IA32_MTRRCAP 0xfe
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MTRR_PHYSBASE0 0x200 /* base n at 0x200 + 2n, mask n at 0x201 + 2n */
#define MSR_IA32_MTRR_FIX64K_00000 0x250
#define MSR_IA32_MTRR_FIX16K_80000 0x258
#define MSR_IA32_MTRR_FIX16K_A0000 0x259
#define MSR_IA32_MTRR_FIX4K_C0000 0x268 /* .. 0x26f: FIX4K_F8000 */
#define MSR_IA32_PAT 0x277
#define MSR_IA32_MTRR_DEF_TYPE 0x2ff
#define MSR_IA32_STAR 0xc0000081
#define MSR_IA32_LSTAR 0xc0000082
#define MSR_IA32_CSTAR 0xc0000083
#define MSR_IA32_FMASK 0xc0000084
#define MSR_IA32_FS_BASE 0xc0000100
#define MSR_IA32_GS_BASE 0xc0000101
#define MSR_IA32_KERNEL_GS_BASE 0xc0000102
#define MSR_IA32_TSC_AUX 0xc0000103

/* What IA32_MTRRCAP reads on every model: 8 variable ranges, fixed ranges, WC, no SMRR. */
#define X86_MTRRCAP 0x508
#define X86_PAT_DEFAULT 0x0007040600070406ull
/* IA32_MISC_ENABLE: the guest may toggle fast strings and the thermal monitor; the other
 * bits are fixed (BTS and PEBS unavailable; MONITOR as the model offers it). */
#define MISC_FAST_STRINGS (1ull << 0)
#define MISC_TCC (1ull << 3)
#define MISC_BTS_UNAVAIL (1ull << 11)
#define MISC_PEBS_UNAVAIL (1ull << 12)
#define MISC_MONITOR (1ull << 18)

/* The control state the rules for CR0, CR3, CR4 and EFER depend on. */
struct x86_ctl {
	uint64_t cr0, cr3, cr4, efer; /* cr0 and cr4 as the guest sees them */
	uint8_t cs_l;                 /* CS.L: with EFER.LMA, 64-bit mode */
};

enum x86_paging { PAGING_OFF, PAGING_32, PAGING_PAE, PAGING_4LEVEL, PAGING_5LEVEL };
enum x86_ctl_reg { CTL_CR0, CTL_CR3, CTL_CR4, CTL_EFER };

/* What an accepted write does. */
struct x86_ctl_effects {
	struct x86_ctl ctl;   /* the state after it: the register as the CPU holds it, LMA */
	uint8_t mode_changed; /* the paging mode changed (and with it IA-32e mode perhaps) */
	uint8_t flush;        /* the guest's cached translations must be invalidated */
	uint8_t load_pdptes;  /* PAE paging: load the 4 PDPTEs at CR3 & ~0x1f now; a
			       * reserved bit in one (x86_pdpte_ok) makes the write #GP */
};

/* The paging mode the control state selects (SDM Vol. 3A 5.1.1). */
enum x86_paging x86_paging_mode(const struct x86_ctl *c);

/* MOV to CR0, CR3, CR4 or WRMSR to EFER by a guest in control state *c. Returns false for
 * #GP (nothing changes); true with *fx filled. Outside 64-bit mode a MOV to CR takes the
 * low 32 bits of the register, and so does this. */
bool x86_ctl_write(const struct cpu_model *m, const struct x86_ctl *c, enum x86_ctl_reg reg,
		   uint64_t val, struct x86_ctl_effects *fx);
/* The CR4 bits a guest of this model may set: a backend intercepts writes of the
 * others, which hardware might accept. */
uint64_t x86_cr4_offered(const struct cpu_model *m);
/* A PAE page-directory-pointer-table entry: false when a reserved bit is set. */
bool x86_pdpte_ok(const struct cpu_model *m, uint64_t pdpte);
/* MOV to CR8 (the TPR): false when a bit above 3 is set. */
bool x86_cr8_ok(uint64_t val);
/* XSETBV of XCR0. */
bool x86_xcr0_ok(const struct cpu_model *m, uint64_t val);
/* MOV to DR0-DR3, DR6 or DR7 (another n: false). On true *held is what the register holds
 * (DR6 and DR7 have bits that read as fixed ones and zeros). */
bool x86_dr_write(const struct cpu_model *m, unsigned n, uint64_t val, uint64_t *held);
/* WRMSR of an MSR struct vcpu_state holds, EFER included (whose rule reads *c; its
 * effects: x86_ctl_write). False also for an MSR the model lacks, for IA32_MTRRCAP
 * (read-only) and for any MSR not held there (the local APIC's are the APIC's). */
bool x86_msr_ok(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr, uint64_t val);
/* Canonical for the model's linear-address width (SDM Vol. 1 3.3.7.1). */
bool x86_canonical(const struct cpu_model *m, uint64_t addr);
/* RFLAGS with its reserved bits as the CPU holds them (bit 1 set; 3, 5, 15, 63:22 clear). */
bool x86_rflags_ok(uint64_t rflags);

/* Checks every field of *s before a backend loads it: 0 when a CPU with model m could
 * hold the state and loading it cannot fault tern, else -E_INVAL with err (cut to
 * err_size) naming the field and the rule ("lstar 0x8000000000000000 is not canonical").
 * The XSAVE area passes when XRSTOR under the state's own XCR0 takes it: standard
 * format, XSTATE_BV within XCR0, MXCSR within MXCSR_MASK 0xffff. */
int x86_state_check(const struct cpu_model *m, const struct vcpu_state *s, char *err,
		    size_t err_size);

/* The state after RESET (SDM Vol. 3A Table 10-1). */
void x86_reset_power_on(const struct cpu_model *m, struct vcpu_state *s);
/* The MTRRs a PC BIOS leaves: write-back, legacy video uncached. */
void x86_firmware_mtrrs(struct vcpu_state *s);
/* The state a Multiboot loader hands its kernel (Multiboot 0.6.96, 3.2), with the
 * MTRRs a BIOS would have set. */
void x86_reset_multiboot(const struct cpu_model *m, struct vcpu_state *s, uint32_t entry,
			 uint32_t mbi);

#endif
