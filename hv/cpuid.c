#include "hv/cpuid.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/vcpu_state.h"

/* CPUID.1:ECX (SDM Vol. 2A, Table 3-10): what is kept. PCID works under EPT; x2APIC and
 * TSC-deadline are the local APIC model's; XSAVE and AVX are switched per vCPU. */
#define ECX1_KEEP (0xffffffffu & ~((1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
				    (1u << 7) | (1u << 8) | (1u << 11) | (1u << 14) | (1u << 15) | \
				    (1u << 18) | (1u << 27) | (1u << 31)))
/* CPUID.1:EDX: no MCE/MCA (their MSRs are not emulated), no DS, ACPI thermal, HTT, TM,
 * PBE; the APIC bit follows IA32_APIC_BASE. */
#define EDX1_KEEP (0xffffffffu & ~((1u << 7) | (1u << 14) | (1u << 21) | (1u << 22) | \
				    (1u << 28) | (1u << 29) | (1u << 31) | (1u << 9)))
/* CPUID.7.0: EBX without SGX(2), HLE(4), RTM(11), PQM(12), MPX(14), PQE(15), AVX-512
 * (16, 17, 21, 26-28, 30, 31), Intel PT (25), INVPCID (10: its exit control is off); ECX
 * without PKU/OSPKE (3, 4), LA57 (16), SGX-LC (30), AVX-512 parts; EDX none (speculation
 * controls are not switched). TSC_ADJUST (1) whatever the host: hv/msr.c emulates it,
 * and with an invariant TSC it tells Linux the TSC needs no watchdog (a clocksource
 * watchdog against jiffies would call it unstable whenever ticks come late). */
#define EBX7_KEEP ((1u << 0) | (1u << 3) | (1u << 5) | (1u << 7) | (1u << 8) | (1u << 9) | \
		   (1u << 18) | (1u << 19) | (1u << 20) | (1u << 23) | (1u << 24) | (1u << 29))
#define ECX7_KEEP ((1u << 2) | (1u << 8)) /* UMIP, GFNI; RDPID (22) needs TSC_AUX */
#define EBX7_TSC_ADJUST (1u << 1)
/* CPUID.80000001h: ECX LAHF(0), ABM/LZCNT(5), PREFETCHW(8); EDX SYSCALL, NX, 1 GiB
 * pages, LM (RDTSCP hidden: its VT-x control and TSC_AUX are not switched). */
#define ECX81_KEEP ((1u << 0) | (1u << 5) | (1u << 8))
#define EDX81_KEEP ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 29))

#define XCR0_OFFERED (XCR0_X87 | XCR0_SSE | XCR0_AVX)

/* CPUID.15H states the TSC rate as crystal x EBX / EAX (SDM Vol. 2A, CPUID leaf 15H).
 * Linux multiplies the crystal's kHz by EBX in 32 bits (native_calibrate_tsc), so with a
 * 1 GHz crystal EBX must stay below 2^32 / 10^6: a larger one wraps (a 99 MHz TSC read
 * as 1.2 MHz). The ratio is the closest fraction with such a numerator. */
#define LEAF15_EBX_MAX (UINT32_MAX / (uint32_t)(LAPIC_TIMER_HZ / 1000))

struct cpuid_regs cpuid_host(uint32_t leaf, uint32_t sub)
{
	return cpuid(leaf, sub);
}

static void put(struct cpu_model *m, uint32_t leaf, uint32_t sub, struct cpuid_regs r)
{
	cpu_model_set(m, leaf, sub, r.eax, r.ebx, r.ecx, r.edx);
}

static void leaf_d(struct cpu_model *m, cpuid_fn host, bool xsave)
{
	struct cpuid_regs d0 = host(0xd, 0), d2 = host(0xd, 2);
	uint64_t mask = XCR0_OFFERED & ((uint64_t)d0.edx << 32 | d0.eax);

	if (!xsave)
		return;
	/* EBX (the size for the current XCR0) is filled in when CPUID runs. */
	put(m, 0xd, 0, (struct cpuid_regs){ (uint32_t)mask, 0, XSAVE_BYTES, 0 });
	put(m, 0xd, 1, (struct cpuid_regs){ host(0xd, 1).eax & 1, 0, 0, 0 }); /* XSAVEOPT */
	if (mask & XCR0_AVX)
		put(m, 0xd, 2, (struct cpuid_regs){ d2.eax, d2.ebx, 0, 0 });
}

/* |h/k - p/q| scaled by k*q: compares two fractions' distance to p/q (128-bit products). */
static unsigned __int128 ratio_err(uint64_t h, uint64_t k, uint64_t p, uint64_t q)
{
	unsigned __int128 a = (unsigned __int128)h * q, b = (unsigned __int128)k * p;

	return a > b ? a - b : b - a;
}

static bool closer(uint64_t h1, uint64_t k1, uint64_t h2, uint64_t k2, uint64_t p, uint64_t q)
{
	/* err1/k1 < err2/k2, cross-multiplied; both errors are below k*q, so this fits */
	return ratio_err(h1, k1, p, q) * k2 < ratio_err(h2, k2, p, q) * k1;
}

