#include "hv/cpu.h"
#include "hv/lib/string.h"

struct dtr {
	uint16_t limit;
	uint64_t base;
} __packed;

void gdt_load(struct cpu_tables *t, uint8_t *ist)
{
	struct tss *tss = &t->tss;
	uint64_t *gdt = t->gdt, base = (uintptr_t)tss, limit = sizeof(*tss) - 1;
	struct dtr d = { sizeof(t->gdt) - 1, (uintptr_t)gdt };

	memset(tss, 0, sizeof(*tss));
	for (int i = 0; i < IST_COUNT; i++)
		tss->ist[i] = (uintptr_t)ist + (uint64_t)(i + 1) * IST_STACK_SIZE;
	tss->iomap_base = sizeof(*tss); /* no I/O bitmap */

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffULL; /* 64-bit code, DPL 0 */
	gdt[2] = 0x00cf92000000ffffULL; /* data, DPL 0 */
	/* 16-byte available 64-bit TSS descriptor (SDM 8.2.3) */
	gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[4] = base >> 32;

	asm volatile("lgdt %0\n\t"
		     "pushq %1\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "pushq %%rax\n\t"
		     "lretq\n"
		     "1:\n\t"
		     "movw %w2, %%ax\n\t"
		     "movw %%ax, %%ds\n\t"
		     "movw %%ax, %%es\n\t"
		     "movw %%ax, %%ss\n\t"
		     "xorl %%eax, %%eax\n\t"
		     "movw %%ax, %%fs\n\t"
		     "movw %%ax, %%gs\n\t"
		     "movw %w3, %%ax\n\t"
		     "ltr %%ax"
		     :
		     : "m"(d), "i"(SEL_CODE), "i"(SEL_DATA), "i"(SEL_TSS)
		     : "rax", "memory");
}
