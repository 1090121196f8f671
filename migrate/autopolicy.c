#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/dirty.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/load.h"
#include "hv/monitor.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/sched.h"
#include "hv/time.h"
#include "hv/vm.h"
#include "migrate/autopolicy.h"
#include "migrate/cluster.h"
#include "migrate/discovery.h"
#include "migrate/send.h"
#include "net/addr.h"
#include "net/net.h"
#include "lwip/opt.h"
#include "hv/backend.h"
#include "hv/vcpu.h"

#define SAMPLE_MS 1000 /* a VM's dirty rate is sampled over three windows this long, one
			* after the other (ad mode: no exits), every sample-every seconds
			* (default 15; 0: never): the pages dirtied in two and in all three
			* tell its hot pages and working set (precopy_sets()) */
/* Pages read at the end of a sample to estimate the all-zero ones: at most 1 MiB read
 * (a page in use usually differs from zero in its first words), about 12 ms under Bochs. */
#define ZERO_PROBES 256

struct vm_figures {
	int id;
	uint64_t dirty_rate, wss_pages, hot_pages, zero_pages;
	uint64_t sampled_ms;
	uint64_t last_runnable_us, last_ms, load_pct; /* its share: hv/load.h */
	uint64_t arrived_ms; /* 0: never moved here */
	struct policy_backoff backoff; /* after a failed move of it */
};

static struct policy_params params = POLICY_DEFAULTS;
static uint32_t sample_every_s = 15;
static uint32_t x_refuse; /* test-only: refuse every policy's request, as a target */
static bool on;
/* What sampling cost: tern's time starting, reading and stopping samples, which on one
 * CPU is time taken from guests (tests/bench/sampling.py measures the rest). */
static uint64_t samples, sample_cost_us;
static struct vm_figures figs[VM_MAX];
static struct sampling {
	int vm_id;
	unsigned window;    /* the one under way, 0..2 */
	uint64_t begin_ms;  /* the first one's start */
	uint64_t start_ms;  /* its start */
	uint64_t n[3];      /* pages each window dirtied */
	uint64_t o12;       /* of them, in the first two (at the front of the second's log) */
} sampling;
static uint64_t next_tick_ms, high_since_ms, last_said_ms, decisions;
static uint64_t sent_ms[PEERS_MAX]; /* per peer slot: when it last received a VM from us */
static uint32_t sent_ip[PEERS_MAX];
/* The migration the policy started, so that a failure backs off that peer and that VM
 * and lets the others be tried; the overload keeps the time it had been high. */
static struct {
	int vm_id;
	uint32_t ip;
	uint64_t high_since_ms, sent_before;
} started;
static struct {
	uint32_t ip;
	struct policy_backoff b;
} peer_backoff[PEERS_MAX];
/* What a guest dirties while a migration from this host copies it, in % of the policy's
 * sample of it running alone, by the CPU the VM runs on: as the last completed migration
 * of a VM at home there measured it in round 1. 0: none measured. The sender shares
 * CPU 0 with the guests at home there: under Bochs a guest on CPU 0 dirtied a third of
 * its sample in round 1 in every row of the README's grid (33-37 %), and the model, given
 * the sample alone, throttled a guest past the link through rounds it never ran. Round
 * 1 because it is the longest window and the one the model's total hangs on; the later,
 * shorter rounds read 43-85 % of the sample, fewer of their pages written twice. */
static uint32_t copy_pct[PCPU_MAX];
/* Rates under this many pages/s say too little of a guest's share of the CPU: an idle
 * guest's 1 page/s, or a sample that caught a burst (memtouch filling its memory) of a
 * guest quiet by the time it migrated, whose 0 would have the model expect the next
 * guest to dirty nothing. */
#define COPY_RATE_MIN 32
static struct policy_attempts recent; /* the last reservation attempts, for the cap */
static uint64_t attempts;
static char last_decision[200] = "none";

static struct vm_figures *fig(const struct vm *vm)
{
	struct vm_figures *free_slot = NULL;

	for (int i = 0; i < VM_MAX; i++) {
		if (figs[i].id == vm->id)
			return &figs[i];
		if (!free_slot && !vm_find_id(figs[i].id))
			free_slot = &figs[i];
	}
	if (free_slot)
		*free_slot = (struct vm_figures){ .id = vm->id,
						  .last_runnable_us = vm->runnable_us,
						  .last_ms = time_now_ms() };
	return free_slot;
}

