/* The whole-state check: every field of a struct vcpu_state against what a CPU with the
 * model could hold. It follows the SDM's checks on the guest-state area at VM entry (Vol.
 * 3C 27.3.1) read for an unrestricted guest, which tern always runs (real mode and paging
 * off are states like any other), and the checks on event injection (27.2.1.3); it adds
 * the value rules of every MSR (hv/x86_rules.c) and of the XSAVE area, so that loading
 * a state that passes can neither fail VM entry nor fault tern's own WRMSR or XRSTOR.
 * Each rule below is one small function; they run in order, the control registers
 * first, as later rules read the mode those registers select. */
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/x86_rules_int.h"

struct chk {
	const struct cpu_model *m;
	const struct vcpu_state *s;
	struct x86_ctl ctl;
	bool lma, pe, v86;
	char *err;
	size_t n;
};

#define ULL(x) ((unsigned long long)(x))

static bool bad(struct chk *k, const char *fmt, ...) __printf(2, 3);

static bool bad(struct chk *k, const char *fmt, ...)
{
	va_list ap;

	if (k->n) {
		va_start(ap, fmt);
		fmt_vsnprintf(k->err, k->n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* --- control registers, EFER, XCR0, debug registers (27.3.1.1) --- */

static bool check_cr0(struct chk *k)
{
	uint64_t v = k->s->cr0;
	struct x86_why w;

	if (!x86_cr0_valid(v, &w))
		return bad(k, "cr0: %s", w.buf);
	if (v & ~CR0_DEFINED)
		return bad(k, "cr0: reserved bits 0x%llx set", ULL(v & ~CR0_DEFINED));
	if (!(v & CR0_ET))
		return bad(k, "cr0: ET clear (it reads as 1)");
	return true;
}

static bool check_cr3(struct chk *k)
{
	struct x86_why w;

	return x86_cr3_valid(k->m, k->s->cr3, &w) ||
	       bad(k, "cr3 0x%llx %s", ULL(k->s->cr3), w.buf);
}

static bool check_cr4(struct chk *k)
{
	struct x86_why w;

	return x86_cr4_valid(k->m, k->s->cr4, k->s->efer, &w) || bad(k, "cr4: %s", w.buf);
}

/* LMA is IA-32e mode: paging on with LME set, and only then. */
static bool check_efer(struct chk *k)
{
	uint64_t efer = k->s->efer;
	bool pg = k->s->cr0 & CR0_PG;
	struct x86_why w;

	if (!x86_efer_valid(k->m, efer, &w))
		return bad(k, "efer: %s", w.buf);
	if (k->lma && !pg)
		return bad(k, "efer: LMA set with paging off");
	if (k->lma && !(efer & EFER_LME))
		return bad(k, "efer: LMA set without LME");
	if (pg && (efer & EFER_LME) && !k->lma)
		return bad(k, "efer: LME set with paging on but LMA clear");
	return true;
}

static bool check_xcr0(struct chk *k)
{
	uint64_t room = XCR0_X87 | XCR0_SSE | XCR0_AVX, v = k->s->xcr0;
	struct x86_why w;

	if (!x86_xcr0_valid(k->m, v, &w))
		return bad(k, "xcr0: %s", w.buf);
	if (v & ~room)
		return bad(k, "xcr0: component %d has no room in the XSAVE area",
			   __builtin_ctzll(v & ~room));
	return true;
}

/* DR0-DR3 hold any address; DR6 and DR7 only what MOV to DR leaves in them. */
static bool check_dr(struct chk *k)
{
	const struct {
		const char *name;
		uint64_t v, held;
	} dr[] = {
		{ "dr6", k->s->dr6, x86_dr6_held(k->m, k->s->dr6) },
		{ "dr7", k->s->dr7, x86_dr7_held(k->m, k->s->dr7) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(dr); i++) {
		if (dr[i].v >> 32)
			return bad(k, "%s 0x%llx sets bits 63:32", dr[i].name, ULL(dr[i].v));
		if (dr[i].v != dr[i].held)
			return bad(k, "%s 0x%llx: its fixed bits read 0x%llx", dr[i].name,
				   ULL(dr[i].v), ULL(dr[i].held));
	}
	return true;
}

/* --- MSRs: each value as WRMSR would take it --- */

static bool check_msr(struct chk *k, const char *name, uint32_t msr, uint64_t v)
{
	struct x86_why w;
	int r = x86_msr_valid(k->m, &k->ctl, msr, v, &w);

	if (r < 0 && v != x86_msr_reset(k->m, msr))
		return bad(k, "%s 0x%llx: the model has no such MSR", name, ULL(v));
	if (r == 0)
		return bad(k, "%s 0x%llx %s", name, ULL(v), w.buf);
	return true;
}

#define MSR_FIELD(f, msr) { #f, msr, offsetof(struct vcpu_state, f) }

static const struct msr_field {
	const char *name;
	uint32_t msr;
	uint16_t off;
} msr_fields[] = {
	MSR_FIELD(sysenter_cs, MSR_IA32_SYSENTER_CS),
	MSR_FIELD(sysenter_esp, MSR_IA32_SYSENTER_ESP),
	MSR_FIELD(sysenter_eip, MSR_IA32_SYSENTER_EIP),
	MSR_FIELD(star, MSR_IA32_STAR),
	MSR_FIELD(lstar, MSR_IA32_LSTAR),
	MSR_FIELD(cstar, MSR_IA32_CSTAR),
	MSR_FIELD(sfmask, MSR_IA32_FMASK),
	MSR_FIELD(kernel_gs_base, MSR_IA32_KERNEL_GS_BASE),
	MSR_FIELD(tsc_aux, MSR_IA32_TSC_AUX),
	MSR_FIELD(pat, MSR_IA32_PAT),
	MSR_FIELD(misc_enable, MSR_IA32_MISC_ENABLE),
	MSR_FIELD(mtrr_def_type, MSR_IA32_MTRR_DEF_TYPE),
};

/* struct vcpu_state's mtrr_fixed[] in order: 64K_00000, 16K_80000, 16K_A0000, 4K_C0000..F8000 */
static const uint32_t mtrr_fixed_msr[MTRR_FIXED] = {
	MSR_IA32_MTRR_FIX64K_00000, MSR_IA32_MTRR_FIX16K_80000, MSR_IA32_MTRR_FIX16K_A0000,
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
};

static bool check_msrs(struct chk *k)
{
	char name[20];

	for (size_t i = 0; i < ARRAY_SIZE(msr_fields); i++) {
		const struct msr_field *f = &msr_fields[i];
		uint64_t v;

		memcpy(&v, (const uint8_t *)k->s + f->off, sizeof(v));
		if (!check_msr(k, f->name, f->msr, v))
			return false;
	}
	for (unsigned i = 0; i < MTRR_FIXED; i++) {
		fmt_snprintf(name, sizeof(name), "mtrr_fixed[%u]", i);
		if (!check_msr(k, name, mtrr_fixed_msr[i], k->s->mtrr_fixed[i]))
			return false;
	}
	for (unsigned i = 0; i < 2 * MTRR_VAR; i++) {
		fmt_snprintf(name, sizeof(name), "mtrr_var[%u]", i);
		if (!check_msr(k, name, MSR_IA32_MTRR_PHYSBASE0 + i, k->s->mtrr_var[i]))
			return false;
	}
	return true;
}

/* --- RFLAGS (27.3.1.4) --- */

static bool check_rflags(struct chk *k)
{
	uint64_t v = k->s->rflags;

	if (!x86_rflags_ok(v))
		return bad(k, "rflags 0x%llx: reserved bits not as the CPU holds them", ULL(v));
	if ((v & RFLAGS_VM) && k->lma)
		return bad(k, "rflags: VM set in IA-32e mode");
	if ((v & RFLAGS_VM) && !k->pe)
		return bad(k, "rflags: VM set in real mode");
	return true;
}

/* --- segment registers (27.3.1.2) --- */

static const char *const seg_name[SEG_COUNT] = {
	[SEG_ES] = "es", [SEG_CS] = "cs", [SEG_SS] = "ss", [SEG_DS] = "ds",
	[SEG_FS] = "fs", [SEG_GS] = "gs", [SEG_LDTR] = "ldtr", [SEG_TR] = "tr",
};

static unsigned seg_type(const struct seg_state *g)
{
	return g->attr & SEG_TYPE;
}

static unsigned seg_dpl(const struct seg_state *g)
{
	return (g->attr >> SEG_DPL_SHIFT) & 3;
}

static bool seg_usable(const struct seg_state *g)
{
	return !(g->attr & SEG_UNUSABLE);
}

static bool seg_s(struct chk *k, int i, bool want)
{
	if (!!(k->s->seg[i].attr & SEG_S) == want)
		return true;
	return bad(k, want ? "%s: S clear: a system descriptor" :
			     "%s: S set: not a system descriptor", seg_name[i]);
}

/* Present, and G agreeing with the limit: a limit counted in pages ends in 0xfff, one
 * counted in bytes fits 20 bits. */
static bool seg_present_limit(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];
	bool gran = g->attr & SEG_G;

	if (!(g->attr & SEG_P))
		return bad(k, "%s: not present", seg_name[i]);
	if (gran ? (g->limit & 0xfff) != 0xfff : g->limit > 0xfffff)
		return bad(k, "%s: limit 0x%x impossible with G=%d", seg_name[i], g->limit, gran);
	return true;
}

static bool seg_base32(struct chk *k, int i)
{
	uint64_t base = k->s->seg[i].base;

	return !(base >> 32) || bad(k, "%s: base 0x%llx above 4 GiB", seg_name[i], ULL(base));
}

static bool seg_base_canonical(struct chk *k, int i)
{
	uint64_t base = k->s->seg[i].base;

	return x86_canonical(k->m, base) ||
	       bad(k, "%s: base 0x%llx is not canonical", seg_name[i], ULL(base));
}

/* CS: an accessed code segment, or the read/write data type real mode leaves behind
 * (unrestricted guest); its DPL agrees with SS's, which is the CPL. */
static bool check_cs(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i], *ss = &k->s->seg[SEG_SS];
	unsigned t = seg_type(g), dpl = seg_dpl(g);

	if (!seg_usable(g))
		return bad(k, "cs: unusable");
	if (!seg_s(k, i, true))
		return false;
	if ((t & 9) != 9 && !(t == 3 && !(g->attr & SEG_L)))
		return bad(k, "cs: type 0x%x is not a code segment", t);
	if (t == 3 && dpl)
		return bad(k, "cs: DPL %u with the data type 0x3", dpl);
	if ((t == 9 || t == 11) && dpl != seg_dpl(ss))
		return bad(k, "cs: DPL %u differs from ss DPL %u", dpl, seg_dpl(ss));
	if (t >= 13 && dpl > seg_dpl(ss))
		return bad(k, "cs: conforming, DPL %u above ss DPL %u", dpl, seg_dpl(ss));
	if (k->lma && (g->attr & SEG_L) && (g->attr & SEG_DB))
		return bad(k, "cs: L and D/B both set");
	return seg_base32(k, i) && seg_present_limit(k, i);
}

/* SS: its DPL is the CPL, 0 in real mode and until the far jump that loads a code
 * segment into CS; writable data. */
static bool check_ss(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];
	unsigned t = seg_type(g);

	if (seg_dpl(g) && !k->pe)
		return bad(k, "ss: DPL %u in real mode", seg_dpl(g));
	if (seg_dpl(g) && seg_type(&k->s->seg[SEG_CS]) == 3)
		return bad(k, "ss: DPL %u with cs still of the data type 0x3", seg_dpl(g));
	if (!seg_usable(g))
		return true;
	if (!seg_s(k, i, true))
		return false;
	if (t != 3 && t != 7)
		return bad(k, "ss: type 0x%x is not a writable data segment", t);
	return seg_base32(k, i) && seg_present_limit(k, i);
}

/* DS, ES, FS, GS: accessed, and readable when code. FS and GS keep a canonical base
 * even when unusable (it is the FS_BASE / GS_BASE MSR). */
static bool check_data(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];
	unsigned t = seg_type(g);
	bool fsgs = i == SEG_FS || i == SEG_GS;

	if (fsgs && !seg_base_canonical(k, i))
		return false;
	if (!seg_usable(g))
		return true;
	if (!seg_s(k, i, true))
		return false;
	if (!(t & 1))
		return bad(k, "%s: type 0x%x is not accessed", seg_name[i], t);
	if ((t & 8) && !(t & 2))
		return bad(k, "%s: type 0x%x is execute-only code", seg_name[i], t);
	return (fsgs || seg_base32(k, i)) && seg_present_limit(k, i);
}

