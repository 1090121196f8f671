/* A vCPU as the core sees it, and the handlers a backend calls for the exits whose
 * meaning is architectural (port I/O, MSRs, CPUID, HLT, control registers, XSETBV,
 * device memory). The backend decodes its exit, calls the handler, and acts on the
 * returned action; the handler knows nothing of VMCS or VMCB. */
#ifndef TERN_VCPU_H
#define TERN_VCPU_H

#include "hv/types.h"
#include "hv/vcpu_state.h"
#include "hv/x86_rules.h"

struct vm;

/* Where an application processor is in its start (SDM Vol. 3A 9.4): after INIT it waits
 * for a STARTUP IPI and runs nothing; the SIPI's vector gives the real-mode page it
 * starts at, which the vCPU takes as it next runs (its home CPU, between slices). */
enum vcpu_mp { VCPU_MP_RUN, VCPU_MP_WAIT_SIPI, VCPU_MP_SIPI };

struct vcpu {
	/* Kept current by the backend around every exit: it loads them before entry and
	 * saves them after, so handlers read and write them directly. */
	uint64_t gpr[GPR_COUNT];
	uint64_t rip, rflags;
	struct vm *vm;
	unsigned index;         /* in vm->vcpus, and its local APIC ID */
	void *priv;             /* the backend's own state */
	bool halted;            /* in HLT: runs again when an event is due */
	enum vcpu_mp mp;
	uint8_t sipi_vector;    /* the SIPI's page, with mp = VCPU_MP_SIPI */
	bool yield;             /* it sent another vCPU of its VM an IPI: end its slice so
				 * the target, at home on the same CPU, runs now */
	int64_t tsc_offset;     /* guest TSC = host TSC + tsc_offset */
	int64_t tsc_adjust;     /* IA32_TSC_ADJUST: what the guest's writes moved its TSC by */
	bool nmi_pending;
	/* MSRs the core emulates (hv/msr.c), as the guest wrote them */
	uint64_t misc_enable, mtrr_def_type;
	uint64_t mtrr_fixed[MTRR_FIXED];
	uint64_t mtrr_var[2 * MTRR_VAR];
};

/* What a handler asks of the backend (bits). */
#define VA_SKIP (1u << 0) /* the instruction is done: advance RIP past it */
#define VA_STOP (1u << 1) /* end the slice (the VM halted, ended or must wait) */
#define VA_RESUME 0u      /* re-enter as is (an exception was injected, or the handler
			   * moved RIP itself) */

#define VEC_DE 0
#define VEC_UD 6
#define VEC_GP 13
#define VEC_PF 14

unsigned vcpu_io(struct vcpu *v, uint16_t port, unsigned size, bool in);
unsigned vcpu_rdmsr(struct vcpu *v);
unsigned vcpu_wrmsr(struct vcpu *v);
unsigned vcpu_cpuid(struct vcpu *v);
unsigned vcpu_hlt(struct vcpu *v);
/* MOV to CR0/CR3/CR4/CR8 and LMSW: checked by the architecture's rules, applied by the
 * backend's set_sreg, #GP otherwise. */
unsigned vcpu_write_cr(struct vcpu *v, unsigned cr, uint64_t val);
uint64_t vcpu_read_cr(struct vcpu *v, unsigned cr);
unsigned vcpu_xsetbv(struct vcpu *v);
/* The control registers as the rules see them, and a write they checked and applied. */
struct x86_ctl vcpu_ctl(struct vcpu *v);
bool vcpu_write_ctl(struct vcpu *v, enum x86_ctl_reg reg, uint64_t val);
/* An access to guest-physical g outside RAM (device memory, or nothing): the
 * instruction is read from the guest and carried out (hv/vcpu_emul.c). */
unsigned vcpu_mmio(struct vcpu *v, uint64_t g, bool write, bool fetch);
/* INS/OUTS, REP or not; adsize 2, 4 or 8; seg the segment OUTS reads. */
unsigned vcpu_string_io(struct vcpu *v, uint16_t port, unsigned size, bool in, bool rep,
			unsigned adsize, unsigned seg);
/* Ends the VM with "killed: <what> at rip 0x..."; returns VA_STOP. */
unsigned vcpu_kill(struct vcpu *v, const char *what);

/* Events, for the backend before each entry: the device timers due now run; then an
 * NMI or an external interrupt may be waiting. vcpu_intr_ack() is the interrupt
 * acknowledge cycle: it returns the vector and marks it in service. */
void vcpu_tick(struct vcpu *v);
uint64_t vcpu_deadline_tsc(struct vcpu *v); /* host TSC of the next device event */
bool vcpu_nmi_ready(struct vcpu *v);
void vcpu_nmi_taken(struct vcpu *v);
bool vcpu_intr_ready(struct vcpu *v);
uint8_t vcpu_intr_ack(struct vcpu *v);
/* With virtual-interrupt delivery only the PIC's vector (ExtINT) is left to inject:
 * the CPU delivers the local APIC's from the virtual-APIC page. */
bool vcpu_extint_ready(struct vcpu *v);

/* The local APIC, for a backend that virtualizes it (hv/apicv.h says how far). */
enum vcpu_apic_mode { VCPU_APIC_OFF, VCPU_APIC_XAPIC, VCPU_APIC_X2APIC };
struct vcpu_apic {
	uint32_t *page;            /* its registers in the xAPIC layout: the virtual-APIC
				    * page (4 KiB, host memory tern maps one to one) */
	uint64_t base;             /* guest-physical address of the xAPIC registers */
	enum vcpu_apic_mode mode;
};
void vcpu_apic(struct vcpu *v, struct vcpu_apic *out);
/* Exits of APIC virtualization. The instruction is done (these exits are trap-like):
 * the handlers return VA_RESUME, or VA_STOP when the VM must stop. */
unsigned vcpu_apic_write(struct vcpu *v, uint32_t offset); /* the CPU wrote the page */
unsigned vcpu_apic_eoi(struct vcpu *v, uint8_t vector);    /* the CPU performed an EOI */
/* After any access to the local APIC: adds VA_STOP to act when it sent another vCPU an
 * IPI (v->yield). */
unsigned vcpu_after_apic(struct vcpu *v, unsigned act);

/* For the scheduler: runs a halted vCPU's due timers; true when it has an event to take
 * now (it is no longer halted). */
bool vcpu_wake(struct vcpu *v);
/* Whether the vCPU has guest code to run: not halted, not waiting for a SIPI. */
bool vcpu_runnable(const struct vcpu *v);
/* Before its slice, on its home CPU: a SIPI it took starts it at the vector's page. */
void vcpu_mp_enter(struct vcpu *v);
/* An INIT or STARTUP IPI reached application processor v (hv/pc.c). */
void vcpu_mp_signal(struct vcpu *v, bool init, uint8_t vector);

/* For the core: create and destroy through the backend. */
int vcpu_create(struct vm *vm, unsigned index, struct vcpu **out);
void vcpu_destroy(struct vcpu *v);
void vcpu_get_state(struct vcpu *v, struct vcpu_state *s);
void vcpu_set_state(struct vcpu *v, const struct vcpu_state *s);
/* The guest's TSC now (it counts also while the VM is paused), and setting it: the
 * guest reads tsc now and counts on from there; device deadlines, in guest time, fall
 * due by the new clock. */
uint64_t vcpu_tsc(const struct vcpu *v);
void vcpu_set_tsc(struct vcpu *v, uint64_t tsc);

#endif
