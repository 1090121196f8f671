/* A guest's console output as the operator sees it: whole lines, "[vm<ID>] <line>",
 * printable ASCII only (a guest cannot drive the operator's terminal), a line cut at
 * VCON_LINE_MAX characters. Pure but for mon_guest_line(), so it is tested hosted. */
#ifndef TERN_VCONSOLE_H
#define TERN_VCONSOLE_H

#include "hv/types.h"

#define VCON_LINE_MAX 160

struct vconsole {
	char line[VCON_LINE_MAX + 1];
	unsigned len;
};

void vcon_put(struct vconsole *c, uint8_t byte, int vm_id);
/* Prints what is left of an unfinished line (the VM ended, or an operator attached). */
void vcon_flush(struct vconsole *c, int vm_id);

#endif
