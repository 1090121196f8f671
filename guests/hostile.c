/* Tries to escape, one step at a time in the order of escape= (default
 * vmx,msr,port,ram,triple), one line per attempt. Under tern the vmx and msr steps
 * must fault, the port step must read all ones, and the ram and triple steps end the
 * VM; a step that merely survives is reported, a step that succeeds is UNEXPECTED. */
#include "guests/lib/guest.h"
#include "guests/lib/probe.h"

#define MSR_FEATURE_CONTROL 0x3A
#define MSR_VMX_BASIC 0x480
#define MSR_UNKNOWN 0x12345678
#define VEC_UD 6
#define VEC_GP 13

static int unexpected;

/* A VMXON region would need a revision id from IA32_VMX_BASIC; any page does when
 * the instruction must #UD first (CR4.VMXE is 0, SDM 3C, 30.3 VMXON). */
static uint64_t vmx_page[512] __attribute__((aligned(4096)));
static uint64_t vmx_page_pa;

static void do_vmxon(void *arg)
{
	asm volatile("vmxon %0" : : "m"(vmx_page_pa) : "cc", "memory");
}

static void do_vmptrld(void *arg)
{
	asm volatile("vmptrld %0" : : "m"(vmx_page_pa) : "cc", "memory");
}

static void do_vmread(void *arg)
{
	uint32_t field = 0x4400, val; /* VM-instruction error */

	asm volatile("vmread %1, %0" : "=rm"(val) : "r"(field) : "cc");
}

static void do_vmcall(void *arg)
{
	asm volatile("vmcall" : : "a"(0), "b"(0), "c"(0), "d"(0) : "cc", "memory");
}

static void expect_vector(const char *step, const char *what, int got, int want)
{
	printf("hostile: %s: %s -> %s%s\n", step, what, vector_name(got),
	       got == want ? "" : " (UNEXPECTED)");
	unexpected += got != want;
}

static void step_vmx(void)
{
	vmx_page_pa = (uint32_t)vmx_page;
	expect_vector("vmx", "vmxon", probe_insn(do_vmxon, NULL), VEC_UD);
	expect_vector("vmx", "vmread", probe_insn(do_vmread, NULL), VEC_UD);
	expect_vector("vmx", "vmcall", probe_insn(do_vmcall, NULL), VEC_UD);
	expect_vector("vmx", "vmptrld", probe_insn(do_vmptrld, NULL), VEC_UD);
}

static void try_rdmsr(uint32_t msr)
{
	char what[32];
	uint64_t val;
	int vec = probe_rdmsr(msr, &val);

	if (vec == PROBE_NONE)
		fmt_snprintf(what, sizeof(what), "rdmsr 0x%x = 0x%llx", msr,
			     (unsigned long long)val);
	else
		fmt_snprintf(what, sizeof(what), "rdmsr 0x%x", msr);
	expect_vector("msr", what, vec, VEC_GP);
}

static void try_wrmsr(uint32_t msr, uint64_t val)
{
	char what[48];

	fmt_snprintf(what, sizeof(what), "wrmsr 0x%x <- 0x%llx", msr, (unsigned long long)val);
	expect_vector("msr", what, probe_wrmsr(msr, val), VEC_GP);
}

static void step_msr(void)
{
	/* lock bit plus VMX outside SMX: what a guest would set to turn VMX on */
	try_wrmsr(MSR_FEATURE_CONTROL, 0x5);
	try_wrmsr(MSR_VMX_BASIC, 0);
	try_rdmsr(MSR_VMX_BASIC);
	try_rdmsr(MSR_UNKNOWN);
}

static void check_ones(const char *what, uint16_t port, uint32_t got, uint32_t ones)
{
	printf("hostile: port: %s 0x%x -> 0x%x%s\n", what, port, got,
	       got == ones ? "" : " (UNEXPECTED)");
	unexpected += got != ones;
}

static void step_port(void)
{
	/* writes first, so the reads also show that nothing latched them */
	outb(0x2000, 0x5a);
	outw(0x7000, 0xa5a5);
	outl(0xCF8, 0x80000000); /* PCI config address: bus 0, device 0, register 0 */
	printf("hostile: port: wrote 0x2000, 0x7000, 0xcf8\n");
	check_ones("inb", 0x2000, inb(0x2000), 0xff);
	check_ones("inw", 0x7000, inw(0x7000), 0xffff);
	check_ones("inl", 0xCFC, inl(0xCFC), 0xffffffff);
	check_ones("inl", 0xCF8, inl(0xCF8), 0xffffffff);
}

static void touch(uint32_t addr)
{
	volatile uint32_t *p = (volatile uint32_t *)addr;

	printf("hostile: ram: touching 0x%x\n", addr);
	printf("hostile: ram: read 0x%x -> 0x%x\n", addr, *p);
	*p = 0xdeadbeef;
	printf("hostile: ram: wrote 0x%x, reads back 0x%x\n", addr, *p);
}

static void step_ram(void)
{
	/* paging is off: these are guest-physical addresses far past any guest RAM */
	touch(0xF0000000);
	touch(0x40000000);
}

static void step_triple(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __packed empty = { 0, 0 };

	/* #BP cannot be delivered, nor the #GP that causes, nor the #DF: shutdown. */
	printf("hostile: triple: empty IDT, int3\n");
	asm volatile("lidt %0; int3" : : "m"(empty));
	printf("hostile: triple: still running (UNEXPECTED)\n");
	unexpected++;
}

static const struct {
	const char *name;
	void (*run)(void);
} steps[] = {
	{ "vmx", step_vmx }, { "msr", step_msr }, { "port", step_port },
	{ "ram", step_ram }, { "triple", step_triple },
};

static bool run_step(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		if (strlen(steps[i].name) == len && !strncmp(steps[i].name, name, len)) {
			steps[i].run();
			return true;
		}
	}
	return false;
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	char list[128] = "vmx,msr,port,ram,triple";

	arg_str(cmdline_args(mb_cmdline(mbi)), "escape", list, sizeof(list));
	for (const char *s = list; *s;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (!run_step(s, len)) {
			printf("FAIL hostile: unknown step '%.*s'\n", (int)len, s);
			exit(EXIT_FAIL);
		}
		s += len + (end ? 1 : 0);
	}
	printf("hostile: survived\n");
	if (unexpected) {
		printf("FAIL hostile: %d unexpected results\n", unexpected);
		exit(EXIT_FAIL);
	}
	printf("PASS\n");
	exit(EXIT_PASS);
}
