/* The VT-x vCPU, private to vmx/. */
#ifndef TERN_VMX_VCPU_H
#define TERN_VMX_VCPU_H

#include "hv/types.h"
#include "hv/backend.h"
#include "hv/vcpu.h"
#include "hv/vcpu_state.h"

/* MSRs the VMCS does not switch; tern loads them around the guest it runs. */
struct guest_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t dr[4], dr6; /* the guest reaches them without exits (MOV-DR exiting off) */
};

struct vm;
struct ept;

struct vmx_vcpu {
	/* x87/SSE/AVX registers in XSAVE's standard format (FXSAVE's for the first 512
	 * bytes, all a CPU without XSAVE keeps) while another vCPU's are in the CPU */
	uint8_t xsave[XSAVE_BYTES] __attribute__((aligned(64)));
	uint64_t xcr0;
	struct guest_msrs msrs;
	uint64_t cr2;
	uint64_t vmcs;            /* host-physical */
	uint64_t io_bitmaps;      /* two pages */
	uint64_t msr_bitmap;
	uint16_t vpid;
	bool launched;
	uint32_t active_on;       /* 1 + the CPU it is active on (VMPTRLD, no VMCLEAR since) */
	uint32_t host_cpu;        /* the CPU whose host state the VMCS holds (pcpu index) */
	uint32_t ran_on;          /* 1 + the CPU that last entered the guest; 0: none yet */
	uint32_t s2_gen;          /* the VM's s2_gen when this vCPU's CPU last did INVEPT */
	bool virtual_nmis;        /* the CPU tracks the guest's NMI blocking */
	uint64_t slice_end;       /* TSC: the scheduler's deadline for this run */
	uint32_t reinject;        /* an interrupted delivery, as interruption information */
	uint32_t reinject_error, reinject_len;
	/* APIC virtualization (vmx/apicv.c): what the VMCS holds now */
	uint32_t *vapic;          /* the virtual-APIC page: the model's */
	int apic_mode;            /* enum vcpu_apic_mode applied; -1 before the first entry */
	uint64_t apic_base;       /* the xAPIC base applied */
	uint64_t apic_gpa;        /* where the APIC-access page is mapped; 0: nowhere */
	uint64_t eoi_exit[4];     /* the EOI-exit bitmap */
	uint32_t tpr_threshold;
	bool vid;                 /* virtual-interrupt delivery in force (vmx_apicv_select) */
	struct vcpu *v;
};

static inline struct vmx_vcpu *to_vmx(const struct vcpu *v)
{
	return v->priv;
}

/* vmx/entry.S: loads the general registers from gpr (struct vcpu's, ModR/M order, RSP
 * skipped: the VMCS holds it), enters the guest (VMLAUNCH when !launched, else
 * VMRESUME), and returns 0 after a VM exit with them saved, 1 on VMfailInvalid, 2 on
 * VMfailValid. */
int vmx_enter(uint64_t *gpr, int launched);
void vmx_exit_entry(void);

/* vmx/vcpu.c */
int vmx_vcpu_create(struct vcpu *v);
void vmx_vcpu_destroy(struct vcpu *v);
void vmx_vcpu_run(struct vcpu *v, uint64_t deadline_tsc);
void vmx_evict(struct vmx_vcpu *x);
void vmx_vcpu_put(struct vcpu *v);
void vmx_set_xcr0(struct vmx_vcpu *x, uint64_t v);

/* vmx/event.c */
void vmx_save_vectoring(struct vmx_vcpu *x);
void vmx_inject_events(struct vmx_vcpu *x);
void vmx_pending_event(struct vmx_vcpu *x, struct vcpu_event *e);
void vmx_set_pending_event(struct vmx_vcpu *x, const struct vcpu_event *e);

/* vmx/apicv.c */
int vmx_apicv_enable(void);
void vmx_apicv_controls(uint32_t *proc, uint32_t *proc2);
int vmx_apicv_setup(struct vmx_vcpu *x);
void vmx_apicv_select(struct vmx_vcpu *x);
void vmx_apicv_sync(struct vmx_vcpu *x);
uint64_t vmx_apicv_access_gpa(const struct vmx_vcpu *x);
void vmx_apicv_after_wp(struct vm *vm);

/* vmx/exit.c: handles the exit that just happened; false ends the current slice. */
bool vmx_handle_exit(struct vmx_vcpu *x);
/* vmx/vmcs.c */
int vmcs_setup(struct vmx_vcpu *x, struct vm *vm);
void vmx_invept(struct vm *vm);
void vmx_invvpid(struct vmx_vcpu *x);
void vmx_clear(struct vmx_vcpu *x);
uint64_t vmx_cr0_fixed_mask(void);
uint64_t vmx_cr4_fixed0(void);
void vmx_msr_bitmap_init(uint8_t *bitmap);
/* vmx/state.c */
void vmx_get_state(struct vcpu *v, struct vcpu_state *s);
void vmx_set_state(struct vcpu *v, const struct vcpu_state *s);
uint64_t vmx_get_sreg(struct vcpu *v, enum vcpu_sreg r);
void vmx_set_sreg(struct vcpu *v, enum vcpu_sreg r, uint64_t val);
void vmx_get_seg(struct vcpu *v, int idx, struct seg_state *s);
/* vmx/dirty.c */
int vmx_dirty_arm(struct vm *vm);
void vmx_dirty_disarm(struct vm *vm);
void vmx_dirty_collect(struct vm *vm);
void vmx_dirty_rearm(struct vm *vm, const uint32_t *pfns, uint64_t n);
bool vmx_dirty_write_fault(struct vm *vm, uint64_t gpa);
bool vmx_dirty_pml_full(struct vm *vm, unsigned index); /* its VMCS is current */
/* vmx/s2.c: the VM's EPT */
struct ept *vmx_ept(const struct vm *vm);
int vmx_s2_init(struct vm *vm);
void vmx_s2_destroy(struct vm *vm);
int vmx_s2_map(struct vm *vm, gpa_t g, hpa_t h, uint64_t size, unsigned perm);
/* vmx/exit.c */
void vmx_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error);

/* Names for the operator. */
const char *vmx_exit_name(uint32_t reason);
const char *vmx_insn_error_name(uint32_t err);

#endif
