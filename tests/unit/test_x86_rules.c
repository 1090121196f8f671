#include <stdio.h>
#include <string.h>
#include "hv/error.h"
#include "hv/x86_rules.h"
#include "tests/unit/stubs.h"

/* --- models --- */

#define BIT(n) (1u << (n))
#define F_SSE3 BIT(0)
#define LEAF1_ECX                                                                          \
	(F_SSE3 | BIT(1) | BIT(9) | BIT(12) | BIT(13) | BIT(17) /* PCID */ | BIT(19) |       \
	 BIT(20) | BIT(21) | BIT(22) | BIT(23) | BIT(24) | BIT(25) | BIT(26) /* XSAVE */ |     \
	 BIT(28) /* AVX */ | BIT(29) | BIT(30) | BIT(31))
#define LEAF1_EDX 0x0f8bfbffu /* FPU VME DE PSE TSC MSR PAE MCE ... PAT ... FXSR SSE SSE2 */
#define LEAF7_EBX                                                                          \
	(BIT(0) /* FSGSBASE */ | BIT(3) | BIT(5) | BIT(7) /* SMEP */ | BIT(8) | BIT(9) |      \
	 BIT(10) | BIT(18) | BIT(19) | BIT(20) /* SMAP */ | BIT(23))
#define EXT1_EDX (BIT(11) | BIT(20) | BIT(26) | BIT(27) | BIT(29)) /* SYSCALL NX 1G RDTSCP LM */

/* A Skylake-like model: no UMIP, no LA57, x87/SSE/AVX, 39-bit physical addresses. */
static void skylake(struct cpu_model *m)
{
	memset(m, 0, sizeof(*m));
	assert_true(cpu_model_set(m, 1, 0, 0x000506e3, 0x00010800, LEAF1_ECX, LEAF1_EDX));
	assert_true(cpu_model_set(m, 7, 0, 0, LEAF7_EBX, 0, 0));
	assert_true(cpu_model_set(m, 0xd, 0, 0x7, 0x340, 0x340, 0));
	assert_true(cpu_model_set(m, 0x80000001u, 0, 0, 0, 0x121, EXT1_EDX));
	assert_true(cpu_model_set(m, 0x80000008u, 0, 0x3027, 0, 0, 0));
}

static void with_leaf(struct cpu_model *m, uint32_t leaf, uint32_t sub, int reg, uint32_t set,
		      uint32_t clear)
{
	struct cpuid_entry e = *cpu_model_find(m, leaf, sub);
	uint32_t *r[4] = { &e.eax, &e.ebx, &e.ecx, &e.edx };

	*r[reg] = (*r[reg] | set) & ~clear;
	assert_true(cpu_model_set(m, leaf, sub, e.eax, e.ebx, e.ecx, e.edx));
}

static struct cpu_model sky, la57, no_xsave, no_ext, rtm;

static int setup_models(void **state)
{
	skylake(&sky);
	la57 = sky;
	with_leaf(&la57, 7, 0, CPU_ECX, BIT(16), 0);
	no_xsave = sky;
	with_leaf(&no_xsave, 1, 0, CPU_ECX, 0, BIT(26) | BIT(28));
	no_ext = sky; /* no SYSCALL, NX, RDTSCP, LM; no SEP, PAT */
	with_leaf(&no_ext, 0x80000001u, 0, CPU_EDX, 0, EXT1_EDX);
	with_leaf(&no_ext, 1, 0, CPU_EDX, 0, BIT(11) | BIT(16));
	rtm = sky;
	with_leaf(&rtm, 7, 0, CPU_EBX, BIT(11), 0);
	return 0;
}

/* --- part 1: writes --- */

#define CR0_REAL 0x60000010ull
#define CR0_PM (CR0_PE | CR0_ET)
#define CR0_LINUX 0x80050033ull
#define CR4_LINUX (CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE)
#define EFER_LINUX (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

static const struct x86_ctl real_ctl = { CR0_REAL, 0, 0, 0, 0 };
static const struct x86_ctl pm_ctl = { CR0_PM, 0, 0, 0, 0 };
static const struct x86_ctl long_ctl = { CR0_LINUX, 0x10a000, CR4_LINUX, EFER_LINUX, 1 };
static const struct x86_ctl compat_ctl = { CR0_LINUX, 0x10a000, CR4_LINUX, EFER_LINUX, 0 };

static bool wr(const struct cpu_model *m, const struct x86_ctl *c, enum x86_ctl_reg r,
	       uint64_t v, struct x86_ctl_effects *fx)
{
	struct x86_ctl_effects junk = { .flush = 9 };

	fx = fx ? fx : &junk;
	*fx = junk;
	if (!x86_ctl_write(m, c, r, v, fx)) {
		assert_int_equal(fx->flush, 9); /* a refused write leaves the effects alone */
		return false;
	}
	return true;
}

static void test_cr0(void **state)
{
	struct x86_ctl_effects fx;
	struct x86_ctl c;

	assert_true(wr(&sky, &real_ctl, CTL_CR0, CR0_PM, &fx));
	assert_int_equal(fx.ctl.cr0, CR0_PM);
	assert_false(fx.mode_changed);
	/* reserved bits 31:0 are dropped, ET reads as 1 */
	assert_true(wr(&sky, &real_ctl, CTL_CR0, CR0_PE | 1u << 6 | 1u << 17, &fx));
	assert_int_equal(fx.ctl.cr0, CR0_PM);
	/* bits 63:32: #GP in 64-bit mode; elsewhere the operand has 32 bits */
	assert_false(wr(&sky, &long_ctl, CTL_CR0, CR0_LINUX | 1ull << 32, NULL));
	assert_true(wr(&sky, &pm_ctl, CTL_CR0, CR0_PM | 1ull << 32, &fx));
	assert_int_equal(fx.ctl.cr0, CR0_PM);
	assert_false(wr(&sky, &real_ctl, CTL_CR0, CR0_PG | CR0_ET, NULL)); /* PG without PE */
	assert_false(wr(&sky, &real_ctl, CTL_CR0, CR0_PM | CR0_NW, NULL)); /* NW without CD */
	assert_true(wr(&sky, &real_ctl, CTL_CR0, CR0_PM | CR0_NW | CR0_CD, NULL));
	/* paging off: refused in 64-bit mode and with PCIDE, taken in compatibility mode */
	assert_false(wr(&sky, &long_ctl, CTL_CR0, CR0_LINUX & ~CR0_PG, NULL));
	c = compat_ctl;
	c.cr4 |= CR4_PCIDE;
	assert_false(wr(&sky, &c, CTL_CR0, CR0_LINUX & ~CR0_PG, NULL));
	assert_true(wr(&sky, &compat_ctl, CTL_CR0, CR0_LINUX & ~CR0_PG, &fx));
	assert_int_equal(fx.ctl.efer, EFER_LINUX & ~EFER_LMA);
	assert_true(fx.mode_changed);
	assert_true(fx.flush);
	/* paging on with LME: needs PAE, then sets LMA */
	c = (struct x86_ctl){ CR0_PM, 0x1000, 0, EFER_LME, 0 };
	assert_false(wr(&sky, &c, CTL_CR0, CR0_PM | CR0_PG, NULL));
	c.cr4 = CR4_PAE;
	assert_true(wr(&sky, &c, CTL_CR0, CR0_PM | CR0_PG, &fx));
	assert_int_equal(fx.ctl.efer, EFER_LME | EFER_LMA);
	assert_int_equal(x86_paging_mode(&fx.ctl), PAGING_4LEVEL);
	assert_true(fx.mode_changed);
	assert_false(fx.load_pdptes);
	/* PAE paging without LME: the PDPTEs are loaded, LMA stays clear */
	c.efer = 0;
	assert_true(wr(&sky, &c, CTL_CR0, CR0_PM | CR0_PG, &fx));
	assert_int_equal(x86_paging_mode(&fx.ctl), PAGING_PAE);
	assert_int_equal(fx.ctl.efer, 0);
	assert_true(fx.load_pdptes);
	/* a change that leaves paging alone: no flush, no mode change */
	assert_true(wr(&sky, &long_ctl, CTL_CR0, CR0_LINUX | CR0_TS, &fx));
	assert_false(fx.flush);
	assert_false(fx.mode_changed);
	assert_true(wr(&sky, &long_ctl, CTL_CR0, CR0_LINUX & ~CR0_WP, &fx));
	assert_true(fx.flush);
}

