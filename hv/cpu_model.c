#include "hv/cpu_model.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"

const struct cpuid_entry *cpu_model_find(const struct cpu_model *m, uint32_t leaf, uint32_t sub)
{
	for (uint32_t i = 0; i < m->nr; i++)
		if (m->e[i].leaf == leaf && m->e[i].sub == sub)
			return &m->e[i];
	return NULL;
}

bool cpu_model_set(struct cpu_model *m, uint32_t leaf, uint32_t sub, uint32_t eax, uint32_t ebx,
		   uint32_t ecx, uint32_t edx)
{
	struct cpuid_entry *e = (struct cpuid_entry *)cpu_model_find(m, leaf, sub);

	if (!e) {
		if (m->nr >= CPU_MODEL_LEAVES)
			return false;
		e = &m->e[m->nr++];
	}
	*e = (struct cpuid_entry){ leaf, sub, eax, ebx, ecx, edx };
	return true;
}

bool cpu_has(const struct cpu_model *m, uint64_t f)
{
	const struct cpuid_entry *e = cpu_model_find(m, (uint32_t)(f >> 32), (f >> 16) & 0xffff);
	uint32_t regs[4];

	if (!e)
		return false;
	regs[CPU_EAX] = e->eax, regs[CPU_EBX] = e->ebx, regs[CPU_ECX] = e->ecx;
	regs[CPU_EDX] = e->edx;
	return regs[(f >> 8) & 3] >> (f & 31) & 1;
}

uint64_t cpu_xcr0_mask(const struct cpu_model *m)
{
	const struct cpuid_entry *e = cpu_model_find(m, 0xd, 0);

	if (!cpu_has(m, F_XSAVE) || !e)
		return 1;
	return ((uint64_t)e->edx << 32 | e->eax) | 1;
}

unsigned cpu_maxphyaddr(const struct cpu_model *m)
{
	const struct cpuid_entry *e = cpu_model_find(m, 0x80000008u, 0);

	return e && (e->eax & 0xff) ? e->eax & 0xff : 36;
}

unsigned cpu_maxlinaddr(const struct cpu_model *m)
{
	return cpu_has(m, F_LA57) ? 57 : 48;
}

int cpu_model_valid(const struct cpu_model *m, char *err, size_t err_size)
{
	if (m->nr > CPU_MODEL_LEAVES) {
		fmt_snprintf(err, err_size, "the CPU model has %u entries, more than %d", m->nr,
			     CPU_MODEL_LEAVES);
		return -E_INVAL;
	}
	for (uint32_t i = 0; i < m->nr; i++) {
		const struct cpuid_entry *e = &m->e[i];
		if (cpu_model_find(m, e->leaf, e->sub) != e) {
			fmt_snprintf(err, err_size, "the CPU model has CPUID leaf 0x%x subleaf %u twice",
				     e->leaf, e->sub);
			return -E_INVAL;
		}
	}
	if (!cpu_model_find(m, 0, 0)) {
		fmt_snprintf(err, err_size, "the CPU model has no CPUID leaf 0");
		return -E_INVAL;
	}
	if (m->tsc_hz < CPU_MODEL_TSC_HZ_MIN || m->tsc_hz > CPU_MODEL_TSC_HZ_MAX) {
		fmt_snprintf(err, err_size, "the CPU model's TSC rate %llu Hz is outside %llu-%llu",
			     (unsigned long long)m->tsc_hz, CPU_MODEL_TSC_HZ_MIN,
			     CPU_MODEL_TSC_HZ_MAX);
		return -E_INVAL;
	}
	return 0;
}
