/* The vCPU states a core starts a VM from. Both pass x86_state_check. */
#include "hv/lib/string.h"
#include "hv/x86_rules_int.h"

#define FXSAVE_FCW 0
#define FXSAVE_MXCSR 24
#define FCW_FINIT 0x37f
#define MXCSR_RESET 0x1f80

/* Attributes in struct vcpu_state's packed form: present, S, type in 3:0. */
#define ATTR_DATA (SEG_P | SEG_S | 0x3)  /* read/write, accessed */
#define ATTR_CODE (SEG_P | SEG_S | 0xb)  /* execute/read, accessed */
#define ATTR_LDT (SEG_P | 0x2)
#define ATTR_TSS32_BUSY (SEG_P | 0xb)
#define ATTR_FLAT32 (SEG_G | SEG_DB)    /* 4 GiB in pages, 32-bit */

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* SDM Vol. 3A 10.1.1 and Table 10-1: real mode at FFFF_FFF0 (CS base FFFF0000, IP FFF0),
 * caches off, every segment a 64 KiB read/write one, EDX the processor signature. LDTR
 * and TR: the table says "present, R/W"; as system descriptors that is an LDT and, for
 * TR, the nearest type VM entry takes, a busy 32-bit TSS. The x87 control word is the
 * one FINIT sets (the table has 0040H right after power-up; firmware runs FINIT before
 * anything reads it). */
void x86_reset_power_on(const struct cpu_model *m, struct vcpu_state *s)
{
	const struct cpuid_entry *sig = cpu_model_find(m, 1, 0);

	memset(s, 0, sizeof(*s));
	s->rdx = sig ? sig->eax : 0;
	s->rip = 0xfff0;
	s->rflags = RFLAGS_FIXED1;
	s->cr0 = CR0_CD | CR0_NW | CR0_ET;
	s->xcr0 = XCR0_X87;
	s->dr6 = DR6_RESET;
	s->dr7 = DR7_RESET;
	for (int i = 0; i < SEG_COUNT; i++)
		s->seg[i] = (struct seg_state){ .limit = 0xffff, .attr = ATTR_DATA };
	s->seg[SEG_CS] = (struct seg_state){ .base = 0xffff0000, .limit = 0xffff, .sel = 0xf000,
					     .attr = ATTR_CODE };
	s->seg[SEG_LDTR].attr = ATTR_LDT;
	s->seg[SEG_TR].attr = ATTR_TSS32_BUSY;
	s->gdtr.limit = 0xffff;
	s->idtr.limit = 0xffff;
	s->pat = x86_msr_reset(m, MSR_IA32_PAT);
	s->misc_enable = x86_msr_reset(m, MSR_IA32_MISC_ENABLE);
	put16(s->xsave + FXSAVE_FCW, FCW_FINIT);
	put32(s->xsave + FXSAVE_MXCSR, MXCSR_RESET);
	put64(s->xsave + XSAVE_HDR, XCR0_X87); /* the x87 state is in the area */
}

/* The MTRRs as a PC BIOS leaves them for the OS it loads: write-back by default with
 * the fixed ranges on, the legacy video window A0000-BFFFF uncached. */
void x86_firmware_mtrrs(struct vcpu_state *s)
{
	s->mtrr_def_type = (1u << 11) | (1u << 10) | 6; /* E, FE, WB */
	for (int i = 0; i < MTRR_FIXED; i++)
		s->mtrr_fixed[i] = 0x0606060606060606ull;
	s->mtrr_fixed[2] = 0; /* FIX16K_A0000: UC */
	memset(s->mtrr_var, 0, sizeof(s->mtrr_var));
}

/* Multiboot 0.6.96, 3.2 "Machine state": EAX the magic, EBX the information structure,
 * CS a flat 32-bit code segment, DS ES FS GS SS flat 32-bit data, protected mode with
 * paging off, IF and VM clear. The rest stays as after RESET, but for the caches, which
 * a loader leaves on. */
void x86_reset_multiboot(const struct cpu_model *m, struct vcpu_state *s, uint32_t entry,
			 uint32_t mbi)
{
	const struct seg_state code = { .limit = 0xffffffff, .sel = 0x08,
					.attr = ATTR_FLAT32 | ATTR_CODE };
	const struct seg_state data = { .limit = 0xffffffff, .sel = 0x10,
					.attr = ATTR_FLAT32 | ATTR_DATA };

	x86_reset_power_on(m, s);
	s->rax = 0x2badb002;
	s->rbx = mbi;
	s->rip = entry;
	s->cr0 = CR0_PE | CR0_ET;
	for (int i = SEG_ES; i <= SEG_GS; i++)
		s->seg[i] = data;
	s->seg[SEG_CS] = code;
	s->seg[SEG_LDTR] = (struct seg_state){ .attr = SEG_UNUSABLE };
	s->seg[SEG_TR] = (struct seg_state){ .limit = 0x67, .attr = ATTR_TSS32_BUSY };
	x86_firmware_mtrrs(s);
}
