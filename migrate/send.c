/* The source side of a migration: one at a time, driven from tern's loop and lwIP's
 * sent callbacks. The VM runs through the iterative copy; pages of rounds after the
 * first are staged in the shadow region at the round's end, so the guest runs on while
 * they are on the wire. With xbzrle the staging area is instead each page's copy last
 * sent (a page per guest page, at its own index), and resent pages are read as they go
 * and sent as deltas against it. */
#include <stdarg.h>
#include "hv/bitmap.h"
#include "hv/console.h"
#include "hv/dev/dev.h"
#include "hv/dirty.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "hv/vcpu_state.h"
#include "hv/sched.h"
#include "hv/vm.h"
#include "migrate/autopolicy.h"
#include "migrate/discovery.h"
#include "migrate/migrate.h"
#include "migrate/send.h"
#include "migrate/stream.h"
#include "migrate/xbzrle.h"
#include "net/addr.h"
#include "hv/backend.h"
#include "hv/vcpu.h"

struct mig_params mig_params = {
	.downtime_limit_ms = MIGRATE_DOWNTIME_MS,
	.converge = { true, CONVERGE_INITIAL_PCT, CONVERGE_INCREMENT_PCT },
	.max_rounds = MIGRATE_MAX_ROUNDS,
};
struct mig_out mig_out;

static struct mstream stream;
static uint8_t page[WIRE_PAGE];
static uint8_t delta[WIRE_PAGE];
/* A delta longer than this sends the page whole: past half a page the bytes saved no
 * longer pay for the encoding, and a rewritten page is given up on after scanning
 * about this much of it. */
#define DELTA_MAX (WIRE_PAGE / 2)
/* The memory digest as pages go out: each page's term as last sent, and their sum. */
static uint64_t *terms, terms_pages, mem_sum;
/* At the pause: the digest so far, memory then each record sent (wire.h) */
static uint64_t digest;

static bool hurrying; /* sched_hurry() while a migration is under way */

static void terms_free(void)
{
	if (terms)
		pmm_free((uintptr_t)terms, terms_pages);
	terms = NULL;
}

bool mig_cut_due(enum mig_stage s)
{
	if (mig_params.cut_at != s)
		return false;
	mig_params.cut_at = MIG_NONE;
	kprintf("migrate: x-cut-at: cutting the connection at %s\n", mig_stage_name(s));
	return true;
}

static struct vm *the_vm(void)
{
	struct vm *vm = vm_find(mig_out.vm_name);

	return vm && vm->id == mig_out.vm_id ? vm : NULL;
}

bool mig_send_busy(void)
{
	return mig_out.stage > MIG_NONE && mig_out.stage < MIG_DONE;
}

/* --- the migration holds its VM (hv/vm.h, struct vm_owner) --- */

static void owner_describe(const struct vm *vm, char *what, char *how, size_t size)
{
	char ip[20];

	net_format_ip4(ip, sizeof(ip), mig_out.ip);
	fmt_snprintf(what, size, "migrating to %s", ip);
	if (mig_out.stage >= MIG_ACTIVATE) /* migrate_cancel is too late */
		fmt_snprintf(how, size, "activation: the target owns it now");
	else
		fmt_snprintf(how, size, "migrate_cancel vm%d first", vm->id);
}

static int cancel(struct vm *vm, const char *why, char *err, size_t err_size);

static const struct vm_owner owner = {
	.describe = owner_describe,
	.release = cancel,
};

/* The migration ended: the VM (if it lives on here) is the operator's again. */
static void disown(void)
{
	struct vm *vm = the_vm();

	if (vm && vm->owner == &owner)
		vm->owner = NULL;
}

/* Auto-converge's throttle (migrate/converge.h) holds only while the migration does. */
static void throttle(struct vm *vm, uint32_t pct)
{
	if (vm)
		vm_throttle(vm, pct);
	mig_out.throttle_pct = pct;
	mig_out.throttle_peak = MAX(mig_out.throttle_peak, pct);
}

/* Ends a migration that did not complete: before the target owns the VM, the VM goes
 * on here as if nothing happened. */
static void fail(const char *fmt, ...)
{
	struct vm *vm = the_vm();
	char why[160], ip[20];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	net_format_ip4(ip, sizeof(ip), mig_out.ip);
	if (stream.pcb && mig_out.stage < MIG_ACTIVATE) {
		struct msg m = { .type = MSG_ABORT };
		strlcpy(m.u.abort.reason, why, sizeof(m.u.abort.reason));
		mstream_send(&stream, &m);
	}
	mstream_close(&stream);
	terms_free();
	sched_hurry(&hurrying, false);
	throttle(vm, 0);
	disown();
	if (vm && mig_out.stage < MIG_ACTIVATE) {
		dirty_stop(vm);
		if (mig_out.paused_by_us)
			vm_resume(vm);
		mon_event("migration vm%d -> %s: failed at %s: %s; vm%d runs on here", mig_out.vm_id,
			  ip, mig_stage_name(mig_out.stage), why, mig_out.vm_id);
	} else if (vm) {
		/* ACTIVATE went out: the target may run the VM. Resuming it here could make
		 * two; the operator decides, knowing what the target says. */
		mon_event("migration vm%d -> %s: failed at %s: %s; vm%d stays paused here: check "
			  "the target, then kill or cont it", mig_out.vm_id, ip,
			  mig_stage_name(mig_out.stage), why, mig_out.vm_id);
	} else {
		mon_event("migration vm%d -> %s: failed at %s: %s", mig_out.vm_id, ip,
			  mig_stage_name(mig_out.stage), why);
	}
	strlcpy(mig_out.error, why, sizeof(mig_out.error));
	mig_out.failed_at = mig_out.stage;
	mig_out.stage = MIG_FAILED;
}

