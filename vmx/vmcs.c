/* The VMCS: its accessors (only vmx/ uses them) and the set-up of a vCPU's controls and
 * host state. */
#include "hv/console.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/vm.h"
#include "hv/msr.h"
#include "hv/pcpu.h"
#include "hv/x86_rules.h"
#include "hv/x86.h"
#include "vmx/ept.h"
#include "vmx/vapic.h"
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

#define EPT_CAP_INVEPT_SINGLE (1ull << 25)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)

/* The VMCS each CPU has current [o]. A VMCS is active on one CPU at most (SDM 24.11.1):
 * the CPU that ran it VMCLEARs it (vmx_vcpu_put) before another may load it. */
static struct vmx_vcpu *current[PCPU_MAX];

static int setup_host(void);

static uint32_t this_cpu(void)
{
	return pcpu_this()->index;
}

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

/* Loaded on another CPU than last time, the VMCS gets this CPU's host state: its GDT,
 * TSS and GS base are its own (struct pcpu). */
int vmcs_load(struct vmx_vcpu *v)
{
	uint32_t cpu = this_cpu();
	uint8_t fail;

	if (current[cpu] == v)
		return 0;
	asm volatile("vmptrld %1; setna %0" : "=qm"(fail) : "m"(v->vmcs) : "cc", "memory");
	if (fail)
		return -E_IO;
	current[cpu] = v;
	v->active_on = cpu + 1;
	if (v->host_cpu != cpu) {
		if (setup_host())
			return -E_IO;
		v->host_cpu = cpu;
	}
	return 0;
}

/* VMCLEAR also makes the launch state "clear": the next entry must be VMLAUNCH
 * (SDM 24.11.3). */
void vmx_clear(struct vmx_vcpu *v)
{
	uint32_t cpu = this_cpu();

	asm volatile("vmclear %0" : : "m"(v->vmcs) : "cc", "memory");
	v->launched = false;
	v->active_on = 0;
	if (current[cpu] == v)
		current[cpu] = NULL;
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

void vmx_invept(struct vm *vm)
{
	struct {
		uint64_t eptp, zero;
	} desc = { ept_pointer(vmx_ept(vm), false), 0 };
	uint64_t type = vmx_caps()->ept_vpid_cap & EPT_CAP_INVEPT_SINGLE ? 1 : 2;

	asm volatile("invept %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

void vmx_invvpid(struct vmx_vcpu *v)
{
	struct {
		uint64_t vpid, addr;
	} desc = { v->vpid, 0 };
	uint64_t type = vmx_caps()->ept_vpid_cap & VPID_CAP_INVVPID_SINGLE ? 1 : 2;

	if (v->vpid)
		asm volatile("invvpid %0, %1" : : "m"(desc), "r"(type) : "cc", "memory");
}

uint64_t vmx_cr0_fixed_mask(void)
{
	/* Bits VMX forces to 1 in CR0, less PE and PG which unrestricted guest frees. */
	return rdmsr(MSR_VMX_CR0_FIXED0) & ~(CR0_PE | CR0_PG);
}

uint64_t vmx_cr4_fixed0(void)
{
	return rdmsr(MSR_VMX_CR4_FIXED0);
}

static int setup_controls(struct vmx_vcpu *v, struct vm *vm)
{
	const struct hv_caps *c = hv_caps();
	uint32_t pin, pin2, proc, proc2, exit, entry;
	bool ok = true;

	/* External interrupts exit so tern's own timer never reaches a guest; NMIs exit
	 * with virtual NMIs where the CPU has them, so the guest's NMI blocking is exact. */
	ok &= adjust(MSR_VMX_PINBASED, MSR_VMX_TRUE_PINBASED,
		     PIN_PREEMPTION_TIMER | PIN_EXT_INTR_EXIT, 0, &pin);
	if (adjust(MSR_VMX_PINBASED, MSR_VMX_TRUE_PINBASED, pin | PIN_NMI_EXIT | PIN_VIRTUAL_NMI,
		   0, &pin2))
		pin = pin2;
	v->virtual_nmis = pin & PIN_VIRTUAL_NMI;
	proc = PROC_HLT_EXIT | PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_SECONDARY |
	       PROC_TSC_OFFSET;
	proc2 = PROC2_EPT | PROC2_UNRESTRICTED;
	vmx_apicv_controls(&proc, &proc2); /* what hv_apicv() chose from the caps */
	ok &= adjust(MSR_VMX_PROCBASED, MSR_VMX_TRUE_PROCBASED, proc, 0, &proc);
	ok &= adjust(MSR_VMX_PROCBASED2, 0, proc2, c->tagged_tlb ? PROC2_VPID : 0, &proc2);
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
	ok &= vmcs_write(EPT_POINTER, ept_pointer(vmx_ept(vm), false));
	if (proc2 & PROC2_VPID)
		ok &= vmcs_write(VMCS_VPID, v->vpid);
	else
		v->vpid = 0;
	ok &= vmcs_write(VMCS_LINK_POINTER, ~0ull);
	/* The guest owns CR0 and CR4 except the bits VMX fixes and the ones it may not
	 * set (VMXE: VT-x is hidden from guests). */
	ok &= vmcs_write(CR0_GUEST_HOST_MASK, vmx_cr0_fixed_mask());
	/* ... and CR4 bits the VM's CPU model does not offer, which this CPU might take:
	 * writing them exits, and the core's rules give #GP. */
	ok &= vmcs_write(CR4_GUEST_HOST_MASK, rdmsr(MSR_VMX_CR4_FIXED0) |
						      ~rdmsr(MSR_VMX_CR4_FIXED1) |
						      ~x86_cr4_offered(&vm->cpu));
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

/* MSRs the guest reads and writes without exits: the VMCS or tern's switch code keeps
 * them per guest. Every other MSR exits to the core's policy (hv/msr.c), the x2APIC
 * ones too until vmx/apicv.c lets some through. */
void vmx_msr_bitmap_init(uint8_t *bitmap)
{
	static const uint32_t through[] = {
		MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_STAR,	  MSR_LSTAR,
		MSR_CSTAR,	 MSR_SFMASK,	   MSR_FS_BASE,	     MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	};

	memset(bitmap, 0xff, PAGE_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(through); i++)
		msr_bitmap_set(bitmap, through[i], false, false);
}

/* The VMCS of a new vCPU: controls and host state. */
int vmcs_setup(struct vmx_vcpu *v, struct vm *vm)
{
	int err;

	vmx_clear(v);
	v->host_cpu = this_cpu(); /* setup_host below writes this CPU's */
	err = vmcs_load(v);
	if (!err)
		err = setup_controls(v, vm);
	if (!err)
		err = setup_host();
	return err;
}
