/* The local APIC of one vCPU (SDM Vol. 3A chapter 11): xAPIC (MMIO) and x2APIC (MSR)
 * modes, priorities, EOI, IPIs, the LINT pins, the timer (one-shot, periodic,
 * TSC-deadline) and the error register.
 *
 * Every architectural register lives in one 4 KiB page in the xAPIC layout (the
 * register at offset o is the u32 at page + o, SDM Table 11-1), which the caller owns.
 * With APIC virtualization that page is the VMCS's virtual-APIC page: the CPU itself
 * sets IRR and ISR bits, writes TPR and PPR and performs EOIs there. So the model keeps
 * no copy of any register; it reads the page each time, and a backend that lets the CPU
 * write the page tells the model afterwards (lapic_write_done, lapic_eoi_done).
 *
 * The version register says 0x14 with max LVT entry 5: timer, thermal, performance,
 * LINT0, LINT1, error. There is no LVT CMCI (offset 0x2F0 is reserved, MSR 0x82F #GPs)
 * and no EOI-broadcast suppression. */
#ifndef TERN_LAPIC_H
#define TERN_LAPIC_H

#include "hv/dev/apic_msg.h"
#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define LAPIC_BASE_DEFAULT 0xfee00000ull
#define LAPIC_PAGE_SIZE 4096u

#define MSR_IA32_APIC_BASE 0x1bu
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_FIRST 0x800u /* x2APIC register at xAPIC offset o: 0x800 + o / 16 */
#define MSR_X2APIC_LAST 0x8ffu

/* IA32_APIC_BASE (SDM 11.4.4, 11.12.1) */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN (1ull << 11)   /* global enable */

/* Register offsets in the page (SDM Table 11-1) */
enum lapic_reg {
	APIC_ID = 0x20,
	APIC_VER = 0x30,
	APIC_TPR = 0x80,
	APIC_APR = 0x90,
	APIC_PPR = 0xa0,
	APIC_EOI = 0xb0,
	APIC_RRD = 0xc0,
	APIC_LDR = 0xd0,
	APIC_DFR = 0xe0,
	APIC_SVR = 0xf0,
	APIC_ISR = 0x100, /* 8 registers, 16 bytes apart: vectors 32*i .. 32*i+31 */
	APIC_TMR = 0x180,
	APIC_IRR = 0x200,
	APIC_ESR = 0x280,
	APIC_ICR_LO = 0x300,
	APIC_ICR_HI = 0x310, /* x2APIC: the 64-bit ICR's upper half */
	APIC_LVT_TIMER = 0x320,
	APIC_LVT_THERMAL = 0x330,
	APIC_LVT_PERF = 0x340,
	APIC_LVT_LINT0 = 0x350,
	APIC_LVT_LINT1 = 0x360,
	APIC_LVT_ERROR = 0x370,
	APIC_TMICT = 0x380, /* timer initial count */
	APIC_TMCCT = 0x390, /* timer current count */
	APIC_TDCR = 0x3e0,  /* timer divide configuration */
	APIC_SELF_IPI = 0x3f0, /* x2APIC only */
};

#define LAPIC_NR_LVT 6 /* timer, thermal, perf, LINT0, LINT1, error: the page's order */

/* ESR bits (SDM 11.5.3, Figure 11-9) */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)
#define ESR_ILLEGAL_REG (1u << 7)

/* The registers a record carries. Only lapic_save() and lapic_restore() use them: the
 * page is the registers' one live home. PPR, the current count and the constant
 * registers are derived again on restore. */
struct lapic_regs {
	uint32_t id, tpr, ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr;
	uint32_t lvt[LAPIC_NR_LVT];
	uint32_t icr_lo, icr_hi;
	uint32_t tmict, tdcr;
};

struct lapic_state {
	uint64_t apic_base;    /* IA32_APIC_BASE */
	uint64_t timer_next;   /* guest ns of the next one-shot/periodic expiry; DEV_NEVER */
	uint64_t tsc_deadline; /* IA32_TSC_DEADLINE, guest TSC units; 0: disarmed */
	uint32_t esr_pending;  /* errors found since the last ESR write (SDM 11.5.3) */
	uint8_t timer_mode;    /* the LVT timer mode timer_next runs in */
	uint8_t timer_shift;   /* log2 of the divider timer_next runs at */
	uint8_t tsc_deadline_offered; /* CPUID.1:ECX.TSC_DEADLINE, fixed for the VM's life */
	uint8_t nmi_pending;   /* an NMI for the vCPU to take */
	uint8_t extint_pending; /* an ExtINT message: the CPU should ask the PIC */
	uint8_t lint_level[2]; /* the LINT pins' input levels */
	/* LVT LINT0/1 remote IRR (bit 14), which the model alone sets and clears: a write
	 * the CPU let through to the page cannot lose it. */
	uint8_t lint_rirr[2];
	struct lapic_regs regs;
};

struct lapic;

struct lapic_ops {
	/* The EOI of a level-triggered vector: every I/O APIC clears the remote IRR of its
	 * entries with that vector (SDM 11.8.5). */
	void (*eoi)(void *ctx, uint8_t vector);
	/* An IPI that may name APICs other than `from`: the platform delivers it to each of
	 * them that it names (lapic_match, or the shorthand), never back to `from`. Returns
	 * false when it reached none. NULL: there are no other APICs. */
	bool (*ipi)(void *ctx, const struct lapic *from, const struct apic_msg *m);
	void *ctx;
	struct dev_log *log;
	/* An INIT (init) or STARTUP IPI with its vector reached this APIC: the platform
	 * starts or stops its vCPU. false, or NULL: not modelled here (logged). */
	bool (*start)(void *ctx, const struct lapic *a, bool init, uint8_t vector);
};

