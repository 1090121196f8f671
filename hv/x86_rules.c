/* What a guest may write to control registers, debug registers, XCR0 and MSRs on a CPU
 * with a given model, and what the write does. The rules that say whether a value can be
 * held at all are shared with the whole-state check (hv/x86_state.c) through
 * hv/x86_rules_int.h; each can explain a refusal for that check's messages. */
#include "hv/lib/fmt.h"
#include "hv/x86_rules_int.h"

bool x86_no(struct x86_why *w, const char *fmt, ...)
{
	va_list ap;

	if (w) {
		va_start(ap, fmt);
		fmt_vsnprintf(w->buf, sizeof(w->buf), fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool offered(const struct cpu_model *m, uint64_t feature)
{
	return feature == ALWAYS || (feature != NEVER && cpu_has(m, feature));
}

/* Bits at and above MAXPHYADDR, which no physical address may set. */
static uint64_t above_phys(const struct cpu_model *m)
{
	return ~0ull << cpu_maxphyaddr(m);
}

bool x86_canonical(const struct cpu_model *m, uint64_t addr)
{
	unsigned shift = 64 - cpu_maxlinaddr(m);

	return (uint64_t)((int64_t)(addr << shift) >> shift) == addr;
}

bool x86_rflags_ok(uint64_t rflags)
{
	/* SDM Vol. 3A 2.3: bits 3, 5, 15 and 63:22 are reserved as 0, bit 1 as 1. */
	return (rflags & (~0ull << 22 | 1u << 15 | 1u << 5 | 1u << 3)) == 0 &&
	       (rflags & RFLAGS_FIXED1);
}

enum x86_paging x86_paging_mode(const struct x86_ctl *c)
{
	if (!(c->cr0 & CR0_PG))
		return PAGING_OFF;
	if (!(c->cr4 & CR4_PAE))
		return PAGING_32;
	if (!(c->efer & EFER_LMA))
		return PAGING_PAE;
	return c->cr4 & CR4_LA57 ? PAGING_5LEVEL : PAGING_4LEVEL;
}

static bool in_64bit_mode(const struct x86_ctl *c)
{
	return (c->efer & EFER_LMA) && c->cs_l;
}

/* --- control registers --- */

/* What CR0 can hold whatever it held before (SDM Vol. 3A 2.5; MOV to CR0 in Vol. 2B).
 * Writes of the reserved bits among 31:0 are ignored, not refused; x86_state_check
 * refuses them, since no CPU holds them. */
bool x86_cr0_valid(uint64_t v, struct x86_why *w)
{
	if (v >> 32)
		return x86_no(w, "bits 63:32 set");
	if ((v & CR0_PG) && !(v & CR0_PE))
		return x86_no(w, "PG set without PE");
	if ((v & CR0_NW) && !(v & CR0_CD))
		return x86_no(w, "NW set without CD");
	return true;
}

/* Each CR4 bit and the feature that makes it exist (SDM Vol. 3A 2.5, with the CPUID bit
 * each feature's chapter names). A bit not listed is reserved. PKE, CET, PKS and the
 * newer bits are never offered: struct vcpu_state has no room for the registers they
 * bring (PKRU, the CET MSRs). The guest sees no VMX or SMX. */
static const struct cr4_bit {
	uint8_t bit;
	const char *name;
	uint64_t feature;
} cr4_bits[] = {
	{ 0, "VME", F_VME },	   { 1, "PVI", F_VME },	       { 2, "TSD", F_TSC },
	{ 3, "DE", F_DE },	   { 4, "PSE", F_PSE },	       { 5, "PAE", F_PAE },
	{ 6, "MCE", F_MCE },	   { 7, "PGE", F_PGE },	       { 8, "PCE", ALWAYS },
	{ 9, "OSFXSR", F_FXSR },   { 10, "OSXMMEXCPT", F_SSE }, { 11, "UMIP", F_UMIP },
	{ 12, "LA57", F_LA57 },	   { 13, "VMXE", NEVER },      { 14, "SMXE", NEVER },
	{ 16, "FSGSBASE", F_FSGSBASE },			       { 17, "PCIDE", F_PCID },
	{ 18, "OSXSAVE", F_XSAVE }, { 20, "SMEP", F_SMEP },     { 21, "SMAP", F_SMAP },
};

static bool cr4_offered(const struct cpu_model *m, uint64_t v, struct x86_why *w)
{
	uint64_t allowed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cr4_bits); i++) {
		const struct cr4_bit *b = &cr4_bits[i];

		if (offered(m, b->feature))
			allowed |= 1ull << b->bit;
		else if (v >> b->bit & 1)
			return x86_no(w, "bit %u (%s) is not offered", b->bit, b->name);
	}
	if (v & ~allowed)
		return x86_no(w, "bit %d is reserved", __builtin_ctzll(v & ~allowed));
	return true;
}

uint64_t x86_cr4_offered(const struct cpu_model *m)
{
	uint64_t allowed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(cr4_bits); i++)
		if (offered(m, cr4_bits[i].feature))
			allowed |= 1ull << cr4_bits[i].bit;
	return allowed;
}

