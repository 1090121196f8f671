/* Shared by hv/x86_rules.c, hv/x86_state.c and hv/x86_reset.c only: the value rules with
 * their reasons, so that a write refused to a guest and a state refused to a migration
 * are refused by the same code. */
#ifndef TERN_X86_RULES_INT_H
#define TERN_X86_RULES_INT_H

#include "hv/x86_rules.h"

/* A feature word for a bit every model has, or none has. */
#define ALWAYS (~0ull)
#define NEVER 0ull

/* Features hv/cpu_model.h does not name. */
#define F_MONITOR CPU_FEATURE(1, 0, CPU_ECX, 3)
#define F_RTM CPU_FEATURE(7, 0, CPU_EBX, 11)
#define F_BLD CPU_FEATURE(7, 0, CPU_ECX, 24) /* bus-lock detection */

/* The CR0 bits that exist; the others read as 0, ET as 1 (SDM Vol. 3A 2.5). */
#define CR0_DEFINED \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | \
	 CR0_CD | CR0_PG)

#define DR6_RESET 0xffff0ff0ull
#define DR7_RESET 0x400ull

/* Why a rule refused, for a message; rules take NULL when nobody asks. */
struct x86_why {
	char buf[96];
};

/* Writes the reason into w (when not NULL) and returns false. */
bool x86_no(struct x86_why *w, const char *fmt, ...) __printf(2, 3);

bool x86_cr0_valid(uint64_t v, struct x86_why *w);
bool x86_cr3_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w);
bool x86_cr4_valid(const struct cpu_model *m, uint64_t v, uint64_t efer, struct x86_why *w);
bool x86_efer_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w);
bool x86_xcr0_valid(const struct cpu_model *m, uint64_t v, struct x86_why *w);
uint64_t x86_dr6_held(const struct cpu_model *m, uint64_t v);
uint64_t x86_dr7_held(const struct cpu_model *m, uint64_t v);
/* 1: valid; 0: refused, w says why; -1: the model has no such MSR. */
int x86_msr_valid(const struct cpu_model *m, const struct x86_ctl *c, uint32_t msr, uint64_t v,
		  struct x86_why *w);
/* The MSR's value after RESET (and the only one a state may hold when the model lacks
 * the MSR). */
uint64_t x86_msr_reset(const struct cpu_model *m, uint32_t msr);
uint64_t x86_misc_enable_fixed(const struct cpu_model *m);

#endif