/* Stage changes go through here, so a test can cut the connection at any (x-cut-at).
 * True when it was cut: the migration has failed and the caller must stop. */
static bool enter(enum mig_stage s)
{
	mig_out.stage = s;
	if (!mig_cut_due(s))
		return false;
	mstream_abort(&stream, "connection cut (x-cut-at)");
	fail("%s", stream.error);
	return true;
}

int mig_send_start(const char *name, uint32_t ip, uint16_t port, uint32_t load_check,
		   char *err, size_t err_size)
{
	struct vm *vm = vm_find(name);
	char what[96], how[96];

	if (vm && vm->owner) {
		vm->owner->describe(vm, what, how, sizeof(what));
		fmt_snprintf(err, err_size, "vm%d is %s (%s)", vm->id, what, how);
		return -E_BUSY;
	}
	if (mig_send_busy()) {
		fmt_snprintf(err, err_size, "vm%d is migrating already (one at a time)",
			     mig_out.vm_id);
		return -E_BUSY;
	}
	if (!vm) {
		fmt_snprintf(err, err_size, "no VM '%s' (see info vms)", name);
		return -E_NOENT;
	}
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED) {
		fmt_snprintf(err, err_size, "vm%d is %s", vm->id, vm_state_name(vm));
		return -E_INVAL;
	}
	if (vm->dirty.mode != DIRTY_OFF && !vm->dirty.sample) {
		fmt_snprintf(err, err_size, "vm%d is tracked already (dirty stop first)", vm->id);
		return -E_BUSY;
	}
	terms_pages = ALIGN_UP(vm->mem_size / WIRE_PAGE * 8, PAGE_SIZE) / PAGE_SIZE;
	terms = (uint64_t *)(uintptr_t)pmm_alloc(terms_pages);
	if (!terms) {
		fmt_snprintf(err, err_size, "out of memory for the digest (%llu KiB)",
			     (unsigned long long)(terms_pages * 4));
		return -E_NOMEM;
	}
	mem_sum = 0;
	memset(&mig_out, 0, sizeof(mig_out));
	memset(&stream, 0, sizeof(stream));
	mig_out.vm_id = vm->id;
	strlcpy(mig_out.vm_name, vm->name, sizeof(mig_out.vm_name));
	mig_out.ip = ip;
	mig_out.port = port;
	mig_out.load_check = MIN(load_check, (uint32_t)WIRE_MAX_LOAD);
	mig_out.full_digest = mig_params.full_digest;
	mig_out.xbzrle = mig_params.xbzrle;
	mig_out.start_ms = time_now_ms();
	mig_out.stage = MIG_INIT;
	vm->owner = &owner;
	sched_hurry(&hurrying, true);
	mig_out.predicted = autopolicy_model_in(vm->id, ip, &mig_out.model_in);
	mig_out.wss = mig_out.model_in.wss_pages;
	mig_out.predicted_downtime_ms = mig_out.predicted_after_ms = PRECOPY_NEVER;
	if (mig_out.predicted) {
		precopy_predict(&mig_out.model_in, &mig_out.prediction);
		mig_out.predicted_downtime_ms = mig_out.prediction.downtime_ms;
		mig_out.predicted_after_ms = 0;
	}
	if (mstream_connect(&stream, ip, port)) {
		fail("cannot open a connection");
		fmt_snprintf(err, err_size, "cannot open a connection");
		return -E_IO;
	}
	return 0;
}

/* The records the stop-and-copy will send, as HELLO names them. Every one must fit in
 * a RECORD message: a record grown past that is tern's own bug, refused here before the
 * VM is touched. */
static bool list_records(struct msg *m)
{
	const struct vms_desc *d[PC_NR_RECORDS];
	unsigned n = pc_record_descs(d);

	for (unsigned i = 0; i < n; i++) {
		struct wire_record_id *r = &m->u.hello.records[i];
		if (vms_size(d[i]) > WIRE_RECORD_MAX) {
			fail("device state record '%s' has %zu bytes, more than a message carries",
			     d[i]->name, vms_size(d[i]));
			return false;
		}
		strlcpy(r->name, d[i]->name, sizeof(r->name));
		r->version = d[i]->version;
	}
	m->u.hello.nr_records = n;
	return true;
}

static void send_hello(struct vm *vm)
{
	static struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_HELLO;
	m.u.hello.mem_size = vm->mem_size;
	m.u.hello.page_size = WIRE_PAGE;
	m.u.hello.vcpus = vm->nr_vcpus;
	m.u.hello.features = FEAT_EPT | FEAT_UNRESTRICTED |
			     (mig_out.full_digest ? FEAT_FULL_DIGEST : 0) |
			     (mig_out.load_check ? FEAT_LOAD_CHECK : 0) |
			     (mig_out.xbzrle ? FEAT_XBZRLE : 0);
	m.u.hello.load = mig_out.load_check;
	strlcpy(m.u.hello.name, vm->name, sizeof(m.u.hello.name));
	strlcpy(m.u.hello.image, vm->image, sizeof(m.u.hello.image));
	m.u.hello.cpu = vm->cpu; /* the VM keeps its CPU on the target */
	if (!list_records(&m))
		return;
	if (mstream_send(&stream, &m) == 0)
		enter(MIG_RESERVE);
}