static void test_cr4(void **state)
{
	struct x86_ctl_effects fx;
	struct x86_ctl c;

	assert_true(wr(&sky, &long_ctl, CTL_CR4, CR4_LINUX | CR4_SMEP | CR4_SMAP, NULL));
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, CR4_VMXE, NULL));
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, CR4_SMXE, NULL));
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, 1u << 15, NULL));	 /* reserved */
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, 1u << 11, NULL));	 /* UMIP: not offered */
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, 1u << 22, NULL));	 /* PKE: never */
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, CR4_LA57, NULL));
	assert_true(wr(&la57, &pm_ctl, CTL_CR4, CR4_LA57, NULL));
	assert_false(wr(&no_xsave, &pm_ctl, CTL_CR4, CR4_OSXSAVE, NULL));
	assert_true(wr(&sky, &pm_ctl, CTL_CR4, CR4_OSXSAVE, NULL));
	/* PCIDE: IA-32e mode only, and only with PCID 0 in CR3 */
	assert_false(wr(&sky, &pm_ctl, CTL_CR4, CR4_PCIDE, NULL));
	assert_true(wr(&sky, &long_ctl, CTL_CR4, CR4_LINUX | CR4_PCIDE, NULL));
	c = long_ctl;
	c.cr3 |= 5;
	assert_false(wr(&sky, &c, CTL_CR4, CR4_LINUX | CR4_PCIDE, NULL));
	c.cr4 |= CR4_PCIDE; /* already on: CR3 holds a PCID, and that is fine */
	assert_true(wr(&sky, &c, CTL_CR4, c.cr4, &fx));
	assert_false(fx.flush);
	assert_true(wr(&sky, &c, CTL_CR4, CR4_LINUX, &fx)); /* PCIDE off flushes */
	assert_true(fx.flush);
	/* IA-32e mode: PAE stays, LA57 stays */
	assert_false(wr(&sky, &long_ctl, CTL_CR4, CR4_LINUX & ~CR4_PAE, NULL));
	assert_false(wr(&la57, &long_ctl, CTL_CR4, CR4_LINUX | CR4_LA57, NULL));
	c = long_ctl;
	c.cr4 |= CR4_LA57;
	assert_false(wr(&la57, &c, CTL_CR4, CR4_LINUX, NULL));
	assert_true(wr(&la57, &c, CTL_CR4, c.cr4, &fx));
	assert_int_equal(x86_paging_mode(&fx.ctl), PAGING_5LEVEL);
	/* PGE toggled: flush; under PAE paging the PDPTEs reload */
	assert_true(wr(&sky, &long_ctl, CTL_CR4, CR4_LINUX & ~CR4_PGE, &fx));
	assert_true(fx.flush);
	assert_false(fx.load_pdptes);
	c = (struct x86_ctl){ CR0_PM | CR0_PG, 0x2000, CR4_PAE, 0, 0 };
	assert_true(wr(&sky, &c, CTL_CR4, CR4_PAE | CR4_PGE, &fx));
	assert_true(fx.flush);
	assert_true(fx.load_pdptes);
	assert_true(wr(&sky, &c, CTL_CR4, CR4_PAE | CR4_OSFXSR, &fx));
	assert_false(fx.load_pdptes);
	/* PAE off with paging on and no LME: back to 32-bit paging */
	assert_true(wr(&sky, &c, CTL_CR4, 0, &fx));
	assert_true(fx.mode_changed);
	assert_int_equal(x86_paging_mode(&fx.ctl), PAGING_32);
}

static void test_cr3_cr8_pdpte(void **state)
{
	struct x86_ctl_effects fx;
	struct x86_ctl c = long_ctl;

	assert_true(wr(&sky, &long_ctl, CTL_CR3, 1ull << 38, &fx));
	assert_true(fx.flush);
	assert_false(wr(&sky, &long_ctl, CTL_CR3, 1ull << 39, NULL)); /* MAXPHYADDR 39 */
	assert_false(wr(&sky, &long_ctl, CTL_CR3, CR3_NOFLUSH | 0x1000, NULL));
	c.cr4 |= CR4_PCIDE;
	assert_true(wr(&sky, &c, CTL_CR3, CR3_NOFLUSH | 0x1003, &fx));
	assert_int_equal(fx.ctl.cr3, 0x1003);
	assert_false(fx.flush);
	assert_true(wr(&sky, &c, CTL_CR3, 0x1003, &fx));
	assert_true(fx.flush);
	/* outside 64-bit mode the operand has 32 bits */
	c = (struct x86_ctl){ CR0_PM | CR0_PG, 0, CR4_PAE, 0, 0 };
	assert_true(wr(&sky, &c, CTL_CR3, 0xff00000000003000ull, &fx));
	assert_int_equal(fx.ctl.cr3, 0x3000);
	assert_true(fx.load_pdptes);

	assert_true(x86_cr8_ok(15));
	assert_false(x86_cr8_ok(16));
	assert_false(x86_cr8_ok(1ull << 63));

	assert_true(x86_pdpte_ok(&sky, 0x12345001));
	assert_true(x86_pdpte_ok(&sky, 0xfffffffffffffffe)); /* not present */
	assert_false(x86_pdpte_ok(&sky, 0x12345003));	      /* bit 1 */
	assert_false(x86_pdpte_ok(&sky, 0x12345021));	      /* bit 5 */
	assert_false(x86_pdpte_ok(&sky, 1ull << 39 | 1));
	assert_false(x86_pdpte_ok(&sky, 1ull << 63 | 1)); /* no XD in a PDPTE */
}

