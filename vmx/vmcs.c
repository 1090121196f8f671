/* The VMCS: accessors, set-up of a VM's controls and state, the run loop. */
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/vcpu_state.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"
#include "vmx/vmx.h"

#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT 0x48f
#define MSR_VMX_TRUE_ENTRY 0x490
#define MSR_IA32_PAT 0x277
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101

#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)

static struct vmx_vcpu *current;   /* whose VMCS is loaded */
static struct vmx_vcpu *resident;  /* whose MSRs and FPU state are in the CPU */

uint64_t vmcs_read(enum vmcs_field f)
{
	uint64_t v = 0;

	asm volatile("vmread %1, %0" : "=rm"(v) : "r"((uint64_t)f) : "cc");
	return v;
}

bool vmcs_write(enum vmcs_field f, uint64_t v)
{
	uint8_t fail;

	asm volatile("vmwrite %1, %2; setna %0" : "=qm"(fail) : "rm"(v), "r"((uint64_t)f) : "cc");
	if (fail)
		kprintf("vmx: vmwrite of field 0x%04x = 0x%llx failed: %s (from %p)\n", f,
			(unsigned long long)v,
			vmx_insn_error_name((uint32_t)vmcs_read(VM_INSTRUCTION_ERROR)),
			__builtin_return_address(0));
	return !fail;
}

int vmcs_load(struct vmx_vcpu *v)
{
	uint8_t fail;

	if (current == v)
		return 0;
	asm volatile("vmptrld %1; setna %0" : "=qm"(fail) : "m"(v->vmcs) : "cc", "memory");
	if (fail)
		return -E_IO;
	current = v;
	return 0;
}

static void vmclear(struct vmx_vcpu *v)
{
	asm volatile("vmclear %0" : : "m"(v->vmcs) : "cc", "memory");
	if (current == v)
		current = NULL;
}

/* A control word the CPU accepts: allowed-0 bits (low half of the MSR) forced on,
 * allowed-1 bits (high half) the only ones kept (SDM A.3). */
static bool adjust(uint32_t msr, uint32_t true_msr, uint32_t want, uint32_t optional,
		   uint32_t *out)
{
	uint64_t cap = rdmsr(vmx_caps()->true_ctls && true_msr ? true_msr : msr);
	uint32_t v = ((want | optional) | (uint32_t)cap) & (uint32_t)(cap >> 32);

	*out = v;
	return (v & want) == want;
}

