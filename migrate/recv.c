/* The target side of a migration: one incoming VM at a time. Every message is checked
 * (type, length, ranges, stage order) before use; anything wrong aborts this migration
 * and frees all it reserved, nothing else. */
#include <stdarg.h>
#include "hv/bitmap.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "hv/vm_args.h"
#include "migrate/autopolicy.h"
#include "migrate/migrate.h"
#include "migrate/send.h"
#include "migrate/stream.h"
#include "net/addr.h"
#include "hv/backend.h"
#include "hv/vcpu.h"
#include "hv/x86_rules.h"

#define MEM_RESERVE_MIB 8 /* what a target keeps for itself beyond a VM's RAM */

static struct {
	enum mig_stage stage;
	struct vm *vm;
	int vm_id;
	uint64_t mem_size;
	uint64_t *have;       /* pages received at least once */
	uint64_t have_pages;  /* pages of the bitmap allocation */
	uint64_t *terms;      /* each page's digest term as last received */
	uint64_t terms_pages;
	uint64_t mem_sum;     /* their sum: the memory part of the digest */
	bool full_digest;     /* the source asked for the whole RAM in the digest too */
	uint32_t rounds;
} in;

static struct mstream stream;
static struct tcp_pcb *listener;
static uint8_t page[WIRE_PAGE];

static bool hurrying; /* sched_hurry() while a VM is on its way in */

static void free_books(void)
{
	if (in.have)
		pmm_free((uintptr_t)in.have, in.have_pages);
	if (in.terms)
		pmm_free((uintptr_t)in.terms, in.terms_pages);
	in.have = in.terms = NULL;
}

static void release(void)
{
	free_books();
	sched_hurry(&hurrying, false);
	if (in.vm && in.vm->state == VM_INCOMING)
		vm_discard(in.vm);
	in.vm = NULL;
}

static void fail(bool tell, const char *fmt, ...)
{
	char why[160], ip[20];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	net_format_ip4(ip, sizeof(ip), stream.peer_ip);
	if (tell && stream.pcb) {
		struct msg m = { .type = MSG_ABORT };
		strlcpy(m.u.abort.reason, why, sizeof(m.u.abort.reason));
		mstream_send(&stream, &m);
	}
	mstream_close(&stream);
	release();
	mon_event("migration from %s: failed at %s: %s", ip, mig_stage_name(in.stage), why);
	in.stage = MIG_NONE;
}

/* A test can cut the connection as this side begins a stage's work (x-cut-at): the
 * migration fails as a cut cable would make it. True when it was cut. */
static bool cut(enum mig_stage s)
{
	if (!mig_cut_due(s))
		return false;
	mstream_abort(&stream, "connection cut (x-cut-at)");
	fail(false, "%s", stream.error);
	return true;
}

static void reply(enum wire_type type, bool ok, uint32_t id, const char *reason)
{
	struct msg m = { .type = type };

	m.u.reserved.ok = ok;
	m.u.reserved.vm_id = id;
	strlcpy(m.u.reserved.reason, reason, sizeof(m.u.reserved.reason));
	mstream_send(&stream, &m);
}

