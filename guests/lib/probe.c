#include "guests/lib/guest.h"
#include "guests/lib/probe.h"

struct msr_op {
	uint32_t msr;
	uint64_t val;
};

static void do_rdmsr(void *arg)
{
	struct msr_op *op = arg;

	op->val = rdmsr(op->msr);
}

static void do_wrmsr(void *arg)
{
	struct msr_op *op = arg;

	wrmsr(op->msr, op->val);
}

int probe_rdmsr(uint32_t msr, uint64_t *val)
{
	struct msr_op op = { msr, 0 };
	int vec = probe_insn(do_rdmsr, &op);

	*val = op.val;
	return vec;
}

int probe_wrmsr(uint32_t msr, uint64_t val)
{
	struct msr_op op = { msr, val };

	return probe_insn(do_wrmsr, &op);
}