static bool check_ldtr(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];

	if (!seg_usable(g))
		return true;
	if (g->sel & 4)
		return bad(k, "ldtr: selector 0x%x has TI set", g->sel);
	if (!seg_s(k, i, false))
		return false;
	if (seg_type(g) != 2)
		return bad(k, "ldtr: type 0x%x is not an LDT", seg_type(g));
	return seg_base_canonical(k, i) && seg_present_limit(k, i);
}

/* TR: always usable, a busy TSS; only the 32-bit (64-bit) kind in IA-32e mode. */
static bool check_tr(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];
	unsigned t = seg_type(g);

	if (!seg_usable(g))
		return bad(k, "tr: unusable");
	if (g->sel & 4)
		return bad(k, "tr: selector 0x%x has TI set", g->sel);
	if (!seg_s(k, i, false))
		return false;
	if (t != 11 && (t != 3 || k->lma))
		return bad(k, k->lma ? "tr: type 0x%x is not a busy 64-bit TSS" :
				       "tr: type 0x%x is not a busy TSS", t);
	return seg_base_canonical(k, i) && seg_present_limit(k, i);
}

/* Virtual-8086 mode: every segment is base = selector * 16, 64 KiB, DPL 3 data. */
static bool check_v86(struct chk *k, int i)
{
	const struct seg_state *g = &k->s->seg[i];

	if (g->base != (uint64_t)g->sel << 4 || g->limit != 0xffff || g->attr != 0xf3)
		return bad(k, "%s: virtual-8086 mode wants base 0x%x, limit 0xffff, "
			   "attributes 0xf3", seg_name[i], (unsigned)g->sel << 4);
	return true;
}