/* The cheapest mode the CPU offers: EPT dirty flags cost no exits at all. */
static enum dirty_mode sample_mode(void)
{
	return hv_caps()->dirty_flags ? DIRTY_AD : hv_caps()->dirty_log ? DIRTY_PML : DIRTY_WP;
}

/* The all-zero pages of vm, estimated from ZERO_PROBES pages evenly spread over its
 * RAM, at an offset that moves on with every sample so that, in time, all are read. */
static uint64_t estimate_zero(const struct vm *vm)
{
	uint64_t n = vm->mem_size / PAGE_SIZE, stride = MAX(1, n / ZERO_PROBES);
	uint64_t probed = 0, zero = 0;

	for (uint64_t p = samples % stride; p < n; p += stride, probed++)
		zero += vm_page_zero(vm, p);
	return probed ? zero * n / probed : 0;
}

/* The end of a sampling window of vm: true after the third, with its figures kept. */
static bool sample_window(struct vm *vm, uint64_t now)
{
	unsigned w = sampling.window++;
	struct vm_figures *f;
	struct precopy_sets sets;
	uint64_t all3, o23;

	sampling.start_ms = now;
	if (w == 0) {
		sampling.n[0] = dirty_sync(vm);
		return false;
	}
	if (w == 1) {
		dirty_pending(vm);
		sampling.o12 = dirty_overlap_front(vm);
		sampling.n[1] = dirty_sync(vm);
		return false;
	}
	sampling.n[2] = dirty_pending(vm);
	o23 = dirty_overlap(vm);
	all3 = dirty_overlap_of(vm, sampling.o12);
	dirty_stop(vm);
	samples++;
	if (!(f = fig(vm)))
		return true;
	precopy_sets(sampling.n, sampling.o12, o23, all3, &sets);
	/* distinct pages a second, as the windows saw them */
	f->dirty_rate = (sampling.n[0] + sampling.n[1] + sampling.n[2]) * 1000 /
			MAX(now - sampling.begin_ms, 1);
	f->hot_pages = sets.hot_pages;
	f->wss_pages = sets.wss_pages;
	f->zero_pages = estimate_zero(vm);
	f->sampled_ms = now;
	return true;
}

/* Load shares every tick; one VM's dirty rate at a time, in short windows. */
static void measure(uint64_t now)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		struct vm_figures *f;
		if (!vm || (vm->state != VM_RUNNING && vm->state != VM_PAUSED) || !(f = fig(vm)))
			continue;
		if (now > f->last_ms)
			f->load_pct = MIN(100, (vm->runnable_us - f->last_runnable_us) / 10 /
						  (now - f->last_ms));
		f->last_runnable_us = vm->runnable_us;
		f->last_ms = now;
	}
	if (sampling.vm_id) {
		struct vm *vm = vm_find_id(sampling.vm_id);
		bool done = false;
		if (vm && vm->dirty.sample && now - sampling.start_ms >= SAMPLE_MS) {
			uint64_t t0 = time_now_us();
			done = sample_window(vm, now);
			sample_cost_us += time_now_us() - t0;
		}
		if (!vm || !vm->dirty.sample || done)
			sampling = (struct sampling){ 0 };
		return;
	}
	if (mig_send_busy())
		return; /* the migration tracks its own VM; leave the others be meanwhile */
	if (!sample_every_s)
		return;
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		struct vm_figures *f;
		char err[160];
		if (!vm || vm->state != VM_RUNNING || vm->owner || vm->dirty.mode != DIRTY_OFF ||
		    !(f = fig(vm)))
			continue;
		if (f->sampled_ms && now - f->sampled_ms < sample_every_s * 1000ull)
			continue;
		uint64_t t0 = time_now_us();
		int e = dirty_start_sample(vm, sample_mode(), err, sizeof(err));
		sample_cost_us += time_now_us() - t0;
		if (e == 0) {
			sampling = (struct sampling){ .vm_id = vm->id, .begin_ms = now,
						      .start_ms = now };
		} else {
			f->sampled_ms = now; /* no shadow room now: try later */
		}
		return;
	}
}