/* Round 1 sends every page from guest memory; later rounds send the pages the previous
 * round dirtied, from their copies in the shadow region. */
static void round_begin(struct vm *vm, bool first)
{
	struct dirty *d = &vm->dirty;
	uint64_t now = time_now_ms();

	mig_out.round++;
	mig_out.round_start_ms = now;
	mig_out.next = 0;
	mig_out.round_sent = 0;
	mig_out.round_told = false;
	if (first) {
		mig_out.round_total = d->npages;
		mig_out.list = NULL;
		return;
	}
	dirty_sync(vm);
	mig_out.list = d->log[d->cur ^ 1];
	mig_out.round_total = d->log_len[d->cur ^ 1];
	if (mig_out.xbzrle)
		return; /* the staging area holds the copies last sent: read as they go */
	for (uint64_t i = 0; i < mig_out.round_total; i++)
		gpa_read(vm, gpa((uint64_t)mig_out.list[i] * WIRE_PAGE), d->stage + i * WIRE_PAGE,
			 WIRE_PAGE);
}

static bool is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < WIRE_PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The bandwidth so far, bytes per second, from what the peer acknowledged. */
static uint64_t bandwidth(void)
{
	uint64_t ms = time_now_ms() - mig_out.iterate_start_ms;

	return ms ? stream.acked * 1000 / ms : 0;
}

uint64_t mig_send_bandwidth(void)
{
	return mig_out.stage >= MIG_ITERATE && mig_out.stage < MIG_DONE ? bandwidth()
									 : mig_out.bandwidth;
}

static bool throttled(void)
{
	uint64_t ms = time_now_ms() - mig_out.iterate_start_ms;

	return mig_params.max_bandwidth_bps &&
	       stream.sent > (ms + 1) * mig_params.max_bandwidth_bps / 1000;
}

/* The time the sender waits for room: from the first refused page to the next one
 * lwIP takes (two clock reads per wait, none per page). */
static void blocked(bool now_blocked)
{
	if (now_blocked && !mig_out.blocked_since_us) {
		mig_out.blocked_since_us = time_now_us();
	} else if (!now_blocked && mig_out.blocked_since_us) {
		mig_out.blocked_us += time_now_us() - mig_out.blocked_since_us;
		mig_out.blocked_since_us = 0;
	}
}

/* XBZRLE: a resent page (every page went in round 1, so both ends hold its copy last
 * sent) goes as a delta against that copy when the delta is short enough. */
static void try_delta(struct vm *vm, uint64_t pfn, struct msg *m)
{
	uint64_t t0 = rdtsc();
	int n = xbz_encode(vm->dirty.stage + pfn * WIRE_PAGE, m->u.page.data, delta, DELTA_MAX);

	mig_out.xbzrle_tsc += rdtsc() - t0;
	if (n == XBZ_NO_GAIN)
		return;
	m->u.page.delta = true;
	m->u.page.delta_len = (uint32_t)n;
	m->u.page.data = delta;
}

/* Queues the round's pages while lwIP has room; true when the round is all queued. */
static bool pump_pages(struct vm *vm)
{
	uint64_t until = time_now_us() + MIGRATE_SLICE_US;

	while (mig_out.next < mig_out.round_total) {
		struct msg m = { .type = MSG_PAGE };
		uint64_t pfn = mig_out.list ? mig_out.list[mig_out.next] : mig_out.next;
		const uint8_t *data;

		if (throttled() || time_now_us() >= until)
			return false;
		/* a delta is encoded once there is room for the page it may not replace */
		if (mig_out.xbzrle && !mstream_room(&stream, WIRE_HDR + 12 + WIRE_PAGE)) {
			blocked(true);
			return false;
		}
		if (mig_out.list && !mig_out.xbzrle) {
			data = vm->dirty.stage + mig_out.next * WIRE_PAGE;
		} else {
			gpa_read(vm, gpa(pfn * WIRE_PAGE), page, WIRE_PAGE);
			data = page;
		}
		m.u.page.gpa = pfn * WIRE_PAGE;
		m.u.page.zero = is_zero(data);
		m.u.page.data = data;
		if (mig_out.xbzrle && mig_out.list && !m.u.page.zero)
			try_delta(vm, pfn, &m);
		if (mstream_send(&stream, &m)) {
			blocked(true);
			return false;
		}
		blocked(false);
		if (mig_out.xbzrle) {
			memcpy(vm->dirty.stage + pfn * WIRE_PAGE, data, WIRE_PAGE);
			mig_out.xbzrle_pages += m.u.page.delta;
			mig_out.xbzrle_saved += m.u.page.delta ? WIRE_PAGE - m.u.page.delta_len : 0;
		}
		uint64_t term = wire_page_term(m.u.page.gpa, m.u.page.zero ? NULL : data);
		mem_sum += term - terms[pfn];
		terms[pfn] = term;
		mig_out.next++;
		mig_out.round_sent++;
		mig_out.pages_sent++;
		mig_out.zero_pages += m.u.page.zero;
	}
	return true;
}