static void test_efer(void **state)
{
	struct x86_ctl_effects fx;
	struct x86_ctl c = pm_ctl;

	assert_true(wr(&sky, &pm_ctl, CTL_EFER, EFER_SCE | EFER_LME | EFER_NXE, NULL));
	assert_false(wr(&no_ext, &pm_ctl, CTL_EFER, EFER_NXE, NULL));
	assert_false(wr(&no_ext, &pm_ctl, CTL_EFER, EFER_SCE, NULL));
	assert_false(wr(&no_ext, &pm_ctl, CTL_EFER, EFER_LME, NULL));
	assert_true(wr(&no_ext, &pm_ctl, CTL_EFER, 0, NULL));
	assert_false(wr(&sky, &pm_ctl, CTL_EFER, 1u << 12, NULL)); /* SVME: AMD's, reserved */
	/* LMA written is ignored: the CPU keeps its own */
	assert_true(wr(&sky, &pm_ctl, CTL_EFER, EFER_LME | EFER_LMA, &fx));
	assert_int_equal(fx.ctl.efer, EFER_LME);
	assert_true(wr(&sky, &long_ctl, CTL_EFER, EFER_SCE | EFER_LME, &fx));
	assert_int_equal(fx.ctl.efer, EFER_SCE | EFER_LME | EFER_LMA);
	/* LME cannot change while paging is on */
	assert_false(wr(&sky, &long_ctl, CTL_EFER, EFER_SCE | EFER_NXE, NULL));
	c.cr0 |= CR0_PG;
	assert_false(wr(&sky, &c, CTL_EFER, EFER_LME, NULL));
	assert_true(wr(&sky, &c, CTL_EFER, EFER_NXE, NULL));
	/* the same rule through WRMSR */
	assert_false(x86_msr_ok(&sky, &c, MSR_IA32_EFER, EFER_LME));
	assert_true(x86_msr_ok(&sky, &c, MSR_IA32_EFER, EFER_NXE));
}

static void test_xcr0(void **state)
{
	assert_true(x86_xcr0_ok(&sky, XCR0_X87));
	assert_true(x86_xcr0_ok(&sky, XCR0_X87 | XCR0_SSE));
	assert_true(x86_xcr0_ok(&sky, XCR0_X87 | XCR0_SSE | XCR0_AVX));
	assert_false(x86_xcr0_ok(&sky, 0));
	assert_false(x86_xcr0_ok(&sky, XCR0_SSE));
	assert_false(x86_xcr0_ok(&sky, XCR0_X87 | XCR0_AVX));	  /* AVX needs SSE */
	assert_false(x86_xcr0_ok(&sky, 0xe7));			  /* AVX-512: not offered */
	assert_false(x86_xcr0_ok(&sky, XCR0_X87 | 1ull << 63)); /* reserved */
	assert_true(x86_xcr0_ok(&no_xsave, XCR0_X87));
	assert_false(x86_xcr0_ok(&no_xsave, XCR0_X87 | XCR0_SSE));
}

static void test_dr(void **state)
{
	uint64_t held;

	assert_true(x86_dr_write(&sky, 0, 0x8000000000000000ull, &held));
	assert_int_equal(held, 0x8000000000000000ull);
	assert_true(x86_dr_write(&sky, 6, 0, &held));
	assert_int_equal(held, 0xffff0ff0);
	assert_true(x86_dr_write(&sky, 6, 0xffffffff, &held));
	assert_int_equal(held, 0xffffeff0 | 0xf); /* bit 12 reads as 0 */
	assert_false(x86_dr_write(&sky, 6, 1ull << 32, &held));
	assert_true(x86_dr_write(&sky, 7, 0, &held));
	assert_int_equal(held, 0x400);
	/* bits 15:14 and 12 (and 11 without RTM) read as 0, bit 10 as 1 */
	assert_true(x86_dr_write(&sky, 7, 0xd802, &held));
	assert_int_equal(held, 0x402);
	assert_true(x86_dr_write(&rtm, 7, 0xd802, &held));
	assert_int_equal(held, 0xc02);
	assert_true(x86_dr_write(&sky, 7, 0x2000, &held)); /* GD */
	assert_int_equal(held, 0x2400);
	assert_false(x86_dr_write(&sky, 7, 1ull << 32 | 0x400, &held));
	assert_false(x86_dr_write(&sky, 4, 0, &held));
	assert_false(x86_dr_write(&sky, 8, 0, &held));
}

static void test_msrs(void **state)
{
	static const uint32_t addr_msrs[] = {
		MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, MSR_IA32_LSTAR, MSR_IA32_CSTAR,
		MSR_IA32_FS_BASE, MSR_IA32_GS_BASE, MSR_IA32_KERNEL_GS_BASE,
	};
	const struct x86_ctl *c = &long_ctl;

	for (size_t i = 0; i < ARRAY_SIZE(addr_msrs); i++) {
		assert_true(x86_msr_ok(&sky, c, addr_msrs[i], 0xffffffff81a00080ull));
		assert_true(x86_msr_ok(&sky, c, addr_msrs[i], 0x00007fffffffffffull));
		assert_false(x86_msr_ok(&sky, c, addr_msrs[i], 0x0000800000000000ull));
		assert_false(x86_msr_ok(&sky, c, addr_msrs[i], 0x8000000000000000ull));
		assert_true(x86_msr_ok(&la57, c, addr_msrs[i], 0x0000800000000000ull));
		assert_false(x86_msr_ok(&la57, c, addr_msrs[i], 0x0100000000000000ull));
	}
	assert_true(x86_canonical(&la57, 0xff00000000000000ull));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_SYSENTER_CS, 0xffffffffffffffffull));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_STAR, 0xffffffffffffffffull));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_FMASK, 0xffffffff));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_FMASK, 1ull << 32));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_TSC_AUX, 0xffffffff));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_TSC_AUX, 1ull << 32));
	assert_false(x86_msr_ok(&no_ext, c, MSR_IA32_TSC_AUX, 0)); /* no RDTSCP: no MSR */
	assert_false(x86_msr_ok(&no_ext, c, MSR_IA32_LSTAR, 0));
	assert_false(x86_msr_ok(&no_ext, c, MSR_IA32_SYSENTER_CS, 0));
	/* PAT: UC WC WT WP WB UC- */
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_PAT, X86_PAT_DEFAULT));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_PAT, 0x0706050401000706ull));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_PAT, 0x0007040600070402ull));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_PAT, 0x0307040600070406ull));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_PAT, 0x0007040600070408ull));
	assert_false(x86_msr_ok(&no_ext, c, MSR_IA32_PAT, X86_PAT_DEFAULT));
	/* MTRRs */
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0xc06));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0xc02));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0xc07)); /* UC- is PAT's only */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0xe06)); /* bit 9 */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_DEF_TYPE, 0x1c06));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_FIX64K_00000, 0x0606060606060606ull));
	assert_true(x86_msr_ok(&sky, c, 0x26f, 0x0500040100000605ull));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_FIX16K_A0000, 0x0706060606060606ull));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_FIX16K_80000, 0x0606060606060602ull));
	assert_false(x86_msr_ok(&sky, c, 0x251, 0)); /* between the fixed ranges: none */
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0, 0x80000000));	     /* UC */
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 14, 0x7fff000001)); /* WC */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0, 0x80000003));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0, 0x80000106)); /* bit 8 */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0, 1ull << 39 | 6));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 1, 0x7f80000800));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 15, 0x7f80000000));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 1, 0x7f80000801)); /* bit 0 */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 1, 0xff80000800));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRR_PHYSBASE0 + 16, 0)); /* 9th range */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MTRRCAP, X86_MTRRCAP)); /* read-only */
	/* MISC_ENABLE: fast strings and TCC are the guest's; the rest is fixed */
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x1801));
	assert_true(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x1808));
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x1800 | 1u << 22)); /* CPUID max */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x1800 | 1ull << 34)); /* XD off */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x1800 | 1u << 18));  /* MONITOR */
	assert_false(x86_msr_ok(&sky, c, MSR_IA32_MISC_ENABLE, 0x0801));	       /* PEBS */
	assert_false(x86_msr_ok(&sky, c, 0x12345678, 0));
}