static uint64_t *peer_sent(uint32_t ip)
{
	for (int i = 0; i < PEERS_MAX; i++)
		if (sent_ip[i] == ip)
			return &sent_ms[i];
	for (int i = 0; i < PEERS_MAX; i++)
		if (!sent_ip[i]) {
			sent_ip[i] = ip;
			sent_ms[i] = 0;
			return &sent_ms[i];
		}
	return &sent_ms[0];
}

static struct policy_backoff *backoff_of(uint32_t ip)
{
	int slot = 0;

	for (int i = 0; i < PEERS_MAX; i++) {
		if (peer_backoff[i].ip == ip)
			return &peer_backoff[i].b;
		if (peer_backoff[i].b.until_ms < peer_backoff[slot].b.until_ms)
			slot = i; /* else the one whose back-off ended first */
	}
	peer_backoff[slot].ip = ip;
	peer_backoff[slot].b = (struct policy_backoff){ 0 };
	return &peer_backoff[slot].b;
}

static void age_backoffs(uint64_t now)
{
	for (int i = 0; i < PEERS_MAX; i++)
		policy_backoff_age(&params, &peer_backoff[i].b, now);
	for (int i = 0; i < VM_MAX; i++)
		policy_backoff_age(&params, &figs[i].backoff, now);
}

/* A move of vm_id to ip failed, or could not start: both back off, each twice as long
 * as the last time, so that whatever the peers answer the policy never retries in a
 * loop. Says so, with the reason. */
static void back_off(int vm_id, uint32_t ip, const char *why, uint64_t now)
{
	struct vm *vm = vm_find_id(vm_id);
	struct vm_figures *f = vm ? fig(vm) : NULL;
	uint64_t peer_ms = policy_backoff_fail(&params, backoff_of(ip), now), vm_ms = 0;
	char addr[20];

	if (f)
		vm_ms = policy_backoff_fail(&params, &f->backoff, now);
	net_format_ip4(addr, sizeof(addr), ip);
	mon_event("policy: vm%d did not move to %s (%s); backing off %s for %llu s and vm%d "
		  "for %llu s", vm_id, addr, why, addr, (unsigned long long)(peer_ms / 1000),
		  vm_id, (unsigned long long)(vm_ms / 1000));
}

/* How the policy's last migration ended: a failure (the target refused, or anything
 * else) backs off that peer and that VM; the next decision may take the others at
 * once. A success clears the peer's back-off. */
static void follow_up(uint64_t now)
{
	if (!started.vm_id)
		return;
	if (mig_out.vm_id != started.vm_id) { /* another migration came after it */
		started.vm_id = 0;
		return;
	}
	if (mig_out.stage != MIG_FAILED && mig_out.stage != MIG_DONE)
		return;
	if (mig_out.stage == MIG_FAILED) {
		*peer_sent(started.ip) = started.sent_before; /* it did not receive the VM */
		if (high_since_ms == 0)
			high_since_ms = started.high_since_ms;
		back_off(started.vm_id, started.ip, mig_out.error, now);
	} else {
		*backoff_of(started.ip) = (struct policy_backoff){ 0 };
	}
	started.vm_id = 0;
}

static size_t gather_peers(struct policy_peer *out, uint64_t now)
{
	const struct peer *t = discovery_peers();
	size_t n = 0;

	for (int i = 0; i < PEERS_MAX; i++) {
		const struct announce *a = &t[i].a;
		if (!t[i].used)
			continue;
		uint64_t sent = *peer_sent(a->ip);
		out[n++] = (struct policy_peer){
			.ip = a->ip, .end = { a->load, a->load_high, a->margin, a->capacity },
			.free_mib = a->free_mib, .vms = a->vms, .link_bps = t[i].link_bps,
			.rtt_ms = DIV_UP(t[i].rtt_us, 1000), .age_ms = now - t[i].heard_ms,
			.since_sent_ms = sent ? now - sent : UINT64_MAX,
			.backoff_ms = policy_backoff_left(backoff_of(a->ip), now),
			.receiving = a->flags & ANNOUNCE_RECEIVING,
		};
	}
	return n;
}

/* The working set the model is given: the sample's capture and recapture (0 when too
 * few pages were written in both windows to tell a set from ever new pages: the whole
 * RAM). One window's count alone is a rate, not a set: taken as a cap, it made the
 * model's later rounds 3x too small on the README's grid. */