static void reserve(const struct msg *m)
{
	const struct hv_caps *c = hv_caps();
	uint64_t need = m->u.hello.mem_size + MEM_RESERVE_MIB * MIB, free = pmm_stats().free;
	char err[160];

	if (cut(MIG_RESERVE))
		return;
	/* the request's own faults first, then what this host can give */
	if (!vm_name_valid(m->u.hello.name) || !vm_name_valid(m->u.hello.image)) {
		fmt_snprintf(err, sizeof(err), "bad VM or image name");
	} else if (m->u.hello.features & ~FEAT_ALL) {
		fmt_snprintf(err, sizeof(err), "unknown features 0x%x asked for",
			     m->u.hello.features & ~FEAT_ALL);
	} else if (m->u.hello.devices & ~(DEV_UART | DEV_EXIT_PORT)) {
		fmt_snprintf(err, sizeof(err), "unknown devices 0x%x",
			     m->u.hello.devices & ~(DEV_UART | DEV_EXIT_PORT));
	} else if (!c->usable || !c->stage2 || !c->unrestricted) {
		fmt_snprintf(err, sizeof(err), "this host cannot run guests (%s)",
			     c->usable ? "no EPT or unrestricted guest" : c->why);
	} else if (need > free) {
		fmt_snprintf(err, sizeof(err), "not enough memory: %llu MiB needed, %llu MiB free",
			     (unsigned long long)(need / MIB), (unsigned long long)(free / MIB));
	} else if ((m->u.hello.features & FEAT_LOAD_CHECK) &&
		   autopolicy_refuses(stream.peer_ip, m->u.hello.load, err, sizeof(err))) {
		/* err says why */
	} else {
		in.mem_size = m->u.hello.mem_size;
		in.full_digest = m->u.hello.features & FEAT_FULL_DIGEST;
		in.have_pages = ALIGN_UP(BITMAP_WORDS(in.mem_size / WIRE_PAGE) * 8, PAGE_SIZE) /
				PAGE_SIZE;
		in.terms_pages = ALIGN_UP(in.mem_size / WIRE_PAGE * 8, PAGE_SIZE) / PAGE_SIZE;
		in.have = (uint64_t *)(uintptr_t)pmm_alloc(in.have_pages);
		in.terms = (uint64_t *)(uintptr_t)pmm_alloc(in.terms_pages);
		if (!in.have || !in.terms)
			fmt_snprintf(err, sizeof(err), "out of memory");
		else if (!vm_create_incoming(in.mem_size, m->u.hello.name, m->u.hello.image, &in.vm,
					     err, sizeof(err))) {
			in.vm_id = in.vm->id;
			reply(MSG_RESERVED, true, (uint32_t)in.vm->id, "");
			in.stage = MIG_ITERATE;
			cut(MIG_ITERATE);
			return;
		}
	}
	reply(MSG_RESERVED, false, 0, err);
	fail(false, "refused: %s", err);
}

static void store_page(const struct msg *m)
{
	uint64_t pfn = m->u.page.gpa / WIRE_PAGE, term;

	if (m->u.page.zero) {
		memset(page, 0, sizeof(page));
		gpa_write(in.vm, gpa(m->u.page.gpa), page, WIRE_PAGE);
	} else {
		gpa_write(in.vm, gpa(m->u.page.gpa), m->u.page.data, WIRE_PAGE);
	}
	/* the term of what arrived, not of what guest memory reads back: both sides hash
	 * the bytes on the wire */
	term = wire_page_term(m->u.page.gpa, m->u.page.zero ? NULL : m->u.page.data);
	in.mem_sum += term - in.terms[pfn];
	in.terms[pfn] = term;
	bitmap_test_set(in.have, pfn);
}

/* Stage 5: the image must be complete and match the source's digest. */
static void commit(const struct msg *m)
{
	uint64_t n = in.mem_size / WIRE_PAGE, h = in.mem_sum;
	char err[120];

	in.stage = MIG_COMMIT;
	if (bitmap_count(in.have, n) != n) {
		uint64_t missing = 0;
		for (uint64_t i = 0; i < n; i++)
			if (!bitmap_test(in.have, i)) {
				missing = i;
				break;
			}
		fmt_snprintf(err, sizeof(err), "page 0x%llx never arrived",
			     (unsigned long long)(missing * WIRE_PAGE));
		goto refuse;
	}
	if (in.full_digest)
		h = vm_mem_fold(in.vm, h, wire_digest_mem);
	h = wire_digest_state(h, m);
	if (h != m->u.state.digest) {
		fmt_snprintf(err, sizeof(err), "digest mismatch: the copy differs from the source");
		goto refuse;
	}
	/* Every field as a CPU would take it, before any reaches this CPU: a value that
	 * would fault tern (a non-canonical LSTAR) or fail VM entry ends the migration. */
	if (x86_state_check(&in.vm->cpu, &m->u.state.cpu, err, sizeof(err))) {
		char why[160];
		fmt_snprintf(why, sizeof(why), "the vCPU state is not one a CPU could hold: %s", err);
		reply(MSG_COMMIT, false, 0, why);
		fail(false, "%s", why);
		return;
	}
	vcpu_set_state(in.vm->vcpu, &m->u.state.cpu);
	if (cut(MIG_COMMIT))
		return; /* before the answer: the source must resume the VM */
	reply(MSG_COMMIT, true, (uint32_t)in.vm->id, "");
	return;
refuse:
	reply(MSG_COMMIT, false, 0, err);
	fail(false, "%s", err);
}