/* The fraction num/den nearest p/q with num <= max_num and den below 2^32: the last
 * continued-fraction convergent within the bounds, or the semiconvergent after it when
 * that is closer (the best approximations are among these). */
static void best_ratio(uint64_t p, uint64_t q, uint64_t max_num, uint32_t *num, uint32_t *den)
{
	uint64_t h2 = 0, h1 = 1, k2 = 1, k1 = 0, p0 = p, q0 = q;

	while (q) {
		uint64_t a = p / q, r = p % q, lim = h1 ? (max_num - h2) / h1 : UINT64_MAX;

		if (k1)
			lim = MIN(lim, (UINT32_MAX - k2) / k1);
		if (a > lim) {
			if (!k1) /* p/q itself is above the bound */
				h1 = max_num, k1 = 1;
			else if (lim && closer(lim * h1 + h2, lim * k1 + k2, h1, k1, p0, q0))
				h1 = lim * h1 + h2, k1 = lim * k1 + k2;
			break;
		}
		lim = a * h1 + h2, h2 = h1, h1 = lim;
		lim = a * k1 + k2, k2 = k1, k1 = lim;
		p = q, q = r;
	}
	*num = (uint32_t)h1;
	*den = (uint32_t)k1;
}

void cpu_model_build(struct cpu_model *m, cpuid_fn host, uint64_t tsc_hz)
{
	uint32_t num, den;
	struct cpuid_regs r, h0 = host(0, 0), h8 = host(0x80000000u, 0);
	uint32_t max = h0.eax < 0x16 ? h0.eax : 0x16, ext = h8.eax < 0x80000008u ? h8.eax : 0x80000008u;
	bool xsave;

	memset(m, 0, sizeof(*m));
	m->tsc_hz = tsc_hz;
	put(m, 0, 0, (struct cpuid_regs){ 0x16, h0.ebx, h0.ecx, h0.edx });
	r = host(1, 0);
	xsave = r.ecx & (1u << 26);
	r.ebx = (r.ebx & 0xffff) | (1u << 16); /* one logical processor; APIC ID at run time */
	r.ecx = (r.ecx & ECX1_KEEP) | (1u << 31) | (1u << 21) | (1u << 24);
	if (!xsave) /* AVX, F16C and FMA need the YMM state XSAVE switches */
		r.ecx &= ~((1u << 28) | (1u << 29) | (1u << 12));
	r.edx &= EDX1_KEEP;
	put(m, 1, 0, r);
	put(m, 2, 0, host(2, 0));
	for (uint32_t s = 0; s < 8 && max >= 4; s++) {
		r = host(4, s);
		r.eax &= 0x3ff; /* one core, one thread sharing each cache */
		put(m, 4, s, r);
		if (!(r.eax & 0x1f))
			break;
	}
	if (max >= 7) {
		r = host(7, 0);
		r.ebx &= EBX7_KEEP & (xsave ? ~0u : ~(1u << 5)); /* AVX2 needs YMM state too */
		r.ebx |= EBX7_TSC_ADJUST;
		put(m, 7, 0, (struct cpuid_regs){ 0, r.ebx, r.ecx & ECX7_KEEP, 0 });
	}
	/* x2APIC topology: one thread, one core (EDX, the x2APIC ID, at run time) */
	put(m, 0xb, 0, (struct cpuid_regs){ 0, 1, 0x100, 0 });
	put(m, 0xb, 1, (struct cpuid_regs){ 0, 1, 0x201, 0 });
	leaf_d(m, host, xsave);
	/* The TSC and the APIC timer: TSC = crystal x EBX / EAX, crystal 1 GHz (SDM
	 * Table 3-8, leaf 15h), so guests need not calibrate against a PIT. */
	best_ratio(tsc_hz, LAPIC_TIMER_HZ, LEAF15_EBX_MAX, &num, &den);
	put(m, 0x15, 0, (struct cpuid_regs){ den, num, (uint32_t)LAPIC_TIMER_HZ, 0 });
	put(m, 0x16, 0, (struct cpuid_regs){ (uint32_t)(tsc_hz / 1000000),
					     (uint32_t)(tsc_hz / 1000000), 1000, 0 });
	put(m, CPUID_HV_BASE, 0, (struct cpuid_regs){ CPUID_HV_TIMING, 0, 0, 0 });
	memcpy(&m->e[m->nr - 1].ebx, TERN_CPUID_SIGNATURE, 4);
	memcpy(&m->e[m->nr - 1].ecx, TERN_CPUID_SIGNATURE + 4, 4);
	memcpy(&m->e[m->nr - 1].edx, TERN_CPUID_SIGNATURE + 8, 4);
	put(m, CPUID_HV_TIMING, 0, (struct cpuid_regs){ (uint32_t)(tsc_hz / 1000),
							(uint32_t)(LAPIC_TIMER_HZ / 1000), 0, 0 });
	put(m, 0x80000000u, 0, (struct cpuid_regs){ ext, 0, 0, 0 });
	r = host(0x80000001u, 0);
	put(m, 0x80000001u, 0, (struct cpuid_regs){ r.eax, 0, r.ecx & ECX81_KEEP, r.edx & EDX81_KEEP });
	for (uint32_t l = 0x80000002u; l <= 0x80000004u && l <= ext; l++)
		put(m, l, 0, host(l, 0)); /* the brand string */
	if (ext >= 0x80000006u)
		put(m, 0x80000006u, 0, host(0x80000006u, 0));
	put(m, 0x80000007u, 0, (struct cpuid_regs){ 0, 0, 0, 1u << 8 }); /* invariant TSC */
	if (ext >= 0x80000008u) {
		r = host(0x80000008u, 0);
		put(m, 0x80000008u, 0, (struct cpuid_regs){ r.eax & 0xffff, 0, 0, 0 });
	}
}