static uint64_t model_wss(const struct vm *vm, const struct vm_figures *f)
{
	uint64_t mem = vm->mem_size / PAGE_SIZE;

	return f->wss_pages && f->wss_pages < mem ? f->wss_pages : mem;
}

/* The sample's rate as the model takes it: writes a second besides the hot pages, of
 * which those falling on pages written before in the window did not show
 * (precopy_in.dirty_rate). */
static uint64_t model_rate(const struct vm *vm, const struct vm_figures *f)
{
	return precopy_write_rate(f->dirty_rate - MIN(f->hot_pages, f->dirty_rate),
				  model_wss(vm, f), vm->mem_size / PAGE_SIZE, 1000);
}

/* The VM's expected dirty rate under a migration (precopy_in.copy_rate); 0: unknown. */
static uint64_t copy_rate(const struct vm *vm, uint64_t sampled)
{
	uint32_t pct = vm->home < PCPU_MAX ? copy_pct[vm->home] : 0;

	return pct ? MAX(sampled * pct / 100, 1) : 0;
}

static size_t gather_vms(struct policy_vm *out, uint64_t now)
{
	size_t n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		struct vm_figures *f;
		/* a VM something holds (one migrating already) is no candidate */
		if (!vm || vm->state != VM_RUNNING || vm->owner || !(f = fig(vm)) ||
		    !f->sampled_ms)
			continue;
		out[n++] = (struct policy_vm){
			.id = (uint32_t)vm->id, .mem_mib = (uint32_t)(vm->mem_size / MIB),
			.dirty_rate = model_rate(vm, f), .wss_pages = model_wss(vm, f),
			.load_pct = (uint32_t)f->load_pct, .zero_pages = f->zero_pages,
			.since_move_ms = f->arrived_ms ? now - f->arrived_ms : UINT64_MAX,
			.backoff_ms = policy_backoff_left(&f->backoff, now),
			.copy_rate = copy_rate(vm, model_rate(vm, f)),
			.hot_pages = f->hot_pages,
		};
	}
	return n;
}

/* A peer no migration has measured yet gets a short netperf probe first, in the
 * background (tern's loop never waits on a peer): one at a time, ended at a deadline. A
 * probe that fails backs the peer off, as a failed move does. */
#define PROBE_MIB 1
#define PROBE_DEADLINE_MS 10000
static struct {
	struct netperf np;
	uint32_t ip;
	uint64_t deadline_ms;
	bool on;
} probe;

static void probe_poll(uint64_t now)
{
	struct netperf_result r;
	char addr[20];
	int err;

	if (!probe.on)
		return;
	if (now >= probe.deadline_ms)
		netperf_cancel(&probe.np, "no result within the probe's deadline");
	err = netperf_poll(&probe.np, &r);
	if (err == NETPERF_RUNNING)
		return;
	probe.on = false;
	if (!err) {
		discovery_note_link(probe.ip, r.kb_per_s * 1000);
		return;
	}
	net_format_ip4(addr, sizeof(addr), probe.ip);
	mon_event("policy: link probe to %s failed (%s); backing it off for %llu s", addr, r.error,
		  (unsigned long long)(policy_backoff_fail(&params, backoff_of(probe.ip), now) /
				       1000));
}

static void probe_links(uint64_t now)
{
	const struct peer *t = discovery_peers();
	char addr[20];

	if (probe.on)
		return;
	for (int i = 0; i < PEERS_MAX; i++) {
		if (!t[i].used || t[i].link_bps || policy_backoff_left(backoff_of(t[i].a.ip), now))
			continue;
		probe.ip = t[i].a.ip;
		probe.deadline_ms = now + PROBE_DEADLINE_MS;
		probe.on = netperf_start(&probe.np, probe.ip, PROBE_MIB) == 0;
		net_format_ip4(addr, sizeof(addr), probe.ip);
		if (probe.on)
			mon_event("policy: measuring the link to %s (netperf, %d MiB)", addr,
				  PROBE_MIB);
		return;
	}
}

static uint32_t own_load(void)
{
	return load_percent(time_now_us(), params.load_window_s);
}

static void say_why(uint64_t now, uint32_t load, const char *why)
{
	if (now - last_said_ms < params.load_window_s * 1000ull)
		return;
	mon_event("policy: load %u%% >= %u%%, nothing moves: %s", load, params.load_high, why);
	last_said_ms = now;
}