static void activate(void)
{
	struct msg m = { .type = MSG_ACTIVATED };
	char ip[20];

	vm_activate(in.vm);
	m.u.activated.vm_id = (uint32_t)in.vm->id;
	mstream_send(&stream, &m);
	net_format_ip4(ip, sizeof(ip), stream.peer_ip);
	mon_event("vm%d arrived from %s", in.vm->id, ip);
	autopolicy_arrived(in.vm->id);
	in.stage = MIG_DONE;
	free_books();
	sched_hurry(&hurrying, false);
	in.vm = NULL;
}

static void handle(const struct msg *m)
{
	if (m->type == MSG_ABORT)
		fail(false, "the source gave up: %s", m->u.abort.reason);
	else if (in.stage == MIG_RESERVE && m->type == MSG_HELLO)
		reserve(m);
	else if (in.stage == MIG_ITERATE && m->type == MSG_PAGE)
		store_page(m);
	else if (in.stage == MIG_ITERATE && m->type == MSG_ROUND)
		in.rounds++;
	else if (in.stage == MIG_ITERATE && m->type == MSG_STATE)
		commit(m);
	else if (in.stage == MIG_COMMIT && m->type == MSG_ACTIVATE)
		activate();
	else
		fail(true, "message %d out of order", m->type);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	if (in.stage != MIG_NONE && in.stage != MIG_DONE) {
		tcp_abort(pcb); /* one incoming migration at a time */
		return ERR_ABRT;
	}
	memset(&stream, 0, sizeof(stream));
	memset(&in, 0, sizeof(in));
	mstream_accept(&stream, pcb);
	in.stage = MIG_RESERVE;
	sched_hurry(&hurrying, true);
	return ERR_OK;
}

int mig_recv_listen(uint16_t port)
{
	struct tcp_pcb *pcb = tcp_new();

	if (!pcb)
		return -E_NOMEM;
	if (tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
		tcp_abort(pcb);
		return -E_BUSY;
	}
	listener = tcp_listen(pcb);
	if (!listener) {
		tcp_abort(pcb);
		return -E_NOMEM;
	}
	tcp_accept(listener, on_accept);
	return 0;
}

bool mig_recv_busy(void)
{
	return in.stage != MIG_NONE && in.stage != MIG_DONE;
}

void mig_recv_poll(void)
{
	struct msg m;
	char err[96];
	int r = 0;

	if (in.stage == MIG_NONE || in.stage == MIG_DONE) {
		if (in.stage == MIG_DONE && !stream.closed && stream.pcb &&
		    time_now_ms() - stream.last_progress_ms > 2000)
			mstream_close(&stream);
		return;
	}
	/* a bounded batch, so guests and the monitor keep their turn */
	for (int i = 0; i < 256 && in.stage != MIG_NONE && in.stage != MIG_DONE; i++) {
		r = mstream_recv(&stream, in.mem_size, &m, err, sizeof(err));
		if (r != 1)
			break;
		handle(&m);
	}
	if (in.stage == MIG_NONE || in.stage == MIG_DONE)
		return;
	if (r < 0)
		fail(true, "bad message: %s", err);
	else if (stream.closed)
		fail(false, "%s", stream.error[0] ? stream.error : "connection closed");
	else if (time_now_ms() - stream.last_progress_ms > MIGRATE_STALL_MS) {
		mstream_abort(&stream, "no progress"); /* as the source does (send.c) */
		fail(false, "no progress for %d s", MIGRATE_STALL_MS / 1000);
	}
}
