/* VMCS access for vmx/ only: hv/ never includes this. Reads and writes act on the
 * current VMCS; a failed access is logged with the field, the VM-instruction error and
 * the caller, once. */
#ifndef TERN_VMX_VMCS_H
#define TERN_VMX_VMCS_H

#include "hv/types.h"
#include "vmx/vmcs_fields.h"

struct vmx_vcpu;

/* Makes v's VMCS the current one (VMPTRLD) unless it is already. */
int vmcs_load(struct vmx_vcpu *v);
uint64_t vmcs_read(enum vmcs_field f);
bool vmcs_write(enum vmcs_field f, uint64_t v);

#endif