/* Asks the peer to take the VM: announces this host first, so that the peer judges the
 * request from the load the choice was made with. */
static void start(const struct policy_decision *d, const struct policy_vm *moving,
		  uint64_t now)
{
	char err[160];

	discovery_announce_now();
	policy_attempt_note(&recent, now);
	attempts++;
	if (mig_send_start(vm_find_id((int)d->vm_id)->name, d->peer_ip, (uint16_t)MIGRATE_PORT,
			   MAX(moving->load_pct, 1u), err, sizeof(err)) == 0) {
		started.sent_before = *peer_sent(d->peer_ip);
		*peer_sent(d->peer_ip) = now;
		started.vm_id = (int)d->vm_id;
		started.ip = d->peer_ip;
		started.high_since_ms = high_since_ms;
		high_since_ms = 0; /* the window starts again once the load has moved */
	} else {
		mon_event("policy: cannot start: %s", err);
		back_off((int)d->vm_id, d->peer_ip, err, now);
	}
}

static void decide(uint64_t now)
{
	struct policy_peer peers[PEERS_MAX];
	struct policy_vm vms[VM_MAX];
	struct policy_host h;
	struct policy_decision d;
	uint64_t wait;
	char text[80];

	struct policy_end me;

	autopolicy_end(&me);
	h.load_pct = me.load_pct;
	if (!policy_overloaded(&me)) {
		high_since_ms = 0;
	} else {
		if (!high_since_ms)
			high_since_ms = now;
		probe_links(now);
	}
	h.high_for_ms = high_since_ms ? now - high_since_ms : 0;
	h.vms = vms;
	h.nvms = gather_vms(vms, now);
	h.peers = peers;
	h.npeers = gather_peers(peers, now);
	params.stop_limit_ms = (uint32_t)mig_params.downtime_limit_ms;
	params.digest_bps = mig_params.full_digest ? PRECOPY_DIGEST_BPS : 0;
	params.converge = mig_params.converge;
	params.max_rounds = (uint32_t)mig_params.max_rounds;
	params.inflight_bytes = TCP_SND_BUF;
	if (policy_choose(&params, &h, &d) != POLICY_MIGRATE) {
		if (d.why != POLICY_NOT_OVERLOADED)
			say_why(now, policy_share(h.load_pct, &me), d.text);
		return;
	}
	wait = policy_attempt_wait(&recent, now);
	if (wait) {
		fmt_snprintf(text, sizeof(text), "backing off: %u attempts in %llu s, the next in "
			     "%llu s", POLICY_ATTEMPTS, POLICY_ATTEMPTS_MS / 1000,
			     (unsigned long long)DIV_UP(wait, 1000));
		say_why(now, policy_share(h.load_pct, &me), text);
		return;
	}
	mon_event("policy: %s", d.text);
	decisions++;
	fmt_snprintf(last_decision, sizeof(last_decision), "%s", d.text);
	start(&d, &vms[d.vm], now);
}

void autopolicy_tick(void)
{
	uint64_t now = time_now_ms();

	probe_poll(now);
	if (now < next_tick_ms)
		return;
	next_tick_ms = now + 1000;
	follow_up(now);
	age_backoffs(now);
	measure(now);
	if (on && !mig_send_busy() && !sampling.vm_id)
		decide(now);
}

void autopolicy_end(struct policy_end *e)
{
	/* the CPUs that run guests: VT-x refused on one (or off everywhere) leaves it out,
	 * and an announcement says at least 100 */
	params.capacity_pct = 100 * MAX(sched_guest_cpus(), 1u);
	*e = (struct policy_end){ own_load(), params.load_high, params.margin_pct,
				  params.capacity_pct };
}

/* The source announced itself just before it asked, so its figures here are the ones
 * it chose by; this host's may have moved since it last announced them. */