static bool (*const seg_rules[SEG_COUNT])(struct chk *, int) = {
	[SEG_ES] = check_data, [SEG_CS] = check_cs,	[SEG_SS] = check_ss,
	[SEG_DS] = check_data, [SEG_FS] = check_data,	[SEG_GS] = check_data,
	[SEG_LDTR] = check_ldtr, [SEG_TR] = check_tr,
};

static bool check_segs(struct chk *k)
{
	for (int i = 0; i < SEG_COUNT; i++) {
		uint16_t attr = k->s->seg[i].attr;
		bool v86 = k->v86 && i != SEG_LDTR && i != SEG_TR;

		if (attr & ~SEG_ATTR_MASK)
			return bad(k, "%s: attributes 0x%x set bits above 12", seg_name[i], attr);
		if (!(v86 ? check_v86 : seg_rules[i])(k, i))
			return false;
	}
	return true;
}

/* --- descriptor tables (27.3.1.3), RIP (27.3.1.4) --- */

static bool check_dt(struct chk *k)
{
	if (!x86_canonical(k->m, k->s->gdtr.base))
		return bad(k, "gdtr: base 0x%llx is not canonical", ULL(k->s->gdtr.base));
	if (!x86_canonical(k->m, k->s->idtr.base))
		return bad(k, "idtr: base 0x%llx is not canonical", ULL(k->s->idtr.base));
	return true;
}