/* What CR4 can hold given EFER (SDM Vol. 3A 2.5, 5.10.1; MOV to CR4 in Vol. 2B). */
bool x86_cr4_valid(const struct cpu_model *m, uint64_t v, uint64_t efer, struct x86_why *w)
{
	if (!cr4_offered(m, v, w))
		return false;
	if ((v & CR4_PCIDE) && !(efer & EFER_LMA))
		return x86_no(w, "PCIDE set outside IA-32e mode");
	if (!(v & CR4_PAE) && (efer & EFER_LMA))
		return x86_no(w, "PAE clear in IA-32e mode");
	return true;
}

/* CR3 may not point above the physical-address width (SDM Vol. 3A 5.5, 27.3.1.1). */
bool x86_cr3_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w)
{
	if (v & above_phys(m))
		return x86_no(w, "sets bits at or above MAXPHYADDR %u", cpu_maxphyaddr(m));
	return true;
}

/* EFER bits and the feature behind each (SDM Vol. 3A 2.2.1, Vol. 4 Table 2-2). */
static const struct efer_bit {
	uint8_t bit;
	const char *name;
	uint64_t feature;
} efer_bits[] = {
	{ 0, "SCE", F_SYSCALL }, { 8, "LME", F_LM }, { 10, "LMA", F_LM }, { 11, "NXE", F_NX },
};

bool x86_efer_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w)
{
	uint64_t allowed = 0;

	for (size_t i = 0; i < ARRAY_SIZE(efer_bits); i++) {
		const struct efer_bit *b = &efer_bits[i];

		if (offered(m, b->feature))
			allowed |= 1ull << b->bit;
		else if (v >> b->bit & 1)
			return x86_no(w, "bit %u (%s) is not offered", b->bit, b->name);
	}
	if (v & ~allowed)
		return x86_no(w, "bit %d is reserved", __builtin_ctzll(v & ~allowed));
	return true;
}

static bool set_cr0(const struct cpu_model *m, const struct x86_ctl *c, uint64_t v,
		      struct x86_ctl_effects *fx)
{
	uint64_t old = c->cr0, cr0 = (v & CR0_DEFINED) | CR0_ET;
	struct x86_ctl *n = &fx->ctl;

	if (!x86_cr0_valid(v, NULL))
		return false;
	/* Paging goes off only from compatibility mode and with PCIDE clear (MOV to CR0,
	 * 64-bit mode exceptions); IA-32e mode comes on only with PAE (SDM 10.8.5). */
	if ((old & CR0_PG) && !(cr0 & CR0_PG) && ((c->cr4 & CR4_PCIDE) || in_64bit_mode(c)))
		return false;
	if (!(old & CR0_PG) && (cr0 & CR0_PG) && (c->efer & EFER_LME) && !(c->cr4 & CR4_PAE))
		return false;
	n->cr0 = cr0;
	/* With LME set, turning paging on or off enters or leaves IA-32e mode. */
	if (((old ^ cr0) & CR0_PG) && (c->efer & EFER_LME))
		n->efer = cr0 & CR0_PG ? c->efer | EFER_LMA : c->efer & ~EFER_LMA;
	/* SDM 5.10.4.1 asks a flush when PG goes off; tern also flushes when it comes on and
	 * when WP changes, a harmless superset. PAE paging reloads the PDPTEs when CD, NW
	 * or PG change (SDM 5.4.1). */
	fx->flush = ((old ^ cr0) & (CR0_PG | CR0_WP)) != 0;
	fx->load_pdptes = x86_paging_mode(n) == PAGING_PAE &&
			  ((old ^ cr0) & (CR0_CD | CR0_NW | CR0_PG));
	return true;
}

static bool set_cr3(const struct cpu_model *m, const struct x86_ctl *c, uint64_t v,
		      struct x86_ctl_effects *fx)
{
	/* With PCIDE, bit 63 asks to keep the PCID's translations and is not held
	 * (SDM 5.10.4.1). */
	bool pcide = c->cr4 & CR4_PCIDE, keep = pcide && (v & CR3_NOFLUSH);