bool autopolicy_refuses(uint32_t src_ip, uint32_t vm_pct, char *why, size_t why_size)
{
	const struct peer *t = discovery_peers(), *src = NULL;
	struct policy_end me, them;
	uint32_t said = discovery_self()->load;
	char text[120];

	if (x_refuse) {
		fmt_snprintf(why, why_size, "refusing every policy migration (x-refuse)");
		return true;
	}
	for (int i = 0; i < PEERS_MAX; i++)
		if (t[i].used && t[i].a.ip == src_ip)
			src = &t[i];
	if (!src) {
		fmt_snprintf(why, why_size, "the source's load is not known here (no announcement "
			     "heard)");
		return true;
	}
	them = (struct policy_end){ src->a.load, src->a.load_high, src->a.margin,
				    src->a.capacity };
	autopolicy_end(&me);
	if (policy_judge(&them, &me, vm_pct, text, sizeof(text)) == POLICY_MIGRATE)
		return false;
	if (me.load_pct != said)
		fmt_snprintf(why, why_size, "the loads changed: this host is at %u%%, announced "
			     "%u%%; %s", me.load_pct, said, text);
	else
		fmt_snprintf(why, why_size, "the loads changed: as announced now, %s", text);
	return true;
}

static const struct peer *peer_of(uint32_t ip)
{
	const struct peer *t = discovery_peers();

	for (int i = 0; i < PEERS_MAX; i++)
		if (t[i].used && t[i].a.ip == ip)
			return &t[i];
	return NULL;
}

bool autopolicy_model_in(int vm_id, uint32_t ip, struct precopy_in *in)
{
	struct vm *vm = vm_find_id(vm_id);
	const struct peer *p = peer_of(ip);
	struct vm_figures *f = vm ? fig(vm) : NULL;

	*in = (struct precopy_in){
		.mem_pages = vm ? vm->mem_size / PAGE_SIZE : 0,
		.downtime_limit_ms = (uint32_t)mig_params.downtime_limit_ms,
		.digest_bps = mig_params.full_digest ? PRECOPY_DIGEST_BPS : 0,
		.converge = mig_params.converge,
		.max_rounds = (uint32_t)mig_params.max_rounds,
		.inflight_bytes = TCP_SND_BUF, /* the migration stream's send buffer */
	};
	if (p) {
		in->bandwidth = p->link_bps;
		in->rtt_ms = DIV_UP(p->rtt_us, 1000); /* under 1 ms still costs one */
	}
	if (f && f->sampled_ms) {
		in->dirty_rate = model_rate(vm, f);
		in->copy_rate = copy_rate(vm, in->dirty_rate);
		in->wss_pages = model_wss(vm, f);
		in->hot_pages = f->hot_pages;
		in->zero_pages = f->zero_pages;
	}
	return vm && in->bandwidth && f && f->sampled_ms;
}

/* The link's speed in the model's unit: the bytes of pages and markers the target
 * acknowledged ÷ the iterative copy's length, the goodput the source itself measured
 * (the rate its stop rule and its estimate of the time left use). */
void autopolicy_migrated(uint32_t ip, uint64_t acked_bytes, uint64_t ms)
{
	if (ms)
		discovery_note_link(ip, acked_bytes * 1000 / ms);
}

void autopolicy_copied(uint32_t home, uint64_t sampled, uint64_t copy_rate)
{
	if (home < PCPU_MAX && sampled >= COPY_RATE_MIN && copy_rate >= COPY_RATE_MIN)
		copy_pct[home] = (uint32_t)MAX(MIN(copy_rate * 100 / sampled, 1000), 1);
}

void autopolicy_arrived(int vm_id)
{
	struct vm *vm = vm_find_id(vm_id);
	struct vm_figures *f = vm ? fig(vm) : NULL;

	if (f)
		f->arrived_ms = time_now_ms();
}

/* --- monitor --- */

int cmd_policy(int argc, char **argv)
{
	if (argc != 1 || (strcmp(argv[0], "on") && strcmp(argv[0], "off"))) {
		kprintf("error: usage: policy on|off\n");
		return -E_INVAL;
	}
	if (strcmp(argv[0], "on") == 0 && !cluster_check())
		return -E_AUTH;
	on = strcmp(argv[0], "on") == 0;
	high_since_ms = 0;
	kprintf("policy: %s\n", on ? "on" : "off");
	return 0;
}