static void test_rflags(void **state)
{
	assert_true(x86_rflags_ok(0x2));
	assert_true(x86_rflags_ok(0x246));
	assert_true(x86_rflags_ok(0x3f7fd7)); /* every defined flag */
	assert_false(x86_rflags_ok(0));
	assert_false(x86_rflags_ok(0x2 | 1u << 3));
	assert_false(x86_rflags_ok(0x2 | 1u << 5));
	assert_false(x86_rflags_ok(0x2 | 1u << 15));
	assert_false(x86_rflags_ok(0x2 | 1u << 22));
	assert_false(x86_rflags_ok(0x2 | 1ull << 63));
}

/* --- part 2: whole states --- */

#define ATTR(type, s, dpl, flags) \
	((type) | ((s) ? SEG_S : 0) | (dpl) << SEG_DPL_SHIFT | SEG_P | (flags))

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A 64-bit Linux kernel interrupted in its own code. */
static void linux64(const struct cpu_model *m, struct vcpu_state *s)
{
	x86_reset_power_on(m, s);
	s->rax = 0xffff888003c7a000ull;
	s->rsp = 0xffffc90000013f58ull;
	s->rip = 0xffffffff81c5f0a0ull;
	s->rflags = 0x246;
	s->cr0 = CR0_LINUX;
	s->cr2 = 0x7f12a4001000ull;
	s->cr3 = 0x10a000;
	s->cr4 = CR4_LINUX;
	s->xcr0 = XCR0_X87 | XCR0_SSE | XCR0_AVX;
	s->efer = EFER_LINUX;
	for (int i = 0; i < SEG_COUNT; i++)
		s->seg[i] = (struct seg_state){ .attr = SEG_UNUSABLE };
	s->seg[SEG_CS] = (struct seg_state){ 0, 0xffffffff, 0x10, ATTR(0xb, 1, 0, SEG_G | SEG_L) };
	s->seg[SEG_SS] = (struct seg_state){ 0, 0xffffffff, 0x18, ATTR(0x3, 1, 0, SEG_G | SEG_DB) };
	s->seg[SEG_GS].base = 0xffff88807dc00000ull;
	s->seg[SEG_TR] = (struct seg_state){ 0xfffffe0000003000ull, 0x4087, 0x40,
					     ATTR(0xb, 0, 0, 0) };
	s->gdtr = (struct dt_state){ 0xfffffe0000001000ull, 0x7f };
	s->idtr = (struct dt_state){ 0xfffffe0000000000ull, 0xfff };
	s->sysenter_cs = 0x10;
	s->sysenter_esp = 0xfffffe0000003000ull;
	s->sysenter_eip = 0xffffffff81e01580ull;
	s->star = 0x0023001000000000ull;
	s->lstar = 0xffffffff81e00080ull;
	s->cstar = 0xffffffff81e01520ull;
	s->sfmask = 0x47700;
	s->tsc_aux = 1;
	s->pat = 0x0407050600070106ull;
	s->mtrr_def_type = 0xc06;
	s->mtrr_fixed[0] = s->mtrr_fixed[1] = 0x0606060606060606ull;
	s->mtrr_var[0] = 0x80000000;   /* 2 GiB up: UC */
	s->mtrr_var[1] = 0x7f80000800; /* 2 GiB long, valid */
	s->tsc = 123456789;
	put64(s->xsave + XSAVE_HDR, XCR0_X87 | XCR0_SSE | XCR0_AVX);
}

static void power_on(const struct cpu_model *m, struct vcpu_state *s)
{
	x86_reset_power_on(m, s);
}

static void multiboot(const struct cpu_model *m, struct vcpu_state *s)
{
	x86_reset_multiboot(m, s, 0x100000, 0x9500);
}

static char err[200];

static void accepted(const struct cpu_model *m, const struct vcpu_state *s)
{
	int r = x86_state_check(m, s, err, sizeof(err));

	if (r)
		print_error("refused: %s\n", err);
	assert_int_equal(r, 0);
}

static void test_reset_states(void **state)
{
	struct vcpu_state s;
	uint32_t mxcsr;
	uint16_t fcw;

	x86_reset_power_on(&sky, &s);
	accepted(&sky, &s);
	accepted(&no_ext, &s);
	assert_int_equal(s.rdx, 0x000506e3);
	assert_int_equal(s.rip, 0xfff0);
	assert_int_equal(s.seg[SEG_CS].base, 0xffff0000);
	assert_int_equal(s.seg[SEG_CS].sel, 0xf000);
	assert_int_equal(s.seg[SEG_CS].limit, 0xffff);
	assert_int_equal(s.cr0, 0x60000010);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.xcr0, 1);
	assert_int_equal(s.pat, 0x0007040600070406ull);
	assert_int_equal(s.mtrr_def_type, 0);
	assert_int_equal(s.dr6, 0xffff0ff0);
	assert_int_equal(s.dr7, 0x400);
	assert_int_equal(s.gdtr.limit, 0xffff);
	assert_int_equal(s.idtr.limit, 0xffff);
	assert_int_equal(s.rflags, 2);
	memcpy(&mxcsr, s.xsave + 24, 4);
	memcpy(&fcw, s.xsave, 2);
	assert_int_equal(mxcsr, 0x1f80);
	assert_int_equal(fcw, 0x37f);

	x86_reset_multiboot(&sky, &s, 0x101000, 0x9500);
	accepted(&sky, &s);
	assert_int_equal(s.rax, 0x2badb002);
	assert_int_equal(s.rbx, 0x9500);
	assert_int_equal(s.rip, 0x101000);
	assert_int_equal(s.cr0 & (CR0_PE | CR0_PG), CR0_PE);
	assert_int_equal(s.rflags & RFLAGS_IF, 0);
	assert_int_equal(s.seg[SEG_CS].limit, 0xffffffff);
	assert_int_equal(s.seg[SEG_CS].attr & (SEG_DB | SEG_L), SEG_DB);
	assert_int_equal(s.seg[SEG_DS].base, 0);
	assert_int_equal(s.seg[SEG_SS].attr, s.seg[SEG_DS].attr);

	linux64(&sky, &s);
	accepted(&sky, &s);
}