static void progress_line(void)
{
	uint64_t bw = bandwidth();
	char expected[24];

	if (mig_out.expected_downtime_ms == UINT64_MAX)
		fmt_snprintf(expected, sizeof(expected), "unknown");
	else
		fmt_snprintf(expected, sizeof(expected), "%llu ms",
			     (unsigned long long)mig_out.expected_downtime_ms);
	mon_event("migration vm%d: round %u: %llu pages, %llu.%llu MB/s, dirty rate %llu pages/s, "
		  "expected downtime %s", mig_out.vm_id, mig_out.round,
		  (unsigned long long)mig_out.round_sent, (unsigned long long)(bw / 1000000),
		  (unsigned long long)(bw / 100000 % 10), (unsigned long long)mig_out.dirty_rate,
		  expected);
}

/* The bytes of the round under way the target has not acknowledged: its pages not yet
 * queued, and what lwIP holds. Round 1's unread pages are taken to hold the all-zero
 * share the VM's last sample estimated, else the share seen so far. */
static uint64_t left_bytes(void)
{
	uint64_t left = mig_out.round_total - mig_out.next, zero = 0;

	if (!mig_out.list && mig_out.model_in.zero_pages)
		zero = mig_out.model_in.zero_pages - MIN(mig_out.zero_pages,
							 mig_out.model_in.zero_pages);
	else if (!mig_out.list && mig_out.next)
		zero = left * mig_out.zero_pages / mig_out.next;
	return precopy_bytes(left, MIN(zero, left)) + (stream.sent - stream.acked);
}

/* The guest's dirty rate as measured: the round under way's once it ran a second (so a
 * round's start does not read as idle), else the last round's, else the policy's last
 * sample of it. */
static uint64_t measured_rate(uint64_t dirtied, uint64_t round_ms)
{
	if (round_ms >= 1000)
		return dirtied * 1000 / round_ms;
	return mig_out.round > 1 ? mig_out.dirty_rate : mig_out.model_in.dirty_rate;
}

/* Writes a second besides the hot pages, as the model takes them (precopy_in.dirty_rate),
 * from the distinct pages dirtied in round_ms */
static uint64_t cold_rate(const struct vm *vm, uint64_t dirtied, uint64_t round_ms)
{
	uint64_t hot = MIN(mig_out.model_in.hot_pages, dirtied);

	return precopy_write_rate(dirtied - hot, mig_out.wss, vm->mem_size / WIRE_PAGE,
				  round_ms);
}

/* The model's rate in the round under way once it ran a second, as measured_rate() */
static uint64_t write_rate(const struct vm *vm, uint64_t dirtied, uint64_t round_ms)
{
	if (round_ms < 1000)
		return mig_out.round > 1 ? mig_out.copy_rate : mig_out.model_in.dirty_rate;
	return cold_rate(vm, dirtied, round_ms);
}

/* ... and as it would be unthrottled (the model throttles as tern does) */
static uint64_t full_rate(const struct vm *vm, uint64_t dirtied, uint64_t round_ms)
{
	return write_rate(vm, dirtied, round_ms) * 100 / (100 - MIN(mig_out.throttle_pct, 99u));
}

/* The model's inputs as the migration measured them by now, the guest having dirtied
 * `dirtied` pages in the ms the round under way has run */
static struct precopy_in model_now(const struct vm *vm, uint64_t dirtied, uint64_t ms)
{
	struct precopy_in in = mig_out.model_in;

	in.mem_pages = vm->mem_size / WIRE_PAGE;
	in.wss_pages = mig_out.wss;
	in.bandwidth = bandwidth();
	/* the model's two rates (migrate/precopy.h): under the migration, the last
	 * unthrottled round's (the round under way's until one ended); without one, the
	 * policy's sample, never below the other */
	in.copy_rate = mig_out.copy_rate ? mig_out.copy_rate : full_rate(vm, dirtied, ms);
	in.dirty_rate = MAX(mig_out.model_in.dirty_rate, in.copy_rate);
	in.downtime_limit_ms = (uint32_t)mig_params.downtime_limit_ms;
	in.inflight_bytes = TCP_SND_BUF;
	return in;
}

/* The rest of the migration by the model (migrate/precopy.h), from the rates measured
 * so far: the goodput, the dirty rate, the working set (mig_out.wss). False
 * while no bandwidth is measured, and in the copy's first second, whose goodput (the
 * connection's first acknowledgements) put the time left at 107 s for a 5 s migration. */
static bool estimate(struct vm *vm, struct precopy_out *out)
{
	uint64_t ms = time_now_ms() - mig_out.round_start_ms;
	uint64_t dirtied = mig_out.stage == MIG_ITERATE ? dirty_pending(vm) : 0;
	struct precopy_in in = model_now(vm, dirtied, ms);
	struct precopy_now now = {
		.round = mig_out.round,
		.round_pages = mig_out.round_total,
		.left_bytes = left_bytes(),
		.round_ms = ms,
		.dirtied = dirtied,
		.flat = mig_out.flat,
		.throttle_pct = mig_out.throttle_pct,
		.paused = mig_out.stage != MIG_ITERATE,
	};

	in.converge = mig_params.converge;
	in.max_rounds = (uint32_t)mig_params.max_rounds;
	precopy_estimate(&in, &now, out);
	return in.bandwidth && time_now_ms() - mig_out.iterate_start_ms >= 1000;
}

uint64_t mig_send_remaining_ms(void)
{
	struct vm *vm = the_vm();
	struct precopy_out e;

	if (mig_out.stage == MIG_DONE)
		return 0;
	if (mig_out.stage < MIG_ITERATE || mig_out.stage > MIG_ACTIVATE || !vm ||
	    !estimate(vm, &e))
		return PRECOPY_NEVER;
	return e.total_ms;
}

