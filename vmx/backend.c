#include "vmx/vcpu.h"
#include "vmx/vmx.h"

static void flush(struct vcpu *v)
{
	vmx_invept(v->vm);
}

static void flush_guest_tlb(struct vcpu *v)
{
	vmx_invvpid(v->priv);
}

const struct hv_backend vmx_backend = {
	.name = "vmx",
	.probe = vmx_probe,
	.enable = vmx_enable,
	.cpu_prepare = vmx_cpu_prepare,
	.cpu_enable = vmx_cpu_enable,
	.s2_init = vmx_s2_init,
	.s2_destroy = vmx_s2_destroy,
	.s2_map = vmx_s2_map,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_destroy = vmx_vcpu_destroy,
	.vcpu_run = vmx_vcpu_run,
	.vcpu_put = vmx_vcpu_put,
	.get_state = vmx_get_state,
	.set_state = vmx_set_state,
	.get_sreg = vmx_get_sreg,
	.set_sreg = vmx_set_sreg,
	.get_seg = vmx_get_seg,
	.inject_exception = vmx_inject_exception,
	.flush = flush,
	.flush_guest_tlb = flush_guest_tlb,
	.dirty_arm = vmx_dirty_arm,
	.dirty_disarm = vmx_dirty_disarm,
	.dirty_collect = vmx_dirty_collect,
	.dirty_rearm = vmx_dirty_rearm,
};