/* States a CPU can hold that a careless check might refuse. */
static void test_unusual_but_valid(void **state)
{
	struct vcpu_state s;

	/* real mode with the data-type CS real mode leaves (unrestricted guest) */
	power_on(&sky, &s);
	s.seg[SEG_CS].attr = ATTR(0x3, 1, 0, 0);
	accepted(&sky, &s);
	/* protected mode just entered: CS still the real-mode one, SS DPL 0 */
	s.cr0 |= CR0_PE;
	accepted(&sky, &s);
	/* user mode in a 64-bit kernel */
	linux64(&sky, &s);
	s.seg[SEG_CS] = (struct seg_state){ 0, 0xffffffff, 0x33, ATTR(0xb, 1, 3, SEG_G | SEG_L) };
	s.seg[SEG_SS] = (struct seg_state){ 0, 0xffffffff, 0x2b, ATTR(0x3, 1, 3, SEG_G | SEG_DB) };
	s.rip = 0x401000;
	accepted(&sky, &s);
	/* compatibility mode: LMA with a 32-bit CS */
	s.seg[SEG_CS] = (struct seg_state){ 0, 0xffffffff, 0x23, ATTR(0xb, 1, 3, SEG_G | SEG_DB) };
	accepted(&sky, &s);
	/* virtual-8086 mode */
	multiboot(&sky, &s);
	s.rflags |= RFLAGS_VM;
	for (int i = SEG_ES; i <= SEG_GS; i++)
		s.seg[i] = (struct seg_state){ (uint64_t)0x1234 << 4, 0xffff, 0x1234, 0xf3 };
	s.seg[SEG_SS].attr = 0xf3;
	accepted(&sky, &s);
	/* legacy PAE paging, and 5-level paging on a model with LA57 */
	multiboot(&sky, &s);
	s.cr0 |= CR0_PG;
	s.cr4 = CR4_PAE;
	accepted(&sky, &s);
	linux64(&la57, &s);
	s.cr4 |= CR4_LA57;
	s.lstar = 0xff00000001000000ull;
	accepted(&la57, &s);
	/* HLT waiting, an external interrupt on its way */
	linux64(&sky, &s);
	s.activity = ACT_HLT;
	s.event = (struct vcpu_event){ .valid = 1, .type = EV_EXTINT, .vector = 0xec };
	accepted(&sky, &s);
	/* a page fault being delivered, an NMI latched */
	s.activity = ACT_ACTIVE;
	s.event = (struct vcpu_event){ 1, EV_HW_EXC, 14, 1, 0x6, 0 };
	s.nmi_pending = 1;
	s.interruptibility = INTR_MOVSS;
	accepted(&sky, &s);
	/* INT 0x80, INT3, INT1, an NMI under STI blocking */
	s.interruptibility = INTR_STI;
	s.event = (struct vcpu_event){ 1, EV_SW_INT, 0x80, 0, 0, 2 };
	accepted(&sky, &s);
	s.event = (struct vcpu_event){ 1, EV_SW_EXC, 3, 0, 0, 1 };
	accepted(&sky, &s);
	s.event = (struct vcpu_event){ 1, EV_PRIV_SW_EXC, 1, 0, 0, 1 };
	accepted(&sky, &s);
	s.event = (struct vcpu_event){ 1, EV_NMI, 2, 0, 0, 0 };
	accepted(&sky, &s);
	/* an invalid event's other fields are not looked at */
	s.event = (struct vcpu_event){ 0, 7, 99, 5, 0xffffffff, 99 };
	accepted(&sky, &s);
	/* a #UD in real mode carries no error code */
	power_on(&sky, &s);
	s.event = (struct vcpu_event){ 1, EV_HW_EXC, 6, 0, 0, 0 };
	accepted(&sky, &s);
}

/* Mutations: each breaks one rule of a valid state; the message must name the field. */
enum base { B_POWER, B_MB, B_LINUX };

#define S_CS s->seg[SEG_CS]
#define S_SS s->seg[SEG_SS]
#define S_DS s->seg[SEG_DS]
#define S_ES s->seg[SEG_ES]
#define S_FS s->seg[SEG_FS]
#define S_GS s->seg[SEG_GS]
#define S_TR s->seg[SEG_TR]
#define S_LDTR s->seg[SEG_LDTR]
#define TYPE(g, t) ((g).attr = ((g).attr & ~SEG_TYPE) | (t))
#define DPL(g, d) ((g).attr = ((g).attr & ~(3u << SEG_DPL_SHIFT)) | (d) << SEG_DPL_SHIFT)
#define EVENT(t, v, he, e, len) \
	(s->event.valid = 1, s->event.type = (t), s->event.vector = (v), \
	 s->event.has_error = (he), s->event.error = (e), s->event.insn_len = (len))