static bool check_rip(struct chk *k)
{
	uint64_t rip = k->s->rip;

	if (k->lma && k->ctl.cs_l)
		return x86_canonical(k->m, rip) || bad(k, "rip 0x%llx is not canonical", ULL(rip));
	return !(rip >> 32) || bad(k, "rip 0x%llx above 4 GiB outside 64-bit mode", ULL(rip));
}

/* --- interruptibility, activity, the event being delivered (27.3.1.5, 27.2.1.3) --- */

static bool check_intr(struct chk *k)
{
	uint32_t v = k->s->interruptibility;

	/* SMI blocking (bit 2) needs SMM, enclave interruption (bit 4) SGX: neither here. */
	if (v & ~(INTR_STI | INTR_MOVSS | INTR_NMI))
		return bad(k, "interruptibility 0x%x: only STI, MOV-SS and NMI blocking exist", v);
	if ((v & INTR_STI) && (v & INTR_MOVSS))
		return bad(k, "interruptibility: STI and MOV-SS blocking both set");
	if ((v & INTR_STI) && !(k->s->rflags & RFLAGS_IF))
		return bad(k, "interruptibility: STI blocking with RFLAGS.IF clear");
	return true;
}

/* In HLT only what wakes the CPU can be on its way: interrupts, NMIs, #DB and #MC. */
static bool wakes_hlt(const struct vcpu_event *e)
{
	return e->type == EV_EXTINT || e->type == EV_NMI ||
	       (e->type == EV_HW_EXC && (e->vector == 1 || e->vector == 18));
}

