/* The architectural part of VM exits: what an instruction the CPU would not run for the
 * guest means, decided here once for every backend. */
#include "hv/backend.h"
#include "hv/cpuid.h"
#include "hv/error.h"
#include "hv/msr.h"
#include "hv/pmm.h"
#include "hv/vcpu.h"
#include "hv/vdev.h"
#include "hv/vm.h"
#include "hv/x86.h"

#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

static const struct hv_backend *be(void)
{
	return hv_backend();
}

unsigned vcpu_kill(struct vcpu *v, const char *what)
{
	vm_kill(v->vm, "%s at rip 0x%llx", what, (unsigned long long)v->rip);
	return VA_STOP;
}

static unsigned fault_gp(struct vcpu *v)
{
	be()->inject_exception(v, VEC_GP, true, 0);
	return VA_RESUME;
}

unsigned vcpu_io(struct vcpu *v, uint16_t port, unsigned size, bool in)
{
	uint32_t val = (uint32_t)v->gpr[GPR_RAX];
	uint64_t mask = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;

	if (!vdev_io(v->vm, port, size, in, &val))
		return VA_SKIP | VA_STOP;
	if (in) /* a 32-bit IN zero-extends into RAX; 8- and 16-bit ones keep the rest */
		v->gpr[GPR_RAX] = size == 4 ? val : (v->gpr[GPR_RAX] & ~mask) | (val & mask);
	return v->vm->state == VM_RUNNING ? VA_SKIP : VA_SKIP | VA_STOP;
}

unsigned vcpu_rdmsr(struct vcpu *v)
{
	uint64_t val;

	if (!msr_read(v, (uint32_t)v->gpr[GPR_RCX], &val))
		return fault_gp(v);
	v->gpr[GPR_RAX] = (uint32_t)val;
	v->gpr[GPR_RDX] = val >> 32;
	return VA_SKIP;
}

unsigned vcpu_wrmsr(struct vcpu *v)
{
	uint64_t val = (v->gpr[GPR_RDX] << 32) | (uint32_t)v->gpr[GPR_RAX];

	if (!msr_write(v, (uint32_t)v->gpr[GPR_RCX], val))
		return fault_gp(v);
	return VA_SKIP;
}

unsigned vcpu_cpuid(struct vcpu *v)
{
	struct cpuid_dyn d = {
		.osxsave = be()->get_sreg(v, SREG_CR4) & CR4_OSXSAVE,
		.apic_on = true,
		.xcr0 = be()->get_sreg(v, SREG_XCR0),
		.apic_id = 0,
	};
	struct cpuid_regs r;

	cpu_model_query(&v->vm->cpu, (uint32_t)v->gpr[GPR_RAX], (uint32_t)v->gpr[GPR_RCX], &d, &r);
	v->gpr[GPR_RAX] = r.eax;
	v->gpr[GPR_RBX] = r.ebx;
	v->gpr[GPR_RCX] = r.ecx;
	v->gpr[GPR_RDX] = r.edx;
	return VA_SKIP;
}

/* HLT waits for an interrupt the guest can take, or an NMI; with interrupts off and no
 * NMI coming it waits for good, as the CPU would. Either way it leaves the run queue
 * until then and costs the other VMs nothing. */
unsigned vcpu_hlt(struct vcpu *v)
{
	if (vcpu_nmi_ready(v) || ((v->rflags & RFLAGS_IF) && vcpu_intr_ready(v)))
		return VA_SKIP;
	v->halted = true;
	return VA_SKIP | VA_STOP;
}

void vcpu_tick(struct vcpu *v)
{
}

bool vcpu_wake(struct vcpu *v)
{
	vcpu_tick(v);
	if (vcpu_nmi_ready(v) || ((v->rflags & RFLAGS_IF) && vcpu_intr_ready(v)))
		v->halted = false;
	return !v->halted;
}

uint64_t vcpu_deadline_tsc(struct vcpu *v)
{
	return UINT64_MAX;
}

bool vcpu_nmi_ready(struct vcpu *v)
{
	return v->nmi_pending;
}

void vcpu_nmi_taken(struct vcpu *v)
{
	v->nmi_pending = false;
}

bool vcpu_intr_ready(struct vcpu *v)
{
	return false;
}

uint8_t vcpu_intr_ack(struct vcpu *v)
{
	return 0;
}

uint64_t vcpu_read_cr(struct vcpu *v, unsigned cr)
{
	switch (cr) {
	case 0: return be()->get_sreg(v, SREG_CR0);
	case 3: return be()->get_sreg(v, SREG_CR3);
	case 4: return be()->get_sreg(v, SREG_CR4);
	default: return 0; /* CR8: no virtual APIC yet, the TPR reads 0 */
	}
}