/* "1.2 s" or "45 ms" (unit "s" or "ms"), "?" when unknown */
static void ms_text(char *buf, size_t size, uint64_t ms, bool seconds)
{
	if (ms == PRECOPY_NEVER)
		fmt_snprintf(buf, size, "?");
	else if (seconds)
		fmt_snprintf(buf, size, "%llu.%llu s", (unsigned long long)(ms / 1000),
			     (unsigned long long)(ms / 100 % 10));
	else
		fmt_snprintf(buf, size, "%llu ms", (unsigned long long)ms);
}

/* Once a second of the iterative copy, a line the operator sees move: the round and
 * how much of it is queued, the goodput over that second and the dirty rate, the pause
 * and the time left as the model expects them now. None during the pause: each line
 * holds tern on the console for a few ms. The first estimate is the prediction when
 * the model had none at the start. */
static void progress_tick(struct vm *vm)
{
	uint64_t now = time_now_ms(), dt = now - mig_out.progress_ms;
	struct precopy_out e;
	char pause[24], left[24];

	if (now < mig_out.next_progress_ms || !dt)
		return;
	uint64_t bps = (stream.acked - mig_out.progress_acked) * 1000 / dt;
	uint64_t rate = measured_rate(dirty_pending(vm), now - mig_out.round_start_ms);
	mig_out.pages_per_s = (mig_out.pages_sent - mig_out.progress_pages) * 1000 / dt;
	mig_out.progress_ms = now;
	mig_out.progress_pages = mig_out.pages_sent;
	mig_out.progress_acked = stream.acked;
	mig_out.next_progress_ms = now + 1000;
	if (!estimate(vm, &e)) {
		e.total_ms = e.downtime_ms = PRECOPY_NEVER;
	} else if (mig_out.predicted_after_ms == PRECOPY_NEVER) {
		mig_out.predicted_downtime_ms = e.downtime_ms;
		mig_out.predicted_after_ms = now - mig_out.start_ms;
	}
	ms_text(pause, sizeof(pause), e.downtime_ms, false);
	ms_text(left, sizeof(left), e.total_ms, true);
	mon_event("migration vm%d: round %u %llu%%, %llu.%02llu MB/s, dirty %llu pages/s, "
		  "downtime ~%s, %s left", mig_out.vm_id, mig_out.round,
		  (unsigned long long)(mig_out.next * 100 / MAX(mig_out.round_total, 1ULL)),
		  (unsigned long long)(bps / 1000000), (unsigned long long)(bps / 10000 % 100),
		  (unsigned long long)rate, pause, left);
}

/* At a round's end: go on with another round, or stop and copy the rest (SDM of the
 * seed design: when the pause it would take is under the limit, or rounds stopped
 * shrinking, or there were too many). */
static bool should_stop(const struct vm *vm, uint64_t pending, uint64_t ms)
{
	/* The pause also waits for what is still in lwIP's buffers (a round ends when its
	 * pages are queued, and a round of zero-page markers queues at once), or for the
	 * pages dirtied while those cross first (drain_pays()). No acknowledgement yet means no
	 * bandwidth known: only an empty pipe is cheap. */
	struct precopy_in in = model_now(vm, pending, ms);
	uint64_t bytes = precopy_pause_bytes(&in, mig_out.throttle_pct, pending,
					     stream.sent - stream.acked), us;

	mig_out.bandwidth = in.bandwidth;
	in.digest_bps = mig_out.full_digest ? PRECOPY_DIGEST_BPS : 0;
	us = in.bandwidth || bytes ? precopy_pause_us(&in, bytes) : 0;
	mig_out.expected_downtime_ms = us == PRECOPY_NEVER ? UINT64_MAX : DIV_UP(us, 1000);
	mig_out.remaining = pending;
	converge_note_round(&mig_out.flat, mig_out.round, mig_out.throttle_pct, pending);
	if (precopy_pause_fits(&in, us))
		mig_out.stop_why = MIG_STOP_CONVERGED;
	else if (mig_out.round >= mig_params.max_rounds)
		mig_out.stop_why = MIG_STOP_ROUND_LIMIT;
	/* auto-converge slows a guest that does not shrink instead of giving up on it,
	 * until its throttle can go no higher */
	else if (converge_gave_out(&mig_params.converge, &mig_out.flat))
		mig_out.stop_why = MIG_STOP_NOT_SHRINKING;
	else
		return false;
	return true;
}

/* Another round follows: when this one did not shrink the work enough, the guest's CPU
 * is throttled, more each such round (migrate/converge.h). */
static void converge(struct vm *vm, uint64_t pending)
{
	uint32_t pct = converge_throttle(&mig_params.converge, mig_out.throttle_pct,
					 mig_out.round_sent, pending);

	if (pct == mig_out.throttle_pct)
		return;
	throttle(vm, pct);
	mon_event("migration vm%d: round %u sent %llu pages while %llu were dirtied: throttling "
		  "the guest's CPU by %u %%", mig_out.vm_id, mig_out.round,
		  (unsigned long long)mig_out.round_sent, (unsigned long long)pending, pct);
}