	if (pcide)
		v &= ~CR3_NOFLUSH;
	if (!x86_cr3_valid(m, v, NULL))
		return false;
	fx->ctl.cr3 = v;
	fx->flush = !keep;
	fx->load_pdptes = x86_paging_mode(&fx->ctl) == PAGING_PAE;
	return true;
}

static bool set_cr4(const struct cpu_model *m, const struct x86_ctl *c, uint64_t v,
		      struct x86_ctl_effects *fx)
{
	uint64_t old = c->cr4, diff = old ^ v;

	if (!x86_cr4_valid(m, v, c->efer, NULL))
		return false;
	/* PCIDE comes on only with PCID 0 in CR3; LA57 stays as it is in IA-32e mode
	 * (MOV to CR4, Vol. 2B). */
	if ((v & ~old & CR4_PCIDE) && (c->cr3 & 0xfff))
		return false;
	if ((diff & CR4_LA57) && (c->efer & EFER_LMA))
		return false;
	fx->ctl.cr4 = v;
	/* SDM 5.10.4.1 (PGE, PAE, SMEP set, PCIDE cleared), plus PSE, SMAP and LA57. */
	fx->flush = (diff & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_LA57)) ||
		    (old & ~v & CR4_PCIDE);
	fx->load_pdptes = x86_paging_mode(&fx->ctl) == PAGING_PAE &&
			  (diff & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP));
	return true;
}

/* WRMSR to EFER: LME cannot change while paging is on (SDM 10.8.5); LMA is the CPU's to
 * set, a written value is ignored (SDM 2.2.1). */
static bool efer_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
		      uint64_t v, struct x86_why *w)
{
	if (!x86_efer_valid(m, v, w))
		return false;
	if (((v ^ c->efer) & EFER_LME) && (c->cr0 & CR0_PG))
		return x86_no(w, "changes LME while paging is on");
	return true;
}

static bool set_efer(const struct cpu_model *m, const struct x86_ctl *c, uint64_t v,
		       struct x86_ctl_effects *fx)
{
	if (!efer_rule(m, c, MSR_IA32_EFER, v, NULL))
		return false;
	fx->ctl.efer = (v & ~EFER_LMA) | (c->efer & EFER_LMA);
	return true;
}

bool x86_ctl_write(const struct cpu_model *m, const struct x86_ctl *c, enum x86_ctl_reg reg,
		   uint64_t val, struct x86_ctl_effects *fx)
{
	static bool (*const set[])(const struct cpu_model *, const struct x86_ctl *, uint64_t,
				     struct x86_ctl_effects *) = {
		[CTL_CR0] = set_cr0, [CTL_CR3] = set_cr3, [CTL_CR4] = set_cr4,
		[CTL_EFER] = set_efer,
	};
	struct x86_ctl_effects out = { .ctl = *c };

	if ((unsigned)reg >= ARRAY_SIZE(set))
		return false;
	if (reg != CTL_EFER && !in_64bit_mode(c))
		val = (uint32_t)val;
	if (!set[reg](m, c, val, &out))
		return false;
	out.mode_changed = x86_paging_mode(c) != x86_paging_mode(&out.ctl);
	out.flush |= out.mode_changed;
	*fx = out;
	return true;
}

bool x86_pdpte_ok(const struct cpu_model *m, uint64_t e)
{
	/* SDM Vol. 3A 5.4.1, Table 5-8: bits 2:1, 8:5 and those from MAXPHYADDR up are
	 * reserved in a present entry. */
	return !(e & 1) || !(e & (0x1e6ull | above_phys(m)));
}

bool x86_cr8_ok(uint64_t val)
{
	return val <= 15; /* MOV to CR8, Vol. 2B: bits 63:4 are reserved */
}

/* --- XCR0 and the debug registers --- */

bool x86_xcr0_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w)
{
	uint64_t avx512 = 0xe0, amx = 3ull << 17, mpx = 3ull << 3, extra;

	/* XSETBV (Vol. 2D) and SDM Vol. 1 13.3: x87 always, AVX over SSE, whole groups. */
	if (!(v & XCR0_X87))
		return x86_no(w, "bit 0 (x87) is clear");
	extra = v & ~cpu_xcr0_mask(m);
	if (extra)
		return x86_no(w, "component %d is not offered", __builtin_ctzll(extra));
	if ((v & XCR0_AVX) && !(v & XCR0_SSE))
		return x86_no(w, "AVX without SSE");
	if ((v & mpx) && (v & mpx) != mpx)
		return x86_no(w, "only one of the MPX components");
	if ((v & avx512) && ((v & avx512) != avx512 || !(v & XCR0_AVX)))
		return x86_no(w, "AVX-512 components partly set or without AVX");
	if ((v & amx) && (v & amx) != amx)
		return x86_no(w, "only one of the AMX components");
	return true;
}