/* SDM 2.5 and 10.8.5: the checks a CPU makes on MOV to CR0 and CR4. */
static bool cr0_ok(struct vcpu *v, uint64_t val)
{
	uint64_t old = be()->get_sreg(v, SREG_CR0), efer = be()->get_sreg(v, SREG_EFER);

	if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)))
		return false;
	/* Turning paging on with EFER.LME set enters long mode, which needs CR4.PAE. */
	return !((val & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME) &&
		 !(be()->get_sreg(v, SREG_CR4) & CR4_PAE));
}

static bool cr4_ok(struct vcpu *v, uint64_t val)
{
	/* VMXE (bit 13) and SMXE (bit 14) are never the guest's; clearing PAE in long mode
	 * faults (SDM 4.1.1). */
	if (val & (CR4_VMXE | (1ull << 14) | ~0x3fffffull))
		return false;
	return (val & CR4_PAE) || !(be()->get_sreg(v, SREG_EFER) & EFER_LMA);
}

unsigned vcpu_write_cr(struct vcpu *v, unsigned cr, uint64_t val)
{
	switch (cr) {
	case 0:
		if (!cr0_ok(v, val))
			return fault_gp(v);
		be()->set_sreg(v, SREG_CR0, val);
		return VA_SKIP;
	case 3:
		be()->set_sreg(v, SREG_CR3, val);
		return VA_SKIP;
	case 4:
		if (!cr4_ok(v, val))
			return fault_gp(v);
		be()->set_sreg(v, SREG_CR4, val);
		return VA_SKIP;
	case 8:
		if (val >> 4)
			return fault_gp(v);
		return VA_SKIP; /* no virtual APIC yet: the TPR is ignored */
	default:
		return vcpu_kill(v, "unsupported control-register access");
	}
}

/* XSETBV (SDM Vol. 2C): XCR0 only, x87 always on, AVX only with SSE, and only the
 * components the VM's CPU model offers. */
unsigned vcpu_xsetbv(struct vcpu *v)
{
	uint64_t val = (v->gpr[GPR_RDX] << 32) | (uint32_t)v->gpr[GPR_RAX];

	if ((uint32_t)v->gpr[GPR_RCX] != 0 || !(val & XCR0_X87) ||
	    ((val & XCR0_AVX) && !(val & XCR0_SSE)) || (val & ~cpu_xcr0_mask(&v->vm->cpu)))
		return fault_gp(v);
	be()->set_sreg(v, SREG_XCR0, val);
	return VA_SKIP;
}

unsigned vcpu_mmio(struct vcpu *v, uint64_t g, bool write, bool fetch)
{
	const char *what = fetch ? "instruction fetch" : write ? "write" : "read";

	vm_kill(v->vm, "%s of guest-physical 0x%llx outside its %llu MiB of RAM, at rip 0x%llx",
		what, (unsigned long long)g, (unsigned long long)(v->vm->mem_size / MIB),
		(unsigned long long)v->rip);
	return VA_STOP;
}

int vcpu_create(struct vm *vm, struct vcpu **out)
{
	uint64_t npages = ALIGN_UP(sizeof(struct vcpu), PAGE_SIZE) / PAGE_SIZE;
	struct vcpu *v = (void *)(uintptr_t)pmm_alloc(npages);
	int e;

	if (!v)
		return -E_NOMEM;
	v->vm = vm;
	v->tsc_offset = -(int64_t)rdtsc(); /* the guest's TSC starts at 0 */
	e = be()->vcpu_create(v);
	if (e) {
		pmm_free((uintptr_t)v, npages);
		return e;
	}
	*out = v;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	be()->vcpu_destroy(v);
	pmm_free((uintptr_t)v, ALIGN_UP(sizeof(struct vcpu), PAGE_SIZE) / PAGE_SIZE);
}

void vcpu_get_state(struct vcpu *v, struct vcpu_state *s)
{
	be()->get_state(v, s);
	s->tsc = rdtsc() + (uint64_t)v->tsc_offset;
	s->nmi_pending = v->nmi_pending;
}

/* The guest's TSC goes on from the state's value: a migrated guest sees no jump back. */
void vcpu_set_state(struct vcpu *v, const struct vcpu_state *s)
{
	be()->set_state(v, s);
	v->tsc_offset = (int64_t)(s->tsc - rdtsc());
	v->nmi_pending = s->nmi_pending;
}