static void invept(struct vmx_vcpu *v)
{
	struct {
		uint64_t eptp, zero;
	} desc = { ept_pointer(&v->vm->ept, false), 0 };
	uint64_t type = vmx_caps()->ept_vpid_cap & EPT_CAP_INVEPT_SINGLE ? 1 : 2;

	asm volatile("invept %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

static void invvpid(struct vmx_vcpu *v)
{
	struct {
		uint64_t vpid, addr;
	} desc = { v->vpid, 0 };
	uint64_t type = vmx_caps()->ept_vpid_cap & VPID_CAP_INVVPID_SINGLE ? 1 : 2;

	if (v->vpid)
		asm volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

void vmx_flush_ept(struct vm *vm)
{
	invept(vm->vcpu);
}

static uint64_t cr0_fixed_mask(void)
{
	/* Bits VMX forces to 1 in CR0, less PE and PG which unrestricted guest frees. */
	return rdmsr(MSR_VMX_CR0_FIXED0) & ~(CR0_PE | CR0_PG);
}

static int setup_controls(struct vmx_vcpu *v)
{
	const struct vmx_caps *c = vmx_caps();
	uint32_t pin, proc, proc2, exit, entry;
	bool ok = true;

	ok &= adjust(MSR_VMX_PINBASED, MSR_VMX_TRUE_PINBASED, PIN_PREEMPTION_TIMER, 0, &pin);
	ok &= adjust(MSR_VMX_PROCBASED, MSR_VMX_TRUE_PROCBASED,
		     PROC_HLT_EXIT | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY,
		     0, &proc);
	ok &= adjust(MSR_VMX_PROCBASED2, 0, PROC2_EPT | PROC2_UNRESTRICTED,
		     c->vpid ? PROC2_VPID : 0, &proc2);
	ok &= adjust(MSR_VMX_EXIT, MSR_VMX_TRUE_EXIT,
		     EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT,
		     0, &exit);
	ok &= adjust(MSR_VMX_ENTRY, MSR_VMX_TRUE_ENTRY, ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, 0,
		     &entry);
	if (!ok) {
		kprintf("vmx: the CPU does not allow a control tern requires\n");
		return -E_NOSUP;
	}
	ok &= vmcs_write(PIN_BASED_CTLS, pin);
	ok &= vmcs_write(PROC_BASED_CTLS, proc);
	ok &= vmcs_write(PROC_BASED_CTLS2, proc2);
	ok &= vmcs_write(VM_EXIT_CTLS, exit);
	ok &= vmcs_write(VM_ENTRY_CTLS, entry);
	ok &= vmcs_write(EXCEPTION_BITMAP, 0);
	ok &= vmcs_write(CR3_TARGET_COUNT, 0);
	ok &= vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	ok &= vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	ok &= vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	ok &= vmcs_write(VM_ENTRY_INTR_INFO, 0);
	ok &= vmcs_write(IO_BITMAP_A, v->io_bitmaps);
	ok &= vmcs_write(IO_BITMAP_B, v->io_bitmaps + PAGE_SIZE);
	ok &= vmcs_write(MSR_BITMAP, v->msr_bitmap);
	ok &= vmcs_write(EPT_POINTER, ept_pointer(&v->vm->ept, false));
	if (proc2 & PROC2_VPID)
		ok &= vmcs_write(VMCS_VPID, v->vpid);
	else
		v->vpid = 0;
	ok &= vmcs_write(VMCS_LINK_POINTER, ~0ull);
	/* The guest owns CR0 and CR4 except the bits VMX fixes and the ones it may not
	 * set (VMXE: VT-x is hidden from guests). */
	ok &= vmcs_write(CR0_GUEST_HOST_MASK, cr0_fixed_mask());
	ok &= vmcs_write(CR4_GUEST_HOST_MASK,
			 rdmsr(MSR_VMX_CR4_FIXED0) | ~rdmsr(MSR_VMX_CR4_FIXED1));
	return ok ? 0 : -E_IO;
}

struct dtr {
	uint16_t limit;
	uint64_t base;
} __packed;

static int setup_host(void)
{
	struct dtr gdt, idt;
	uint64_t tr_base;
	bool ok = true;

	asm volatile("sgdt %0" : "=m"(gdt));
	asm volatile("sidt %0" : "=m"(idt));
	/* TR base from the TSS descriptor at selector 0x18 */
	const uint64_t *g = (const uint64_t *)gdt.base;
	tr_base = ((g[3] >> 16) & 0xffffff) | ((g[3] >> 56) << 24) | (g[4] << 32);
	ok &= vmcs_write(HOST_CR0, read_cr0());
	ok &= vmcs_write(HOST_CR3, read_cr3());
	ok &= vmcs_write(HOST_CR4, read_cr4());
	ok &= vmcs_write(HOST_CS_SEL, 0x08);
	ok &= vmcs_write(HOST_SS_SEL, 0x10);
	ok &= vmcs_write(HOST_DS_SEL, 0x10);
	ok &= vmcs_write(HOST_ES_SEL, 0x10);
	ok &= vmcs_write(HOST_FS_SEL, 0);
	ok &= vmcs_write(HOST_GS_SEL, 0);
	ok &= vmcs_write(HOST_TR_SEL, 0x18);
	ok &= vmcs_write(HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	ok &= vmcs_write(HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	ok &= vmcs_write(HOST_TR_BASE, tr_base);
	ok &= vmcs_write(HOST_GDTR_BASE, gdt.base);
	ok &= vmcs_write(HOST_IDTR_BASE, idt.base);
	ok &= vmcs_write(HOST_SYSENTER_CS, 0);
	ok &= vmcs_write(HOST_SYSENTER_ESP, 0);
	ok &= vmcs_write(HOST_SYSENTER_EIP, 0);
	ok &= vmcs_write(HOST_IA32_EFER, rdmsr(MSR_IA32_EFER));
	ok &= vmcs_write(HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
	ok &= vmcs_write(HOST_RIP, (uintptr_t)vmx_exit_entry);
	return ok ? 0 : -E_IO;
}

static void free_pages(struct vmx_vcpu *v)
{
	if (v->vmcs)
		pmm_free(v->vmcs, 1);
	if (v->io_bitmaps)
		pmm_free(v->io_bitmaps, 2);
	if (v->msr_bitmap)
		pmm_free(v->msr_bitmap, 1);
	pmm_free((uintptr_t)v, ALIGN_UP(sizeof(*v), PAGE_SIZE) / PAGE_SIZE);
}

int vmx_vcpu_create(struct vm *vm)
{
	uint64_t npages = ALIGN_UP(sizeof(struct vmx_vcpu), PAGE_SIZE) / PAGE_SIZE;
	struct vmx_vcpu *v = (void *)(uintptr_t)pmm_alloc(npages);
	int err;

	if (!v)
		return -E_NOMEM;
	v->vm = vm;
	v->vpid = (uint16_t)vm->id;
	v->vmcs = pmm_alloc(1);
	v->io_bitmaps = pmm_alloc(2);
	v->msr_bitmap = pmm_alloc(1);
	if (!v->vmcs || !v->io_bitmaps || !v->msr_bitmap) {
		free_pages(v);
		return -E_NOMEM;
	}
	memset((void *)(uintptr_t)v->io_bitmaps, 0xff, 2 * PAGE_SIZE); /* every port exits */
	vmx_msr_bitmap_init((void *)(uintptr_t)v->msr_bitmap);
	*(uint32_t *)(uintptr_t)v->vmcs = vmx_caps()->revision;
	/* A clean FPU/SSE image: what FNINIT and the reset MXCSR give. */
	*(uint16_t *)&v->fxsave[0] = 0x37f;
	*(uint32_t *)&v->fxsave[24] = 0x1f80;
	vm->vcpu = v;
	vmclear(v);
	err = vmcs_load(v);
	if (!err)
		err = setup_controls(v);
	if (!err)
		err = setup_host();
	if (err) {
		vmclear(v);
		free_pages(v);
		vm->vcpu = NULL;
		return err;
	}
	invvpid(v);
	invept(v);
	return 0;
}

void vmx_vcpu_destroy(struct vm *vm)
{
	struct vmx_vcpu *v = vm->vcpu;

	if (!v)
		return;
	vmclear(v);
	if (resident == v)
		resident = NULL;
	invvpid(v);
	free_pages(v);
	vm->vcpu = NULL;
}

/* Field encodings of the eight segments are consecutive, 2 apart (SDM B.1.2, B.3.3,
 * B.4.3), in the order of enum SEG_*. */
/* VMX keeps a segment's attributes as the descriptor's bits 40-55 in place (bits 8-11
 * reserved) with bit 16 for "unusable" (SDM 25.4.1); the neutral form packs them. */
static uint32_t attr_to_ar(uint16_t a)
{
	return (a & 0xff) | ((uint32_t)(a & 0xf00) << 4) | (a & SEG_UNUSABLE ? 1u << 16 : 0);
}

static uint16_t ar_to_attr(uint32_t ar)
{
	return (uint16_t)((ar & 0xff) | ((ar >> 4) & 0xf00) | (ar & (1u << 16) ? SEG_UNUSABLE : 0));
}

static void set_seg(int idx, const struct seg_state *s)
{
	vmcs_write(GUEST_ES_SEL + 2 * idx, s->sel);
	vmcs_write(GUEST_ES_LIMIT + 2 * idx, s->limit);
	vmcs_write(GUEST_ES_AR + 2 * idx, attr_to_ar(s->attr));
	vmcs_write(GUEST_ES_BASE + 2 * idx, s->base);
}

static void get_seg(int idx, struct seg_state *s)
{
	s->sel = (uint16_t)vmcs_read(GUEST_ES_SEL + 2 * idx);
	s->limit = (uint32_t)vmcs_read(GUEST_ES_LIMIT + 2 * idx);
	s->attr = ar_to_attr((uint32_t)vmcs_read(GUEST_ES_AR + 2 * idx));
	s->base = vmcs_read(GUEST_ES_BASE + 2 * idx);
}

void vmx_vcpu_set_state(struct vm *vm, const struct vcpu_state *s)
{
	struct vmx_vcpu *v = vm->vcpu;
	uint32_t entry;

	vmcs_load(v);
	v->regs = (struct guest_regs){ s->rax, s->rbx, s->rcx, s->rdx, s->rsi, s->rdi, s->rbp,
				       s->r8,  s->r9,  s->r10, s->r11, s->r12, s->r13, s->r14,
				       s->r15 };
	vmcs_write(GUEST_RSP, s->rsp);
	vmcs_write(GUEST_RIP, s->rip);
	vmcs_write(GUEST_RFLAGS, s->rflags | 2);
	vmcs_write(CR0_READ_SHADOW, s->cr0);
	vmcs_write(GUEST_CR0, s->cr0 | cr0_fixed_mask());
	vmcs_write(CR4_READ_SHADOW, s->cr4);
	vmcs_write(GUEST_CR4, s->cr4 | rdmsr(MSR_VMX_CR4_FIXED0));
	vmcs_write(GUEST_CR3, s->cr3);
	v->cr2 = s->cr2;
	vmcs_write(GUEST_IA32_EFER, s->efer);
	vmcs_write(GUEST_IA32_PAT, s->pat);
	vmcs_write(GUEST_DR7, s->dr7);
	for (int i = 0; i < SEG_COUNT; i++)
		set_seg(i, &s->seg[i]);
	vmcs_write(GUEST_GDTR_BASE, s->gdtr.base);
	vmcs_write(GUEST_GDTR_LIMIT, s->gdtr.limit);
	vmcs_write(GUEST_IDTR_BASE, s->idtr.base);
	vmcs_write(GUEST_IDTR_LIMIT, s->idtr.limit);
	vmcs_write(GUEST_SYSENTER_CS, s->sysenter_cs);
	vmcs_write(GUEST_SYSENTER_ESP, s->sysenter_esp);
	vmcs_write(GUEST_SYSENTER_EIP, s->sysenter_eip);
	vmcs_write(GUEST_INTERRUPTIBILITY, s->interruptibility);
	vmcs_write(GUEST_ACTIVITY_STATE, s->activity);
	vmcs_write(GUEST_PENDING_DBG, 0);
	v->msrs = (struct guest_msrs){ s->star, s->lstar, s->cstar, s->sfmask, s->kernel_gs_base };
	entry = (uint32_t)vmcs_read(VM_ENTRY_CTLS) & ~ENTRY_IA32E_GUEST;
	if (s->efer & (1u << 10)) /* LMA */
		entry |= ENTRY_IA32E_GUEST;
	vmcs_write(VM_ENTRY_CTLS, entry);
}

void vmx_vcpu_get_state(struct vm *vm, struct vcpu_state *s)
{
	struct vmx_vcpu *v = vm->vcpu;
	const struct guest_regs *r = &v->regs;

	vmcs_load(v);
	*s = (struct vcpu_state){
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx, .rsi = r->rsi,
		.rdi = r->rdi, .rbp = r->rbp, .r8 = r->r8, .r9 = r->r9, .r10 = r->r10,
		.r11 = r->r11, .r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
	};
	s->rsp = vmcs_read(GUEST_RSP);
	s->rip = vmcs_read(GUEST_RIP);
	s->rflags = vmcs_read(GUEST_RFLAGS);
	s->cr0 = (vmcs_read(GUEST_CR0) & ~cr0_fixed_mask()) |
		 (vmcs_read(CR0_READ_SHADOW) & cr0_fixed_mask());
	s->cr4 = vmcs_read(CR4_READ_SHADOW);
	s->cr3 = vmcs_read(GUEST_CR3);
	s->cr2 = v->cr2;
	s->efer = vmcs_read(GUEST_IA32_EFER);
	s->pat = vmcs_read(GUEST_IA32_PAT);
	s->dr7 = vmcs_read(GUEST_DR7);
	for (int i = 0; i < SEG_COUNT; i++)
		get_seg(i, &s->seg[i]);
	s->gdtr.base = vmcs_read(GUEST_GDTR_BASE);
	s->gdtr.limit = (uint16_t)vmcs_read(GUEST_GDTR_LIMIT);
	s->idtr.base = vmcs_read(GUEST_IDTR_BASE);
	s->idtr.limit = (uint16_t)vmcs_read(GUEST_IDTR_LIMIT);
	s->sysenter_cs = vmcs_read(GUEST_SYSENTER_CS);
	s->sysenter_esp = vmcs_read(GUEST_SYSENTER_ESP);
	s->sysenter_eip = vmcs_read(GUEST_SYSENTER_EIP);
	s->interruptibility = (uint32_t)vmcs_read(GUEST_INTERRUPTIBILITY);
	s->activity = (uint32_t)vmcs_read(GUEST_ACTIVITY_STATE);
	s->star = v->msrs.star;
	s->lstar = v->msrs.lstar;
	s->cstar = v->msrs.cstar;
	s->sfmask = v->msrs.sfmask;
	s->kernel_gs_base = v->msrs.kernel_gs_base;
}

void vmx_vcpu_reset_multiboot(struct vm *vm, uint32_t entry, uint32_t mbi)
{
	/* Multiboot 0.6.96, 3.2: flat 32-bit segments, CR0.PE on, paging off, IF off. */
	const struct seg_state code = { .sel = 0x08, .limit = 0xffffffff, .attr = 0xc9b };
	const struct seg_state data = { .sel = 0x10, .limit = 0xffffffff, .attr = 0xc93 };
	struct vcpu_state s = {
		.rax = 0x2badb002,
		.rbx = mbi,
		.rip = entry,
		.rflags = 2,
		.cr0 = CR0_PE | (1u << 4), /* ET */
		.pat = 0x0007040600070406ull,
		.dr7 = 0x400,
	};

	for (int i = 0; i < SEG_COUNT; i++)
		s.seg[i] = data;
	s.seg[SEG_CS] = code;
	s.seg[SEG_LDTR] = (struct seg_state){ .attr = SEG_UNUSABLE };
	s.seg[SEG_TR] = (struct seg_state){ .limit = 0x67, .attr = 0x8b }; /* busy 32-bit TSS */
	vmx_vcpu_set_state(vm, &s);
}

static void fxsave(uint8_t *area)
{
	asm volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area));
}

static void fxrstor(const uint8_t *area)
{
	asm volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[512])area));
}

/* The guest's MSRs and FPU state go into the CPU only when another guest's were there. */
static void make_resident(struct vmx_vcpu *v)
{
	if (resident == v)
		return;
	if (resident) {
		fxsave(resident->fxsave);
		resident->msrs = (struct guest_msrs){ rdmsr(0xc0000081), rdmsr(0xc0000082),
						      rdmsr(0xc0000083), rdmsr(0xc0000084),
						      rdmsr(0xc0000102) };
	}
	fxrstor(v->fxsave);
	wrmsr(0xc0000081, v->msrs.star);
	wrmsr(0xc0000082, v->msrs.lstar);
	wrmsr(0xc0000083, v->msrs.cstar);
	wrmsr(0xc0000084, v->msrs.sfmask);
	wrmsr(0xc0000102, v->msrs.kernel_gs_base);
	resident = v;
}

static void entry_failed(struct vm *vm, int how)
{
	uint32_t err = how == 2 ? (uint32_t)vmcs_read(VM_INSTRUCTION_ERROR) : 0;

	vm_kill(vm, "VM entry failed: %s (rip 0x%llx)",
		how == 2 ? vmx_insn_error_name(err) : "VMfailInvalid (no current VMCS)",
		(unsigned long long)vmcs_read(GUEST_RIP));
}

void vmx_vcpu_run(struct vm *vm, uint64_t deadline_tsc)
{
	struct vmx_vcpu *v = vm->vcpu;
	uint8_t rate = vmx_caps()->preemption_rate;

	if (vmcs_load(v)) {
		vm_kill(vm, "VMPTRLD of its VMCS failed");
		return;
	}
	make_resident(v);
	while (vm->state == VM_RUNNING && !vm->halted) {
		uint64_t now = rdtsc(), ticks;
		int r;

		if (now >= deadline_tsc)
			break;
		ticks = (deadline_tsc - now) >> rate;
		vmcs_write(GUEST_PREEMPTION_TIMER, ticks > 0xffffffff ? 0xffffffff : ticks);
		write_cr2(v->cr2);
		r = vmx_enter(&v->regs, v->launched);
		v->cr2 = read_cr2();
		vm->run_tsc += rdtsc() - now;
		if (r) {
			entry_failed(vm, r);
			break;
		}
		v->launched = true;
		vm->exits++;
		if (!vmx_handle_exit(v))
			break;
	}
}