static uint32_t xsave_size(uint64_t xcr0)
{
	return xcr0 & XCR0_AVX ? XSAVE_AVX + 256 : XSAVE_AVX;
}

void cpu_model_query(const struct cpu_model *m, uint32_t leaf, uint32_t sub,
		     const struct cpuid_dyn *d, struct cpuid_regs *out)
{
	const struct cpuid_entry *e;
	uint32_t max_std = cpu_model_find(m, 0, 0)->eax;

	/* Leaves with subleaves are looked up by subleaf; the rest ignore ECX. */
	if (leaf != 4 && leaf != 7 && leaf != 0xb && leaf != 0xd)
		sub = 0;
	/* Above the maximum basic leaf, a CPU answers with the highest basic leaf. */
	if (leaf < CPUID_HV_BASE && leaf > max_std)
		leaf = max_std, sub = 0;
	e = cpu_model_find(m, leaf, sub);
	*out = e ? (struct cpuid_regs){ e->eax, e->ebx, e->ecx, e->edx } : (struct cpuid_regs){ 0 };
	if (leaf == 1) {
		out->ebx |= d->apic_id << 24;
		out->ecx |= d->osxsave ? 1u << 27 : 0;
		out->edx |= d->apic_on ? 1u << 9 : 0;
	} else if (leaf == 0xb) {
		out->edx = d->apic_id;
	} else if (leaf == 0xd && sub == 0 && e) {
		out->ebx = xsave_size(d->xcr0);
	}
}

static const struct {
	uint32_t leaf;
	int reg; /* 0 eax .. 3 edx */
	const char *name;
} checked[] = {
	{ 1, 2, "CPUID.1:ECX" }, { 1, 3, "CPUID.1:EDX" }, { 7, 1, "CPUID.7:EBX" },
	{ 7, 2, "CPUID.7:ECX" }, { 0x80000001u, 2, "CPUID.80000001h:ECX" },
	{ 0x80000001u, 3, "CPUID.80000001h:EDX" }, { 0xd, 0, "CPUID.0Dh:EAX (XCR0)" },
	/* XCR0's upper half: the rules let a guest's XSETBV set what the model offers,
	 * and tern loads XCR0 on this CPU */
	{ 0xd, 3, "CPUID.0Dh:EDX (XCR0[63:32])" },
};

int cpu_model_check_host(const struct cpu_model *m, cpuid_fn host, uint64_t host_tsc_hz,
			 char *err, size_t err_size)
{
	struct cpu_model here;
	uint64_t off = m->tsc_hz > host_tsc_hz ? m->tsc_hz - host_tsc_hz : host_tsc_hz - m->tsc_hz;

	cpu_model_build(&here, host, host_tsc_hz);
	for (size_t i = 0; i < ARRAY_SIZE(checked); i++) {
		const struct cpuid_entry *a = cpu_model_find(m, checked[i].leaf, 0);
		const struct cpuid_entry *b = cpu_model_find(&here, checked[i].leaf, 0);
		uint32_t want, have;
		if (!a)
			continue;
		want = (&a->eax)[checked[i].reg];
		have = b ? (&b->eax)[checked[i].reg] : 0;
		if (want & ~have) {
			fmt_snprintf(err, err_size, "this CPU lacks %s bit %d that the VM's CPU model "
				     "offers", checked[i].name, __builtin_ctz(want & ~have));
			return -E_NOSUP;
		}
	}
	/* Guest-physical addresses the model allows (CR3, PDPTEs, the APIC base) must be
	 * ones this CPU's EPT and VM entry take. */
	if (cpu_maxphyaddr(m) > cpu_maxphyaddr(&here)) {
		fmt_snprintf(err, err_size, "this CPU has %u physical-address bits, the VM's CPU "
			     "model %u", cpu_maxphyaddr(&here), cpu_maxphyaddr(m));
		return -E_NOSUP;
	}
	/* The guest's TSC is this CPU's plus an offset (tern does not scale it), so a rate
	 * off by more than 1% would change the clock the guest was told it has. */
	if (off > host_tsc_hz / 100) {
		fmt_snprintf(err, err_size, "the VM's TSC runs at %llu kHz, this host's at %llu kHz "
			     "(more than 1%% apart; tern does not scale a guest's TSC)",
			     (unsigned long long)(m->tsc_hz / 1000),
			     (unsigned long long)(host_tsc_hz / 1000));
		return -E_NOSUP;
	}
	return 0;
}