#define MUTATIONS(X)                                                                            \
	X(cr0_high, B_LINUX, "cr0: bits 63:32 set", s->cr0 |= 1ull << 32)                          \
	X(cr0_pg_no_pe, B_MB, "cr0: PG set without PE", s->cr0 = CR0_PG | CR0_ET)                 \
	X(cr0_nw_no_cd, B_MB, "cr0: NW set without CD", s->cr0 |= CR0_NW)                         \
	X(cr0_reserved, B_LINUX, "cr0: reserved bits 0x40 set", s->cr0 |= 1u << 6)                \
	X(cr0_no_et, B_MB, "cr0: ET clear", s->cr0 &= ~CR0_ET)                                    \
	X(cr3_maxphy, B_LINUX, "cr3 0x800010a000 sets bits at or above MAXPHYADDR 39",             \
	  s->cr3 |= 1ull << 39)                                                                   \
	X(cr4_vmxe, B_LINUX, "cr4: bit 13 (VMXE) is not offered", s->cr4 |= CR4_VMXE)             \
	X(cr4_smxe, B_MB, "cr4: bit 14 (SMXE) is not offered", s->cr4 |= CR4_SMXE)                \
	X(cr4_la57, B_MB, "cr4: bit 12 (LA57) is not offered", s->cr4 |= CR4_LA57)                \
	X(cr4_umip, B_MB, "cr4: bit 11 (UMIP) is not offered", s->cr4 |= 1u << 11)                \
	X(cr4_bit15, B_MB, "cr4: bit 15 is reserved", s->cr4 |= 1u << 15)                         \
	X(cr4_pke, B_MB, "cr4: bit 22 is reserved", s->cr4 |= 1u << 22)                           \
	X(cr4_no_pae, B_LINUX, "cr4: PAE clear in IA-32e mode", s->cr4 &= ~CR4_PAE)               \
	X(cr4_pcide_pm, B_MB, "cr4: PCIDE set outside IA-32e mode", s->cr4 |= CR4_PCIDE)          \
	X(efer_svme, B_LINUX, "efer: bit 12 is reserved", s->efer |= 1u << 12)                    \
	X(efer_lma_no_pg, B_MB, "efer: LMA set with paging off",                                 \
	  s->efer = EFER_LME | EFER_LMA; s->cr4 = CR4_PAE)                                        \
	X(efer_lma_no_lme, B_LINUX, "efer: LMA set without LME", s->efer &= ~EFER_LME)            \
	X(efer_no_lma, B_LINUX, "efer: LME set with paging on but LMA clear",                     \
	  s->efer &= ~EFER_LMA)                                                                   \
	X(xcr0_zero, B_LINUX, "xcr0: bit 0 (x87) is clear", s->xcr0 = 0)                          \
	X(xcr0_avx_no_sse, B_LINUX, "xcr0: AVX without SSE", s->xcr0 = XCR0_X87 | XCR0_AVX)       \
	X(xcr0_avx512, B_LINUX, "xcr0: component 5 is not offered", s->xcr0 = 0xe7)              \
	X(dr6_high, B_LINUX, "dr6 0x1ffff0ff0 sets bits 63:32", s->dr6 |= 1ull << 32)             \
	X(dr6_bit12, B_LINUX, "dr6 0xffff1ff0: its fixed bits read 0xffff0ff0",                   \
	  s->dr6 |= 1u << 12)                                                                     \
	X(dr6_bit4, B_LINUX, "dr6 0xffff0fe0: its fixed bits read 0xffff0ff0",                    \
	  s->dr6 &= ~0x10ull)                                                                     \
	X(dr7_high, B_LINUX, "dr7 0x100000400 sets bits 63:32", s->dr7 |= 1ull << 32)             \
	X(dr7_bit10, B_MB, "dr7 0x0: its fixed bits read 0x400", s->dr7 = 0)                      \
	X(dr7_bit14, B_MB, "dr7 0x4400: its fixed bits read 0x400", s->dr7 |= 1u << 14)           \
	X(dr7_bit15, B_MB, "dr7 0x8400: its fixed bits read 0x400", s->dr7 |= 1u << 15)           \
	X(lstar, B_LINUX, "lstar 0x8000000000000000 is not canonical",                            \
	  s->lstar = 0x8000000000000000ull)                                                       \
	X(lstar_48, B_LINUX, "lstar 0x800000000000 is not canonical",                             \
	  s->lstar = 0x0000800000000000ull)                                                       \
	X(cstar, B_LINUX, "cstar 0x8000000000000000 is not canonical",                            \
	  s->cstar = 0x8000000000000000ull)                                                       \
	X(kgsbase, B_LINUX, "kernel_gs_base 0xff00000000000000 is not canonical",                 \
	  s->kernel_gs_base = 0xff00000000000000ull)                                              \
	X(sysenter_esp, B_LINUX, "sysenter_esp 0x1000000000000 is not canonical",                 \
	  s->sysenter_esp = 1ull << 48)                                                           \
	X(sysenter_eip, B_MB, "sysenter_eip 0x7fffffffffffffff is not canonical",                 \
	  s->sysenter_eip = 0x7fffffffffffffffull)                                                \
	X(sfmask, B_LINUX, "sfmask 0x100047700 sets bits 63:32", s->sfmask |= 1ull << 32)         \
	X(tsc_aux, B_LINUX, "tsc_aux 0x100000001 sets bits 63:32", s->tsc_aux |= 1ull << 32)      \
	X(pat, B_LINUX, "pat 0x407050600070102 has type 0x2 in byte 0",                           \
	  s->pat = 0x0407050600070102ull)                                                         \
	X(pat_hi, B_MB, "pat 0x807040600070406 has type 0x8 in byte 7",                           \
	  s->pat = 0x0807040600070406ull)                                                         \
	X(misc_enable, B_LINUX, "misc_enable 0x401801 changes fixed bits 0x400000",               \
	  s->misc_enable |= 1u << 22)                                                             \
	X(misc_enable_bts, B_MB, "misc_enable 0x1001 changes fixed bits 0x800",                   \
	  s->misc_enable &= ~MISC_BTS_UNAVAIL)                                                    \
	X(mtrr_def, B_LINUX, "mtrr_def_type 0xc02 has type 0x2", s->mtrr_def_type = 0xc02)        \
	X(mtrr_def_res, B_LINUX, "mtrr_def_type 0x1c06 sets reserved bits 0x1000",                \
	  s->mtrr_def_type = 0x1c06)                                                              \
	X(mtrr_fixed, B_LINUX, "mtrr_fixed[3] 0x7 has type 0x7 in byte 0", s->mtrr_fixed[3] = 7)  \
	X(mtrr_base, B_LINUX, "mtrr_var[0] 0x80000003 has type 0x3",                              \
	  s->mtrr_var[0] = 0x80000003)                                                            \
	X(mtrr_base_res, B_LINUX, "mtrr_var[2] 0x106 sets reserved bits 0x100",                   \
	  s->mtrr_var[2] = 0x106)                                                                 \
	X(mtrr_mask, B_LINUX, "mtrr_var[1] 0xff80000800 sets reserved bits 0x8000000000",         \
	  s->mtrr_var[1] |= 1ull << 39)                                                           \
	X(mtrr_mask_low, B_LINUX, "mtrr_var[15] 0x1 sets reserved bits 0x1", s->mtrr_var[15] = 1) \
	X(rflags_bit3, B_LINUX, "rflags 0x24e: reserved bits", s->rflags |= 1u << 3)              \
	X(rflags_bit1, B_MB, "rflags 0x0: reserved bits", s->rflags = 0)                          \
	X(rflags_high, B_LINUX, "rflags 0x400246: reserved bits", s->rflags |= 1u << 22)          \
	X(rflags_vm_lm, B_LINUX, "rflags: VM set in IA-32e mode", s->rflags |= RFLAGS_VM)         \
	X(rflags_vm_real, B_POWER, "rflags: VM set in real mode", s->rflags |= RFLAGS_VM)         \
	X(cs_l_and_d, B_LINUX, "cs: L and D/B both set", S_CS.attr |= SEG_DB)                     \
	X(cs_data_64, B_LINUX, "cs: type 0x3 is not a code segment", TYPE(S_CS, 3))               \
	X(cs_data_1, B_MB, "cs: type 0x1 is not a code segment", TYPE(S_CS, 1))                   \
	X(cs_unaccessed, B_MB, "cs: type 0xa is not a code segment", TYPE(S_CS, 0xa))             \
	X(cs_dpl_ss, B_MB, "cs: DPL 0 differs from ss DPL 3", DPL(S_SS, 3))                       \
	X(cs_dpl_ss_64, B_LINUX, "cs: DPL 3 differs from ss DPL 0", DPL(S_CS, 3))                 \
	X(cs_conforming, B_MB, "cs: conforming, DPL 3 above ss DPL 0",                            \
	  TYPE(S_CS, 0xf); DPL(S_CS, 3))                                                          \
	X(cs_data_dpl, B_POWER, "cs: DPL 3 with the data type 0x3", TYPE(S_CS, 3); DPL(S_CS, 3))  \
	X(cs_unusable, B_LINUX, "cs: unusable", S_CS.attr |= SEG_UNUSABLE)                        \
	X(cs_not_present, B_MB, "cs: not present", S_CS.attr &= ~SEG_P)                           \
	X(cs_system, B_MB, "cs: S clear", S_CS.attr &= ~SEG_S)                                    \
	X(cs_base, B_MB, "cs: base 0x100000000 above 4 GiB", S_CS.base = 1ull << 32)              \
	X(cs_limit_g1, B_MB, "cs: limit 0xfffff000 impossible with G=1", S_CS.limit = 0xfffff000) \
	X(cs_limit_g0, B_POWER, "cs: limit 0x100000 impossible with G=0", S_CS.limit = 0x100000)  \
	X(ss_dpl_real, B_POWER, "ss: DPL 3 in real mode", DPL(S_SS, 3); DPL(S_CS, 3))             \
	X(ss_dpl_cs3, B_MB, "ss: DPL 3 with cs still of the data type 0x3",                       \
	  TYPE(S_CS, 3); DPL(S_SS, 3))                                                            \
	X(ss_code, B_MB, "ss: type 0xb is not a writable data segment", TYPE(S_SS, 0xb))          \
	X(ss_readonly, B_LINUX, "ss: type 0x1 is not a writable data segment", TYPE(S_SS, 1))     \
	X(ss_base, B_MB, "ss: base 0x100000000 above 4 GiB", S_SS.base = 1ull << 32)              \
	X(ds_unaccessed, B_MB, "ds: type 0x2 is not accessed", TYPE(S_DS, 2))                     \
	X(es_exec_only, B_MB, "es: type 0x9 is execute-only code", TYPE(S_ES, 9))                 \
	X(ds_system, B_MB, "ds: S clear", S_DS.attr &= ~SEG_S)                                    \
	X(gs_not_present, B_MB, "gs: not present", S_GS.attr &= ~SEG_P)                           \
	X(ds_limit_g0, B_MB, "ds: limit 0xffffffff impossible with G=0", S_DS.attr &= ~SEG_G)     \
	X(es_base, B_MB, "es: base 0x100000000 above 4 GiB", S_ES.base = 1ull << 32)              \
	X(fs_base, B_LINUX, "fs: base 0x8000000000000000 is not canonical",                       \
	  S_FS.base = 0x8000000000000000ull)                                                      \
	X(gs_base, B_LINUX, "gs: base 0xffff7fffffffffff is not canonical",                       \
	  S_GS.base = 0xffff7fffffffffffull)                                                      \
	X(ds_attr_high, B_MB, "ds: attributes 0x2c93 set bits above 12", S_DS.attr |= 1u << 13)   \
	X(tr_available, B_LINUX, "tr: type 0x9 is not a busy 64-bit TSS", TYPE(S_TR, 9))          \
	X(tr_16bit_64, B_LINUX, "tr: type 0x3 is not a busy 64-bit TSS", TYPE(S_TR, 3))           \
	X(tr_available_pm, B_MB, "tr: type 0x9 is not a busy TSS", TYPE(S_TR, 9))                 \
	X(tr_unusable, B_LINUX, "tr: unusable", S_TR.attr |= SEG_UNUSABLE)                        \
	X(tr_ti, B_LINUX, "tr: selector 0x44 has TI set", S_TR.sel |= 4)                          \
	X(tr_s, B_LINUX, "tr: S set", S_TR.attr |= SEG_S)                                         \
	X(tr_not_present, B_LINUX, "tr: not present", S_TR.attr &= ~SEG_P)                        \
	X(tr_base, B_LINUX, "tr: base 0xfffe7e0000003000 is not canonical",                       \
	  S_TR.base = 0xfffe7e0000003000ull)                                                      \
	X(tr_limit, B_LINUX, "tr: limit 0x4087 impossible with G=1", S_TR.attr |= SEG_G)          \
	X(ldtr_type, B_LINUX, "ldtr: type 0xb is not an LDT", S_LDTR.attr = ATTR(0xb, 0, 0, 0))   \
	X(ldtr_ti, B_POWER, "ldtr: selector 0x4 has TI set", S_LDTR.sel = 4)                      \
	X(ldtr_s, B_POWER, "ldtr: S set", S_LDTR.attr |= SEG_S)                                   \
	X(ldtr_base, B_POWER, "ldtr: base 0x8000000000000000 is not canonical",                   \
	  S_LDTR.base = 0x8000000000000000ull)                                                    \
	X(v86_segs, B_MB, "es: virtual-8086 mode wants base 0x100", s->rflags |= RFLAGS_VM)       \
	X(gdtr, B_LINUX, "gdtr: base 0xfffe7e0000001000 is not canonical",                        \
	  s->gdtr.base = 0xfffe7e0000001000ull)                                                   \
	X(idtr, B_MB, "idtr: base 0x800000000000 is not canonical", s->idtr.base = 1ull << 47)    \
	X(rip_64, B_LINUX, "rip 0x8000000000000000 is not canonical",                             \
	  s->rip = 0x8000000000000000ull)                                                         \
	X(rip_32, B_MB, "rip 0x100000000 above 4 GiB outside 64-bit mode", s->rip = 1ull << 32)  \
	X(rip_compat, B_LINUX, "rip 0xffffffff81c5f0a0 above 4 GiB outside 64-bit mode",          \
	  S_CS.attr ^= SEG_L | SEG_DB)                                                            \
	X(intr_sti_if0, B_LINUX, "interruptibility: STI blocking with RFLAGS.IF clear",           \
	  s->rflags &= ~RFLAGS_IF; s->interruptibility = INTR_STI)                                \
	X(intr_both, B_LINUX, "interruptibility: STI and MOV-SS blocking both set",               \
	  s->interruptibility = INTR_STI | INTR_MOVSS)                                            \
	X(intr_smi, B_LINUX, "interruptibility 0x4: only STI, MOV-SS and NMI blocking exist",    \
	  s->interruptibility = 4)                                                                \
	X(activity_2, B_LINUX, "activity 2 is neither active nor HLT", s->activity = 2)          \
	X(hlt_cpl3, B_LINUX, "activity: HLT at CPL 3",                                            \
	  DPL(S_CS, 3); DPL(S_SS, 3); s->activity = ACT_HLT)                                      \
	X(hlt_sti, B_LINUX, "activity: HLT under STI or MOV-SS blocking",                         \
	  s->activity = ACT_HLT; s->interruptibility = INTR_STI)                                  \
	X(hlt_gp, B_LINUX, "activity: HLT with an event of type 3 vector 13",                     \
	  s->activity = ACT_HLT; EVENT(EV_HW_EXC, 13, 1, 0, 0))                                   \
	X(ev_valid2, B_LINUX, "event: valid 2 is not 0 or 1", s->event.valid = 2)                 \
	X(ev_type1, B_LINUX, "event: type 1 is reserved", EVENT(1, 0x20, 0, 0, 0))                \
	X(ev_type7, B_LINUX, "event: type 7 is reserved", EVENT(7, 0, 0, 0, 0))                   \
	X(ev_type9, B_LINUX, "event: type 9 is reserved", EVENT(9, 0, 0, 0, 0))                   \
	X(ev_nmi_vector, B_LINUX, "event: vector 5 cannot be an NMI", EVENT(EV_NMI, 5, 0, 0, 0))  \
	X(ev_exc_vector, B_LINUX, "event: vector 32 cannot be a hardware exception",              \
	  EVENT(EV_HW_EXC, 32, 0, 0, 0))                                                          \
	X(ev_swexc_vector, B_LINUX, "event: vector 5 cannot be a software exception",             \
	  EVENT(EV_SW_EXC, 5, 0, 0, 1))                                                           \
	X(ev_privsw_vector, B_LINUX, "event: vector 3 cannot be a privileged software exception", \
	  EVENT(EV_PRIV_SW_EXC, 3, 0, 0, 1))                                                      \
	X(ev_gp_no_error, B_LINUX, "event: vector 13 pushes an error code",                       \
	  EVENT(EV_HW_EXC, 13, 0, 0, 0))                                                          \
	X(ev_ud_error, B_LINUX, "event: vector 6 has no error code", EVENT(EV_HW_EXC, 6, 1, 0, 0)) \
	X(ev_int_error, B_LINUX, "event: vector 128 has no error code",                           \
	  EVENT(EV_SW_INT, 0x80, 1, 0, 2))                                                        \
	X(ev_error_real, B_POWER, "event: vector 13 has no error code in real mode",              \
	  EVENT(EV_HW_EXC, 13, 1, 0, 0))                                                          \
	X(ev_has_error2, B_LINUX, "event: has_error 2 is not 0 or 1",                             \
	  EVENT(EV_HW_EXC, 14, 2, 0, 0))                                                          \
	X(ev_error_high, B_LINUX, "event: error code 0x10000 above 16 bits",                      \
	  EVENT(EV_HW_EXC, 14, 1, 0x10000, 0))                                                    \
	X(ev_len0, B_LINUX, "event: instruction length 0 outside 1-15",                           \
	  EVENT(EV_SW_INT, 0x80, 0, 0, 0))                                                        \
	X(ev_len16, B_MB, "event: instruction length 16 outside 1-15",                            \
	  EVENT(EV_SW_EXC, 3, 0, 0, 16))                                                          \
	X(ev_extint_if0, B_LINUX, "event: an external interrupt with RFLAGS.IF clear",            \
	  s->rflags &= ~RFLAGS_IF; EVENT(EV_EXTINT, 0x30, 0, 0, 0))                               \
	X(ev_extint_sti, B_LINUX, "event: an external interrupt under STI or MOV-SS blocking",    \
	  s->interruptibility = INTR_STI; EVENT(EV_EXTINT, 0x30, 0, 0, 0))                        \
	X(ev_nmi_movss, B_LINUX, "event: an NMI under MOV-SS blocking",                           \
	  s->interruptibility = INTR_MOVSS; EVENT(EV_NMI, 2, 0, 0, 0))                            \
	X(ev_nmi_blocked, B_LINUX, "event: an NMI while NMIs are blocked",                        \
	  s->interruptibility = INTR_NMI; EVENT(EV_NMI, 2, 0, 0, 0))                              \
	X(nmi_pending, B_LINUX, "nmi_pending 2 is not 0 or 1", s->nmi_pending = 2)                \
	X(xstate_bv, B_LINUX, "xsave: XSTATE_BV 0xf outside the model's components 0x7",          \
	  put64(s->xsave + XSAVE_HDR, 0xf))                                                       \
	X(xstate_bv_mb, B_MB, "xsave: XSTATE_BV 0x8000000000000003 outside the model's components 0x7", \
	  put64(s->xsave + XSAVE_HDR, 0x8000000000000003ull))                                     \
	X(xcomp_bv, B_LINUX, "xsave: XCOMP_BV 0x8000000000000007: only the standard format",     \
	  put64(s->xsave + XSAVE_HDR + 8, 0x8000000000000007ull))                                 \
	X(xsave_hdr, B_LINUX, "xsave: header byte 20 is not zero", s->xsave[XSAVE_HDR + 20] = 1)  \
	X(xsave_hdr_last, B_MB, "xsave: header byte 63 is not zero", s->xsave[XSAVE_HDR + 63] = 1) \
	X(mxcsr, B_LINUX, "xsave: MXCSR 0x11f80 sets reserved bits", s->xsave[26] = 1)