struct lapic {
	struct lapic_state s;
	uint32_t *page;     /* the registers: LAPIC_PAGE_SIZE bytes, 4-byte aligned */
	uint32_t apic_id;   /* the initial (x2)APIC ID */
	uint64_t tsc_hz;    /* the guest TSC rate: TSC = now * tsc_hz / 1e9 */
	unsigned phys_bits; /* MAXPHYADDR, for IA32_APIC_BASE's reserved bits */
	const struct lapic_ops *ops;
};

/* Power-up state (SDM 11.4.7.1): xAPIC mode at LAPIC_BASE_DEFAULT, the bootstrap
 * processor when apic_id is 0; phys_bits 36 until lapic_set_phys_bits(). */
void lapic_init(struct lapic *a, uint32_t *page, uint32_t apic_id, uint64_t tsc_hz,
		bool tsc_deadline_offered, const struct lapic_ops *ops, uint64_t now);
void lapic_set_phys_bits(struct lapic *a, unsigned bits);

/* xAPIC MMIO at offset (0..0xfff) of the APIC page. Registers take aligned 32-bit
 * accesses at the start of their 16 bytes; anything else is logged once and gets what
 * the hardware gives: reads of reserved offsets 0 (and ESR "illegal register address"),
 * writes ignored. Outside xAPIC mode the page is not the APIC's: reads are all ones. */
uint64_t lapic_mmio_read(struct lapic *a, uint32_t offset, unsigned size, uint64_t now);
void lapic_mmio_write(struct lapic *a, uint32_t offset, unsigned size, uint64_t value,
		      uint64_t now);
/* IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs 0x800-0x8ff. false: the
 * guest gets #GP (SDM Table 11-6 access rules, 11.12.1.3 reserved bits, 11.12.5
 * transitions); nothing changed. */
bool lapic_msr_read(struct lapic *a, uint32_t msr, uint64_t *value, uint64_t now);
bool lapic_msr_write(struct lapic *a, uint32_t msr, uint64_t value, uint64_t now);
/* A guest write of a register it may write in the current mode (the trapping path):
 * stores value in the page, then lapic_write_done(). */
void lapic_write(struct lapic *a, uint32_t offset, uint32_t value, uint64_t now);
/* The page's register at offset was just written (by lapic_write, or by the CPU before
 * an APIC-write VM exit): keep its writable bits and act on it. */
void lapic_write_done(struct lapic *a, uint32_t offset, uint64_t now);
/* The CPU performed an EOI itself (virtual-interrupt delivery) and already cleared the
 * vector's ISR bit: broadcast it when level-triggered, clear LINT remote IRRs. */
void lapic_eoi_done(struct lapic *a, uint8_t vector);

/* The TPR as CR8 reads and writes it (SDM 11.8.6: CR8[3:0] is TPR[7:4], and a write
 * clears TPR[3:0]). */
uint8_t lapic_cr8(const struct lapic *a);
void lapic_set_cr8(struct lapic *a, uint8_t cr8, uint64_t now);

/* A message this APIC is a destination of. Fixed and lowest priority go to IRR (TMR
 * set when level-triggered), NMI and ExtINT to their pending flags. */
void lapic_deliver(struct lapic *a, const struct apic_msg *m);
/* The LINT0/LINT1 input pins; lapic_lint_line fits struct irq_line (ctx = the lapic). */
void lapic_set_lint(struct lapic *a, unsigned pin, bool level);
void lapic_lint_line(void *ctx, unsigned pin, bool level);
/* Does a message to dest (8 bits xAPIC, 32 bits x2APIC) in this destination mode name
 * this APIC? Physical, flat and cluster logical, x2APIC logical (SDM 11.6.2, 11.12.10). */
bool lapic_match(const struct lapic *a, uint32_t dest, bool logical);

/* Toward the CPU: the vector to deliver (the highest IRR whose priority class beats
 * PPR, SDM 11.8.3.1), or -1. */
int lapic_pending(const struct lapic *a);
/* The highest vector set in the ISR or IRR (base APIC_ISR, APIC_IRR); -1 for none. */
int lapic_highest(const struct lapic *a, uint32_t base);
/* The CPU took vector: IRR to ISR, PPR raised. */
void lapic_accept(struct lapic *a, uint8_t vector);
/* true once per NMI delivered (NMI message, LINT as NMI). */
bool lapic_take_nmi(struct lapic *a);
/* May the PIC's INTR reach the CPU? Yes when the APIC is globally disabled (the PIC
 * drives INTR directly), LINT0 is an unmasked ExtINT, or an ExtINT message is pending. */
bool lapic_extint(const struct lapic *a);
/* The CPU took a vector from the PIC: a pending ExtINT message is consumed. */
void lapic_extint_taken(struct lapic *a);

/* The timer. Guest ns; DEV_NEVER when nothing is armed. */
uint64_t lapic_next_event(const struct lapic *a);
void lapic_run(struct lapic *a, uint64_t now);

/* Copies the registers from the page into s.regs: call before encoding s. */
void lapic_save(struct lapic *a);
/* s was replaced by a decoded record: the page gets its registers back. */
void lapic_restore(struct lapic *a, uint64_t now);

bool lapic_enabled(const struct lapic *a); /* IA32_APIC_BASE.EN */
bool lapic_x2apic(const struct lapic *a);
uint64_t lapic_mmio_base(const struct lapic *a); /* where the xAPIC page is mapped */

extern const struct vms_desc lapic_vms;

#endif