static bool check_activity(struct chk *k)
{
	const struct vcpu_state *s = k->s;

	if (s->activity == ACT_ACTIVE)
		return true;
	if (s->activity != ACT_HLT)
		return bad(k, "activity %u is neither active nor HLT", s->activity);
	if (seg_dpl(&s->seg[SEG_SS]))
		return bad(k, "activity: HLT at CPL %u", seg_dpl(&s->seg[SEG_SS]));
	if (s->interruptibility & (INTR_STI | INTR_MOVSS))
		return bad(k, "activity: HLT under STI or MOV-SS blocking");
	if (s->event.valid && !wakes_hlt(&s->event))
		return bad(k, "activity: HLT with an event of type %u vector %u", s->event.type,
			   s->event.vector);
	return true;
}

static bool any_vector(unsigned v)
{
	return true;
}

static bool nmi_vector(unsigned v)
{
	return v == 2;
}

static bool exc_vector(unsigned v)
{
	return v < 32;
}

static bool int1_vector(unsigned v)
{
	return v == 1;
}

static bool int3_into_vector(unsigned v)
{
	return v == 3 || v == 4;
}

/* Interruption types (SDM 25.8.3) and the vectors each can carry: VM entry's own
 * checks for NMIs and hardware exceptions, and for software exceptions what the CPU
 * makes: INT1 is the privileged one, INT3 and INTO the others. Types 1 and 7 are
 * reserved or VMX's own. */
static const struct ev_type {
	const char *name;
	bool (*vector_ok)(unsigned v);
	uint8_t software; /* has an instruction length */
} ev_types[8] = {
	[EV_EXTINT] = { "an external interrupt", any_vector, 0 },
	[EV_NMI] = { "an NMI", nmi_vector, 0 },
	[EV_HW_EXC] = { "a hardware exception", exc_vector, 0 },
	[EV_SW_INT] = { "a software interrupt", any_vector, 1 },
	[EV_PRIV_SW_EXC] = { "a privileged software exception", int1_vector, 1 },
	[EV_SW_EXC] = { "a software exception", int3_into_vector, 1 },
};

/* #DF, #TS, #NP, #SS, #GP, #PF, #AC push an error code (SDM Vol. 3A Table 7-1), in
 * protected mode only (27.2.1.3). #CP would too, but no model offers CET. */
static bool has_error_code(unsigned vector)
{
	return vector < 32 && (1u << vector & (1u << 8 | 0x1f << 10 | 1u << 17));
}

static bool check_event_blocking(struct chk *k, const struct vcpu_event *e)
{
	uint32_t intr = k->s->interruptibility;

	if (e->type == EV_EXTINT && !(k->s->rflags & RFLAGS_IF))
		return bad(k, "event: an external interrupt with RFLAGS.IF clear");
	if (e->type == EV_EXTINT && (intr & (INTR_STI | INTR_MOVSS)))
		return bad(k, "event: an external interrupt under STI or MOV-SS blocking");
	if (e->type == EV_NMI && (intr & INTR_MOVSS))
		return bad(k, "event: an NMI under MOV-SS blocking");
	if (e->type == EV_NMI && (intr & INTR_NMI))
		return bad(k, "event: an NMI while NMIs are blocked");
	return true;
}