#define DEFINE_MUTATION(name, base, msg, ...) \
	static void mut_##name(struct vcpu_state *s) { __VA_ARGS__; }
MUTATIONS(DEFINE_MUTATION)

static const struct mutation {
	const char *name;
	enum base base;
	void (*mutate)(struct vcpu_state *s);
	const char *msg;
} mutations[] = {
#define MUTATION_ROW(name, base, msg, ...) { #name, base, mut_##name, msg },
	MUTATIONS(MUTATION_ROW)
};

static void (*const bases[])(const struct cpu_model *, struct vcpu_state *) = {
	[B_POWER] = power_on, [B_MB] = multiboot, [B_LINUX] = linux64,
};

static void test_mutations(void **state)
{
	static struct vcpu_state s;
	int failed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(mutations); i++) {
		const struct mutation *t = &mutations[i];

		bases[t->base](&sky, &s);
		accepted(&sky, &s);
		t->mutate(&s);
		memset(err, 0, sizeof(err));
		if (x86_state_check(&sky, &s, err, sizeof(err)) != -E_INVAL ||
		    !strstr(err, t->msg)) {
			print_error("%s: got \"%s\", want \"%s\"\n", t->name, err, t->msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* What a model lacks, a state may hold only at its reset value. */
static void test_model_limits(void **state)
{
	static struct vcpu_state s;

	multiboot(&no_ext, &s);
	accepted(&no_ext, &s);
	s.tsc_aux = 5;
	assert_int_equal(x86_state_check(&no_ext, &s, err, sizeof(err)), -E_INVAL);
	assert_string_equal(err, "tsc_aux 0x5: the model has no such MSR");
	multiboot(&no_ext, &s);
	s.pat = 0x0007040600070407ull;
	assert_int_equal(x86_state_check(&no_ext, &s, err, sizeof(err)), -E_INVAL);
	assert_non_null(strstr(err, "pat 0x7040600070407: the model has no such MSR"));
	multiboot(&no_ext, &s);
	s.efer = EFER_NXE;
	assert_int_equal(x86_state_check(&no_ext, &s, err, sizeof(err)), -E_INVAL);
	assert_string_equal(err, "efer: bit 11 (NXE) is not offered");

	linux64(&sky, &s);
	assert_int_equal(x86_state_check(&no_xsave, &s, err, sizeof(err)), -E_INVAL);
	assert_string_equal(err, "cr4: bit 18 (OSXSAVE) is not offered");
	/* 57-bit addresses only where the model has LA57 */
	linux64(&sky, &s);
	s.lstar = 0x0000800000000000ull;
	assert_int_equal(x86_state_check(&la57, &s, err, sizeof(err)), 0);
	assert_int_equal(x86_state_check(&sky, &s, err, sizeof(err)), -E_INVAL);
	/* DR7.RTM is held only with RTM */
	linux64(&sky, &s);
	s.dr7 |= 1u << 11;
	assert_int_equal(x86_state_check(&rtm, &s, err, sizeof(err)), 0);
	assert_int_equal(x86_state_check(&sky, &s, err, sizeof(err)), -E_INVAL);
	assert_non_null(strstr(err, "dr7"));
}

/* The message is cut to the buffer, and a zero-sized one is never written. */
static void test_err_buffer(void **state)
{
	static struct vcpu_state s;
	char small[8];

	linux64(&sky, &s);
	s.lstar = 0x8000000000000000ull;
	memset(small, 'x', sizeof(small));
	assert_int_equal(x86_state_check(&sky, &s, small, sizeof(small)), -E_INVAL);
	assert_string_equal(small, "lstar 0");
	small[0] = 'x';
	assert_int_equal(x86_state_check(&sky, &s, small, 0), -E_INVAL);
	assert_int_equal(small[0], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cr0),
		cmocka_unit_test(test_cr4),
		cmocka_unit_test(test_cr3_cr8_pdpte),
		cmocka_unit_test(test_efer),
		cmocka_unit_test(test_xcr0),
		cmocka_unit_test(test_dr),
		cmocka_unit_test(test_msrs),
		cmocka_unit_test(test_rflags),
		cmocka_unit_test(test_reset_states),
		cmocka_unit_test(test_unusual_but_valid),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_model_limits),
		cmocka_unit_test(test_err_buffer),
	};
	return cmocka_run_group_tests(tests, setup_models, NULL);
}