/* What the iterative copy leaves in flight may cross before the pause instead of in it:
 * worth it while the guest dirties fewer bytes meanwhile than there are
 * (precopy_drain_pages(), as the stop rule counted). The pause then waits only for
 * what a receiver's delayed ACK may hold back. */
#define DRAIN_LEFT (2 * TCP_MSS)

static bool drain_pays(const struct vm *vm, uint64_t pending, uint64_t ms)
{
	struct precopy_in in = model_now(vm, pending, ms);
	uint64_t carry = stream.sent - stream.acked;

	return carry > DRAIN_LEFT &&
	       precopy_drain_pages(&in, mig_out.throttle_pct, carry) != PRECOPY_NEVER;
}

static void stop_and_copy(struct vm *vm)
{
	if (vm->state == VM_RUNNING) {
		vm_pause(vm);
		mig_out.paused_by_us = true;
	}
	mig_out.pause_ms = time_now_ms();
	mig_out.pause_tsc = rdtsc();
	mig_out.pause_run_tsc = vm->run_tsc;
	mig_out.iterate_ms = mig_out.pause_ms - mig_out.iterate_start_ms;
	mig_out.iterate_acked = stream.acked;
	mig_out.pause_inflight = stream.sent - stream.acked;
	if (!enter(MIG_STOPCOPY))
		round_begin(vm, false);
}

/* After the last pages: each device's record, in HELLO's order, as lwIP takes them.
 * The digest begins with memory (the whole RAM too when asked: it reads all of it, so
 * once) and folds each record as it goes out. True when all went. */
static bool send_records(struct vm *vm)
{
	static uint8_t buf[WIRE_RECORD_MAX];
	struct pc_record recs[PC_NR_RECORDS];
	uint64_t t0 = rdtsc();
	unsigned n = pc_records(vm, recs);

	if (!mig_out.digest_begun) {
		digest = mem_sum;
		if (mig_out.full_digest)
			digest = vm_mem_fold(vm, digest, wire_digest_mem);
		mig_out.digest_begun = true;
	}
	while (mig_out.records_sent < n) {
		const struct pc_record *r = &recs[mig_out.records_sent];
		struct msg m = { .type = MSG_RECORD };

		strlcpy(m.u.record.name, r->desc->name, sizeof(m.u.record.name));
		m.u.record.version = r->desc->version;
		m.u.record.len = (uint32_t)vms_encode(r->desc, r->rec, buf); /* fits: list_records */
		m.u.record.data = buf;
		uint64_t sent = stream.sent;
		if (mstream_send(&stream, &m))
			break; /* no room yet: the rest on a later turn */
		mig_out.device_bytes += stream.sent - sent;
		digest = wire_digest_record(digest, &m);
		mig_out.records_sent++;
	}
	mig_out.device_tsc += rdtsc() - t0;
	return mig_out.records_sent == n;
}

/* After the records: each application processor's state and local APIC, in index
 * order, folded into the digest as the records are. True when all went. */
static bool send_vcpus(struct vm *vm)
{
	static uint8_t apic[WIRE_RECORD_MAX];
	static struct msg m;
	uint64_t t0 = rdtsc();

	while (mig_out.vcpus_sent + 1 < vm->nr_vcpus) {
		unsigned i = mig_out.vcpus_sent + 1;
		struct vcpu *v = vm->vcpus[i];
		uint64_t sent = stream.sent;

		if (!mstream_room(&stream, WIRE_HDR + WIRE_MAX_PAYLOAD))
			break; /* built once, when it can go */
		memset(&m, 0, sizeof(m));
		m.type = MSG_VCPU;
		m.u.vcpu.index = i;
		m.u.vcpu.mp = v->mp;
		m.u.vcpu.sipi_vector = v->sipi_vector;
		vcpu_get_state(v, &m.u.vcpu.cpu);
		/* read apart from the BSP's: its clock goes as the distance between them */
		m.u.vcpu.cpu.tsc = (uint64_t)(v->tsc_offset - vm->vcpu->tsc_offset);
		m.u.vcpu.apic_len = (uint32_t)vms_encode(&lapic_vms, pc_apic_record(vm, i, true),
							 apic);
		m.u.vcpu.apic = apic;
		if (mstream_send(&stream, &m))
			break;
		mig_out.cpu_state_bytes += stream.sent - sent;
		digest = wire_digest_record(digest, &m);
		mig_out.vcpus_sent++;
	}
	mig_out.device_tsc += rdtsc() - t0;
	return mig_out.vcpus_sent + 1 >= vm->nr_vcpus;
}

static bool send_state(struct vm *vm)
{
	static struct msg m;

	/* room first: the state is built once, when it can go */
	if (!mstream_room(&stream, WIRE_HDR + WIRE_MAX_PAYLOAD))
		return false;
	memset(&m, 0, sizeof(m));
	m.type = MSG_STATE;
	vcpu_get_state(vm->vcpu, &m.u.state.cpu);
	m.u.state.digest = wire_digest_state(digest, &m);
	uint64_t sent = stream.sent;
	if (mstream_send(&stream, &m))
		return false;
	mig_out.cpu_state_bytes += stream.sent - sent;
	/* the guest's last exit: it cannot run again here (ran_since_pause), and one that
	 * was inside its slice on another CPU at the pause left it after pause_tsc */
	mig_out.pause_lead_ms = vm->last_out_tsc < mig_out.pause_tsc ?
		dev_muldiv(mig_out.pause_tsc - vm->last_out_tsc, 1000, time_tsc_hz()) : 0;
	mig_out.state_ms = time_now_ms();
	mig_out.state_end = stream.sent;
	enter(MIG_COMMIT);
	return true;
}