bool x86_xcr0_ok(const struct cpu_model *m, uint64_t val)
{
	return x86_xcr0_valid(m, val, NULL);
}

/* DR6 and DR7 bits that hold what is written; the others read as fixed values (SDM Vol.
 * 3B 19.2, "Debug Registers": DR6 bits 4-11 and 16-31 read as 1, bit 12 as 0; DR7 bit 10
 * reads as 1, bits 11, 12, 14 and 15 as 0; writes to them are ignored, only bits 63:32
 * fault), except DR6.BLD, DR6.RTM and DR7.RTM when the model offers bus-lock detection
 * or RTM. */
static uint64_t dr6_live(const struct cpu_model *m)
{
	return 0xe00f | (cpu_has(m, F_RTM) ? 1u << 16 : 0) | (cpu_has(m, F_BLD) ? 1u << 11 : 0);
}

static uint64_t dr7_live(const struct cpu_model *m)
{
	return 0xffff23ff | (cpu_has(m, F_RTM) ? 1u << 11 : 0);
}

uint64_t x86_dr6_held(const struct cpu_model *m, uint64_t v)
{
	return (v & dr6_live(m)) | (DR6_RESET & ~dr6_live(m));
}

uint64_t x86_dr7_held(const struct cpu_model *m, uint64_t v)
{
	return (v & dr7_live(m)) | DR7_RESET;
}

bool x86_dr_write(const struct cpu_model *m, unsigned n, uint64_t val, uint64_t *held)
{
	switch (n) {
	case 0: case 1: case 2: case 3:
		*held = val; /* any address: a breakpoint on it simply never matches */
		return true;
	case 6: case 7:
		if (val >> 32) /* MOV to DR, 64-bit mode exceptions (Vol. 2B) */
			return false;
		*held = n == 6 ? x86_dr6_held(m, val) : x86_dr7_held(m, val);
		return true;
	default:
		return false;
	}
}

/* --- MSRs --- */

static bool any_value(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
		      uint64_t v, struct x86_why *w)
{
	return true;
}

/* WRMSR of an address MSR takes only canonical addresses (SDM Vol. 4 Table 2-2). */
static bool canonical_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
			   uint64_t v, struct x86_why *w)
{
	return x86_canonical(m, v) || x86_no(w, "is not canonical");
}

/* IA32_FMASK and IA32_TSC_AUX keep bits 63:32 reserved. */
static bool low32_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
		       uint64_t v, struct x86_why *w)
{
	return !(v >> 32) || x86_no(w, "sets bits 63:32");
}

uint64_t x86_misc_enable_fixed(const struct cpu_model *m)
{
	return MISC_BTS_UNAVAIL | MISC_PEBS_UNAVAIL | (cpu_has(m, F_MONITOR) ? MISC_MONITOR : 0);
}

/* IA32_MISC_ENABLE: the bits that would change what CPUID says (MONITOR, the CPUID limit,
 * XD disable) stay as the model has them; those a VM cannot feel (fast strings, the
 * thermal control circuit) are the guest's. */
static bool misc_enable_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
			     uint64_t v, struct x86_why *w)
{
	uint64_t fixed = v & ~(MISC_FAST_STRINGS | MISC_TCC);

	if (fixed != x86_misc_enable_fixed(m))
		return x86_no(w, "changes fixed bits 0x%llx",
			      (unsigned long long)(fixed ^ x86_misc_enable_fixed(m)));
	return true;
}

/* Memory types by encoding: MTRRs take UC, WC, WT, WP, WB (SDM 12.11.2); PAT also UC-
 * (SDM 12.12.2). */
static bool type_ok(unsigned t, unsigned valid)
{
	return t < 8 && (valid >> t & 1);
}

#define MTRR_TYPES 0x73
#define PAT_TYPES 0xf3

static bool types_rule(uint64_t v, unsigned valid, struct x86_why *w)
{
	for (int i = 0; i < 8; i++)
		if (!type_ok((v >> (8 * i)) & 0xff, valid))
			return x86_no(w, "has type 0x%x in byte %d",
				      (unsigned)((v >> (8 * i)) & 0xff), i);
	return true;
}

