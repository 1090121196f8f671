/* An interrupt message between APICs, as the system bus carries it: what an I/O APIC
 * redirection entry or a local APIC's ICR sends and what a local APIC accepts. The
 * fields keep the ICR's encodings (SDM Vol. 3A 11.6.1, Figure 11-12), which the
 * 82093AA redirection entry shares. */
#ifndef TERN_APIC_MSG_H
#define TERN_APIC_MSG_H

#include "hv/types.h"

enum apic_delivery {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_SIPI = 6,
	APIC_DM_EXTINT = 7,
};

enum apic_shorthand {
	APIC_SH_NONE = 0, /* dest names the targets */
	APIC_SH_SELF = 1,
	APIC_SH_ALL = 2,  /* all including self */
	APIC_SH_OTHERS = 3, /* all excluding self */
};

#define APIC_BROADCAST_XAPIC 0xffu       /* physical or logical: every APIC */
#define APIC_BROADCAST_X2APIC 0xffffffffu

struct apic_msg {
	uint8_t vector;
	uint8_t mode;      /* enum apic_delivery */
	uint8_t level;     /* 1: level-triggered (fixed and lowest priority only) */
	uint8_t logical;   /* 1: dest is a logical destination */
	uint8_t shorthand; /* enum apic_shorthand */
	uint32_t dest;     /* 8 bits in xAPIC messages, 32 in x2APIC ones */
};

#endif