int cmd_policy_set(int argc, char **argv)
{
	static const struct {
		const char *key;
		uint32_t *val;
		uint64_t min, max;
	} keys[] = {
		{ "load-high", &params.load_high, 1, 100 * VM_MAX }, /* one vCPU a VM */
		{ "load-window", &params.load_window_s, 1, LOAD_WINDOW_MAX },
		{ "cooldown", &params.cooldown_s, 0, 86400 },
		{ "downtime-max", &params.downtime_max_ms, 1, 600000 },
		{ "mem-reserve", &params.mem_reserve_mib, 0, 1u << 20 },
		{ "sample-every", &sample_every_s, 0, 3600 },
		{ "balance-margin", &params.margin_pct, 0, ANNOUNCE_LOAD_MAX },
		{ "x-refuse", &x_refuse, 0, 1 },
	};
	uint64_t v;

	for (size_t i = 0; argc == 2 && i < ARRAY_SIZE(keys); i++) {
		if (strcmp(argv[0], keys[i].key))
			continue;
		if (!parse_u64(argv[1], &v) || v < keys[i].min || v > keys[i].max) {
			kprintf("error: %s takes %llu..%llu\n", keys[i].key,
				(unsigned long long)keys[i].min, (unsigned long long)keys[i].max);
			return -E_INVAL;
		}
		*keys[i].val = (uint32_t)v;
		kprintf("%s: %llu\n", keys[i].key, (unsigned long long)v);
		return 0;
	}
	kprintf("error: usage: policy set load-high|load-window|cooldown|downtime-max|"
		"mem-reserve|sample-every|balance-margin|x-refuse <value>\n");
	return -E_INVAL;
}

static void show_backoff(const char *who, const struct policy_backoff *b, uint64_t now)
{
	uint64_t left = policy_backoff_left(b, now);

	if (b->fails)
		kprintf("backoff %s: %u failed, %llu s left\n", who, b->fails,
			(unsigned long long)DIV_UP(left, 1000));
}

int cmd_info_policy(int argc, char **argv)
{
	uint64_t now = time_now_ms();
	char who[20];

	struct policy_end me;

	autopolicy_end(&me);
	kprintf("state: %s\n", on ? "on" : "off");
	kprintf("load: %u\nload-share: %u\n", me.load_pct, policy_share(me.load_pct, &me));
	kprintf("load-high: %u\nload-window: %u\ncooldown: %u\ndowntime-max: %u\nmem-reserve: %u\n",
		params.load_high, params.load_window_s, params.cooldown_s, params.downtime_max_ms,
		params.mem_reserve_mib);
	kprintf("balance-margin: %u\ncapacity: %u\n", params.margin_pct, params.capacity_pct);
	kprintf("sample-every: %u\nsamples: %llu\nsample-cost-us: %llu\n", sample_every_s,
		(unsigned long long)samples, (unsigned long long)sample_cost_us);
	kprintf("copy-dirty-pct:");
	bool any = false;
	for (unsigned c = 0; c < PCPU_MAX; c++)
		if (copy_pct[c]) {
			kprintf(" cpu%u %u", c, copy_pct[c]);
			any = true;
		}
	kprintf("%s\n", any ? "" : " -");
	kprintf("decisions: %llu\nlast-decision: %s\n", (unsigned long long)decisions,
		last_decision);
	kprintf("attempts: %llu\nattempt-ages-ms:", (unsigned long long)attempts);
	for (int i = 0; i < POLICY_ATTEMPTS; i++) /* the last few, oldest first */
		if (recent.at_ms[i])
			kprintf(" %llu", (unsigned long long)(now + 1 - recent.at_ms[i]));
	kprintf("\n");
	if (x_refuse)
		kprintf("x-refuse: 1\n");
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		struct vm_figures *f;
		if (vm && (vm->state == VM_RUNNING || vm->state == VM_PAUSED) && (f = fig(vm)))
			kprintf("vm%d: load %llu%%, dirty-rate %llu pages/s, hot %llu pages, "
				"wss %llu pages, zero %llu pages%s\n", vm->id,
				(unsigned long long)f->load_pct, (unsigned long long)f->dirty_rate,
				(unsigned long long)f->hot_pages, (unsigned long long)model_wss(vm, f),
				(unsigned long long)f->zero_pages,
				f->sampled_ms ? "" : " (not sampled yet)");
	}
	for (int i = 0; i < PEERS_MAX; i++) {
		net_format_ip4(who, sizeof(who), peer_backoff[i].ip);
		show_backoff(who, &peer_backoff[i].b, now);
	}
	for (int i = 0; i < VM_MAX; i++) {
		if (!figs[i].id || !vm_find_id(figs[i].id))
			continue;
		fmt_snprintf(who, sizeof(who), "vm%d", figs[i].id);
		show_backoff(who, &figs[i].backoff, now);
	}
	return 0;
}