/* The target's image is the source's at the pause only if the guest has not run since:
 * the last pages were read and the digest folded while it was paused, and nothing may
 * resume it before the commit (the operator's cont is refused: struct vm_owner). Should
 * anything have, the migration fails here rather than complete with a stale copy. */
static bool ran_since_pause(struct vm *vm)
{
	if (vm->state == VM_PAUSED && vm->run_tsc == mig_out.pause_run_tsc)
		return false;
	fail("vm%d ran after the pause: the target's copy would be stale", vm->id);
	return true;
}

static void iterate(struct vm *vm)
{
	if (!pump_pages(vm))
		return;
	/* the round is queued: tell the target (once: the state may wait for room), then
	 * decide */
	if (!mig_out.round_told) {
		struct msg r = { .type = MSG_ROUND,
				 .u.round = { mig_out.round, (uint32_t)mig_out.round_sent } };
		if (mstream_send(&stream, &r))
			return;
		mig_out.round_told = true;
	}
	if (mig_out.stage == MIG_STOPCOPY) {
		if (ran_since_pause(vm))
			return;
		mig_out.final_pages = mig_out.round_sent;
		if (send_records(vm) && send_vcpus(vm))
			send_state(vm);
		return;
	}
	if (mig_out.draining) {
		if (stream.held || stream.sent - stream.acked > DRAIN_LEFT)
			return;
		mig_out.drain_ms = time_now_ms() - mig_out.drain_start_ms;
		stop_and_copy(vm);
		return;
	}
	uint64_t pending = dirty_pending(vm), ms = time_now_ms() - mig_out.round_start_ms;
	/* the pages this round sends were dirtied in the last: the ones written in both
	 * tell the working set (none in round 1, which sends the RAM) */
	uint64_t wss = precopy_wss(mig_out.round_total, pending, dirty_overlap(vm),
				   mig_out.model_in.hot_pages);
	if (mig_out.round > 1 && wss)
		mig_out.wss = wss;
	mig_out.dirty_rate = ms ? pending * 1000 / ms : 0;
	if (!mig_out.throttle_pct && ms)
		mig_out.copy_rate = cold_rate(vm, pending, ms);
	if (mig_out.round == 1)
		mig_out.round1_rate = mig_out.copy_rate;
	bool stop = should_stop(vm, pending, ms);
	progress_line();
	if (stop && drain_pays(vm, pending, ms)) {
		mig_out.draining = true;
		mig_out.drain_start_ms = time_now_ms();
		mig_out.drain_bytes = stream.sent - stream.acked;
	} else if (stop) {
		stop_and_copy(vm);
	} else {
		converge(vm, pending);
		round_begin(vm, false);
	}
}

static const char *const stop_why_text[] = {
	[MIG_STOP_CONVERGED] = "",
	[MIG_STOP_ROUND_LIMIT] = ", stopped at the round limit",
	[MIG_STOP_NOT_SHRINKING] = ", stopped as rounds no longer shrank",
};

static const char *peak_text(void)
{
	static char text[40];

	text[0] = 0;
	if (mig_out.throttle_peak)
		fmt_snprintf(text, sizeof(text), ", CPU throttled up to %u %%",
			     mig_out.throttle_peak);
	return text;
}

/* The pause the model predicted, beside the measured one: at the start, or (no
 * sample or link figure then) from the first second's rates. */
static const char *predicted_text(void)
{
	static char text[48];

	text[0] = 0;
	if (mig_out.predicted_after_ms == 0)
		fmt_snprintf(text, sizeof(text), " (predicted %llu ms)",
			     (unsigned long long)mig_out.predicted_downtime_ms);
	else if (mig_out.predicted_after_ms != PRECOPY_NEVER)
		fmt_snprintf(text, sizeof(text), " (predicted %llu ms at %llu.%llu s)",
			     (unsigned long long)mig_out.predicted_downtime_ms,
			     (unsigned long long)(mig_out.predicted_after_ms / 1000),
			     (unsigned long long)(mig_out.predicted_after_ms / 100 % 10));
	return text;
}

static void complete(struct vm *vm, uint32_t new_id)
{
	char ip[20];
	uint64_t now = time_now_ms();

	net_format_ip4(ip, sizeof(ip), mig_out.ip);
	mig_out.downtime_ms = now - mig_out.pause_ms;
	mig_out.total_ms = now - mig_out.start_ms;
	mig_out.bandwidth = bandwidth();
	mig_out.target_vm_id = new_id;
	mig_out.stage = MIG_DONE;
	autopolicy_migrated(mig_out.ip, mig_out.iterate_acked, mig_out.iterate_ms);
	if (vm)
		autopolicy_copied(vm->home, mig_out.model_in.dirty_rate, mig_out.round1_rate);
	mstream_close(&stream);
	terms_free();
	sched_hurry(&hurrying, false);
	throttle(vm, 0);
	disown();
	mon_event("migration vm%d -> %s: completed, downtime %llu ms%s, total %llu ms, %llu pages "
		  "in %u rounds%s%s", mig_out.vm_id, ip, (unsigned long long)mig_out.downtime_ms,
		  predicted_text(), (unsigned long long)mig_out.total_ms,
		  (unsigned long long)mig_out.pages_sent, mig_out.round,
		  stop_why_text[mig_out.stop_why], peak_text());
	if (mig_out.predicted)
		mon_event("migration vm%d: the model predicted downtime %llu ms, total %llu ms, %u "
			  "rounds; measured downtime %llu ms, total %llu ms, %u rounds", mig_out.vm_id,
			  (unsigned long long)mig_out.prediction.downtime_ms,
			  (unsigned long long)mig_out.prediction.total_ms, mig_out.prediction.rounds,
			  (unsigned long long)mig_out.downtime_ms, (unsigned long long)mig_out.total_ms,
			  mig_out.round);
	else
		mon_event("migration vm%d: no model prediction (dirty rate not sampled or link not "
			  "measured yet)", mig_out.vm_id);
	if (vm)
		vm_discard(vm);
}