static bool pat_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
		     uint64_t v, struct x86_why *w)
{
	return types_rule(v, PAT_TYPES, w);
}

static bool mtrr_fixed_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
			    uint64_t v, struct x86_why *w)
{
	return types_rule(v, MTRR_TYPES, w);
}

static bool reserved(uint64_t v, uint64_t mask, struct x86_why *w)
{
	return !(v & mask) ||
	       x86_no(w, "sets reserved bits 0x%llx", (unsigned long long)(v & mask));
}

/* IA32_MTRR_DEF_TYPE: type in 7:0, FE 10, E 11 (SDM 12.11.2.1). */
static bool mtrr_def_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
			  uint64_t v, struct x86_why *w)
{
	if (!reserved(v, ~0xcffull, w))
		return false;
	return type_ok(v & 0xff, MTRR_TYPES) || x86_no(w, "has type 0x%x", (unsigned)(v & 0xff));
}

/* Variable ranges: PHYSBASE has the type in 7:0, PHYSMASK the valid flag in 11; the
 * address bits end at MAXPHYADDR (SDM 12.11.2.3). */
static bool mtrr_var_rule(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
			  uint64_t v, struct x86_why *w)
{
	bool base = !(msr & 1);

	if (!reserved(v, above_phys(m) | (base ? 0xf00 : 0x7ff), w))
		return false;
	return !base || type_ok(v & 0xff, MTRR_TYPES) ||
	       x86_no(w, "has type 0x%x", (unsigned)(v & 0xff));
}

static const struct msr_rule {
	uint32_t first, last;
	uint64_t feature; /* what makes the MSR exist */
	bool (*valid)(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr,
		      uint64_t v, struct x86_why *w);
} msr_rules[] = {
	{ MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_CS, F_SEP, any_value },
	{ MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP, F_SEP, canonical_rule },
	{ MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE, ALWAYS, misc_enable_rule },
	{ MSR_IA32_MTRR_PHYSBASE0, MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_VAR - 1, F_MTRR,
	  mtrr_var_rule },
	{ MSR_IA32_MTRR_FIX64K_00000, MSR_IA32_MTRR_FIX64K_00000, F_MTRR, mtrr_fixed_rule },
	{ MSR_IA32_MTRR_FIX16K_80000, MSR_IA32_MTRR_FIX16K_A0000, F_MTRR, mtrr_fixed_rule },
	{ MSR_IA32_MTRR_FIX4K_C0000, MSR_IA32_MTRR_FIX4K_C0000 + 7, F_MTRR, mtrr_fixed_rule },
	{ MSR_IA32_PAT, MSR_IA32_PAT, F_PAT, pat_rule },
	{ MSR_IA32_MTRR_DEF_TYPE, MSR_IA32_MTRR_DEF_TYPE, F_MTRR, mtrr_def_rule },
	{ MSR_IA32_EFER, MSR_IA32_EFER, ALWAYS, efer_rule },
	{ MSR_IA32_STAR, MSR_IA32_STAR, F_LM, any_value },
	{ MSR_IA32_LSTAR, MSR_IA32_CSTAR, F_LM, canonical_rule },
	{ MSR_IA32_FMASK, MSR_IA32_FMASK, F_LM, low32_rule },
	{ MSR_IA32_FS_BASE, MSR_IA32_KERNEL_GS_BASE, F_LM, canonical_rule },
	{ MSR_IA32_TSC_AUX, MSR_IA32_TSC_AUX, F_RDTSCP, low32_rule },
};

/* 1: valid; 0: refused (w says why); -1: the model has no such MSR. */
int x86_msr_valid(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr, uint64_t v,
		  struct x86_why *w)
{
	for (size_t i = 0; i < ARRAY_SIZE(msr_rules); i++) {
		const struct msr_rule *r = &msr_rules[i];

		if (msr < r->first || msr > r->last)
			continue;
		if (!offered(m, r->feature))
			return -1;
		return r->valid(m, c, msr, v, w);
	}
	return -1;
}

bool x86_msr_ok(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr, uint64_t val)
{
	return x86_msr_valid(m, c, msr, val, NULL) == 1;
}

uint64_t x86_msr_reset(const struct cpu_model *m, uint32_t msr)
{
	if (msr == MSR_IA32_PAT)
		return X86_PAT_DEFAULT;
	if (msr == MSR_IA32_MISC_ENABLE)
		return MISC_FAST_STRINGS | x86_misc_enable_fixed(m);
	return 0;
}