static bool check_event(struct chk *k)
{
	const struct vcpu_event *e = &k->s->event;
	const struct ev_type *t = e->type < ARRAY_SIZE(ev_types) ? &ev_types[e->type] : NULL;
	bool want_error;

	if (e->valid > 1)
		return bad(k, "event: valid %u is not 0 or 1", e->valid);
	if (!e->valid)
		return true;
	if (!t || !t->name)
		return bad(k, "event: type %u is reserved", e->type);
	if (!t->vector_ok(e->vector))
		return bad(k, "event: vector %u cannot be %s", e->vector, t->name);
	if (e->has_error > 1)
		return bad(k, "event: has_error %u is not 0 or 1", e->has_error);
	want_error = e->type == EV_HW_EXC && k->pe && has_error_code(e->vector);
	if (e->has_error && !want_error)
		return bad(k, k->pe ? "event: vector %u has no error code" :
				      "event: vector %u has no error code in real mode", e->vector);
	if (!e->has_error && want_error)
		return bad(k, "event: vector %u pushes an error code", e->vector);
	if (e->has_error && e->error > 0xffff)
		return bad(k, "event: error code 0x%x above 16 bits", e->error);
	if (t->software && (e->insn_len < 1 || e->insn_len > 15))
		return bad(k, "event: instruction length %u outside 1-15", e->insn_len);
	return check_event_blocking(k, e);
}

static bool check_nmi(struct chk *k)
{
	return k->s->nmi_pending <= 1 ||
	       bad(k, "nmi_pending %u is not 0 or 1", k->s->nmi_pending);
}

/* --- the XSAVE area: what XRSTOR of the standard form takes (SDM Vol. 1 13.4.2, 13.8) --- */

#define XSAVE_MXCSR 24
#define MXCSR_MASK 0xffffu /* DAZ included: every CPU with VT-x and EPT has it */

static bool check_xsave(struct chk *k)
{
	const uint8_t *x = k->s->xsave;
	uint32_t mxcsr;
	uint64_t xstate_bv, xcomp_bv;

	memcpy(&mxcsr, x + XSAVE_MXCSR, sizeof(mxcsr));
	memcpy(&xstate_bv, x + XSAVE_HDR, sizeof(xstate_bv));
	memcpy(&xcomp_bv, x + XSAVE_HDR + 8, sizeof(xcomp_bv));
	if (mxcsr & ~MXCSR_MASK)
		return bad(k, "xsave: MXCSR 0x%x sets reserved bits", mxcsr);
	/* tern saves every component the model offers whatever the guest's XCR0 (a guest
	 * with XCR0 = 1 still has SSE registers), and restores them under an XCR0 that
	 * enables them all: XSTATE_BV may name any of them. */
	if (xstate_bv & ~cpu_xcr0_mask(k->m))
		return bad(k, "xsave: XSTATE_BV 0x%llx outside the model's components 0x%llx",
			   ULL(xstate_bv), ULL(cpu_xcr0_mask(k->m)));
	if (xcomp_bv)
		return bad(k, "xsave: XCOMP_BV 0x%llx: only the standard format", ULL(xcomp_bv));
	for (int i = 16; i < 64; i++)
		if (x[XSAVE_HDR + i])
			return bad(k, "xsave: header byte %d is not zero", i);
	return true;
}

static bool (*const rules[])(struct chk *) = {
	check_cr0, check_cr3, check_cr4, check_efer, check_xcr0, check_dr,
	check_msrs, check_rflags, check_segs, check_dt, check_rip,
	check_intr, check_activity, check_event, check_nmi, check_xsave,
};

int x86_state_check(const struct cpu_model *m, const struct vcpu_state *s, char *err,
		    size_t err_size)
{
	struct chk k = { .m = m, .s = s, .err = err, .n = err_size };

	k.ctl = (struct x86_ctl){ s->cr0, s->cr3, s->cr4, s->efer,
				  !!(s->seg[SEG_CS].attr & SEG_L) };
	k.lma = s->efer & EFER_LMA;
	k.pe = s->cr0 & CR0_PE;
	k.v86 = s->rflags & RFLAGS_VM;
	if (err_size)
		err[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (!rules[i](&k))
			return -E_INVAL;
	return 0;
}