static void handle(struct vm *vm, const struct msg *m)
{
	if (m->type == MSG_ABORT) {
		fail("the target gave up: %s", m->u.abort.reason);
	} else if (mig_out.stage == MIG_RESERVE && m->type == MSG_RESERVED) {
		char err[160];
		if (!m->u.reserved.ok) {
			fail("the target refused: %s", m->u.reserved.reason);
			return;
		}
		if (dirty_start(vm, hv_caps()->dirty_log ? DIRTY_PML : DIRTY_WP, err, sizeof(err))) {
			fail("%s", err);
			return;
		}
		if (enter(MIG_ITERATE))
			return;
		mig_out.iterate_start_ms = mig_out.progress_ms = time_now_ms();
		mig_out.next_progress_ms = mig_out.iterate_start_ms + 1000;
		round_begin(vm, true);
	} else if (mig_out.stage == MIG_COMMIT && m->type == MSG_COMMIT) {
		struct msg a = { .type = MSG_ACTIVATE };
		if (!m->u.commit.ok) {
			fail("the target found the image incomplete: %s", m->u.commit.reason);
			return;
		}
		if (ran_since_pause(vm))
			return;
		mig_out.commit_ms = time_now_ms();
		if (!mig_out.wire_ms)
			mig_out.wire_ms = mig_out.commit_ms;
		/* The paused guest's TSC ran on; the target starts it from where it is now, so
		 * the guest's clock loses only the message's way there. */
		a.u.activate.tsc = vcpu_tsc(vm->vcpu);
		/* From here the target owns the VM; this host never resumes it on its own. */
		if (mstream_send(&stream, &a) == 0)
			enter(MIG_ACTIVATE);
		else
			fail("cannot send the activation");
	} else if (mig_out.stage == MIG_ACTIVATE && m->type == MSG_ACTIVATED) {
		complete(vm, m->u.activated.vm_id);
	} else {
		fail("unexpected message %d from the target", m->type);
	}
}

void mig_send_poll(void)
{
	struct vm *vm;
	struct msg m;
	char err[96];
	int r;

	if (mig_out.stage == MIG_NONE || mig_out.stage >= MIG_DONE)
		return;
	vm = the_vm();
	if (!vm || (vm->state != VM_RUNNING && vm->state != VM_PAUSED)) {
		fail("the VM ended");
		return;
	}
	/* the pause's last byte across (an answer may carry its ACK: then as late as that) */
	if (mig_out.stage == MIG_COMMIT && !mig_out.wire_ms && stream.acked >= mig_out.state_end)
		mig_out.wire_ms = time_now_ms();
	while (mig_out.stage < MIG_DONE && (r = mstream_recv(&stream, 0, &m, err, sizeof(err))) == 1)
		handle(vm, &m);
	if (mig_out.stage >= MIG_DONE)
		return;
	if (r < 0) {
		fail("bad message from the target: %s", err);
		return;
	}
	if (stream.closed) {
		fail("%s", stream.error[0] ? stream.error : "connection closed");
		return;
	}
	if (time_now_ms() - stream.last_progress_ms > MIGRATE_STALL_MS) {
		/* a silent peer gets no goodbye: closing would keep our queue alive,
		 * retransmitting for minutes, in lwIP's shared segment pool */
		mstream_abort(&stream, "no progress");
		fail("no progress for %d s", MIGRATE_STALL_MS / 1000);
		return;
	}
	if (mig_out.stage == MIG_INIT && mstream_ready(&stream)) {
		mig_out.handshake_us = stream.handshake_us;
		send_hello(vm);
	}
	else if (mig_out.stage == MIG_ITERATE || mig_out.stage == MIG_STOPCOPY)
		iterate(vm);
	if (mig_out.stage == MIG_ITERATE)
		progress_tick(vm);
}

static int cancel(struct vm *vm, const char *why, char *err, size_t err_size)
{
	if (!mig_send_busy() || mig_out.vm_id != vm->id) {
		fmt_snprintf(err, err_size, "no migration of vm%d is under way", vm->id);
		return -E_NOENT;
	}
	if (mig_out.stage >= MIG_ACTIVATE) {
		fmt_snprintf(err, err_size, "too late: the target owns vm%d already", vm->id);
		return -E_BUSY;
	}
	fail("cancelled %s", why);
	return 0;
}

int mig_send_cancel(const char *name, char *err, size_t err_size)
{
	struct vm *vm = vm_find(name);

	if (!vm || mig_out.vm_id != vm->id || !mig_send_busy()) {
		fmt_snprintf(err, err_size, "no migration of '%s' is under way", name);
		return -E_NOENT;
	}
	return cancel(vm, "by the operator", err, err_size);
}
