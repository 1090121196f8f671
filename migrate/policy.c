/* The migration policy's pure part: the choice of VM and peer, by the pre-copy model
 * (migrate/precopy.c). */
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "migrate/policy.h"
#include "net/addr.h"

/* --- the choice --- */

static const char *const why_names[] = {
	[POLICY_MIGRATE] = "migrate",
	[POLICY_NOT_OVERLOADED] = "not overloaded",
	[POLICY_NOT_LONG_ENOUGH] = "not overloaded for long enough",
	[POLICY_NO_PEER] = "no peer",
	[POLICY_COOLDOWN] = "all in cooldown",
	[POLICY_BACKING_OFF] = "backing off",
	[POLICY_PEER_BUSY] = "peers busy",
	[POLICY_UNEVEN] = "no move evens the load",
	[POLICY_NO_FIT] = "no VM fits",
	[POLICY_TOO_DIRTY] = "every VM too dirty",
};

const char *policy_why_str(enum policy_why why)
{
	return (size_t)why < ARRAY_SIZE(why_names) ? why_names[why] : "?";
}

static uint64_t capacity(const struct policy_end *e)
{
	return e->capacity_pct ? e->capacity_pct : 100;
}

/* A load as a share of its host's capacity, in points (rounded up, for the text only:
 * the rule itself compares cross-multiplied). */
static uint64_t share(uint64_t load, const struct policy_end *e)
{
	return (load * 100 + capacity(e) - 1) / capacity(e);
}

uint32_t policy_share(uint32_t load_pct, const struct policy_end *e)
{
	/* rounded down, as policy_overloaded compares: a share shown at or above load-high
	 * is one that is */
	return (uint32_t)((uint64_t)load_pct * 100 / capacity(e));
}

bool policy_overloaded(const struct policy_end *e)
{
	return (uint64_t)e->load_pct * 100 >= (uint64_t)e->load_high * capacity(e);
}

/* This host as the balance rule reads it: its load and its own settings. */
static struct policy_end own_end(const struct policy_params *p, const struct policy_host *h)
{
	return (struct policy_end){ h->load_pct, p->load_high, p->margin_pct, p->capacity_pct };
}

enum policy_why policy_judge(const struct policy_end *src, const struct policy_end *dst,
			     uint32_t vm_pct, char *text, size_t size)
{
	uint64_t cs = capacity(src), cd = capacity(dst), after = (uint64_t)dst->load_pct + vm_pct;
	uint64_t margin = MAX(src->margin_pct, dst->margin_pct);
	char sink[1];

	if (!text) {
		text = sink;
		size = sizeof(sink);
	}
	if (!policy_overloaded(src)) {
		fmt_snprintf(text, size, "source not overloaded: load %u%% < %u%%",
			     policy_share(src->load_pct, src), src->load_high);
		return POLICY_NOT_OVERLOADED;
	}
	/* share(after) + margin <= share(src) and share(after) < share(src), both
	 * multiplied by cs x cd, in 64 bits: loads are at most 10^4, capacities too */
	if (vm_pct && (after * 100 + margin * cd) * cs <= (uint64_t)src->load_pct * 100 * cd &&
	    after * cs < (uint64_t)src->load_pct * cd) {
		text[0] = 0;
		return POLICY_MIGRATE;
	}
	fmt_snprintf(text, size, "no balance: target %llu%% after the move + margin %llu%% > "
		     "source %llu%%", (unsigned long long)share(after, dst),
		     (unsigned long long)margin, (unsigned long long)share(src->load_pct, src));
	return POLICY_UNEVEN;
}

/* What the search met on its way, for the refusal's text. */
struct search {
	enum policy_why furthest;
	uint64_t cleanest_ms; /* shortest predicted downtime among the too dirty */
	uint64_t backoff_ms;  /* shortest back-off among those backing off */
	uint64_t closest;     /* among the uneven: the lowest target share after the move */
	uint32_t closest_margin;
};

static void met(struct search *s, enum policy_why why)
{
	if (why > s->furthest)
		s->furthest = why;
}

static void predict(const struct policy_params *p, const struct policy_vm *vm,
		    const struct policy_peer *peer, struct precopy_out *out)
{
	struct precopy_in in = {
		.mem_pages = (uint64_t)vm->mem_mib * MIB / PRECOPY_PAGE,
		.dirty_rate = vm->dirty_rate,
		.copy_rate = vm->copy_rate,
		.wss_pages = vm->wss_pages,
		.hot_pages = vm->hot_pages,
		.bandwidth = peer->link_bps,
		.rtt_ms = peer->rtt_ms,
		.downtime_limit_ms = p->stop_limit_ms,
		.digest_bps = p->digest_bps,
		.zero_pages = vm->zero_pages,
		.converge = p->converge,
		.max_rounds = p->max_rounds,
		.inflight_bytes = p->inflight_bytes,
	};

	precopy_predict(&in, out);
}

/* More headroom (a lower share of its capacity, the VM's load being the same for every
 * peer), then the lowest ip. */
static bool roomier(const struct policy_peer *a, const struct policy_peer *b)
{
	uint64_t x = (uint64_t)a->end.load_pct * capacity(&b->end);
	uint64_t y = (uint64_t)b->end.load_pct * capacity(&a->end);

	return x != y ? x < y : a->ip < b->ip;
}

/* Whether peer may take vm at all, before the model: the move evens the load, neither
 * is in its cooldown or backing off, the peer is not taking in another VM, and it has
 * the memory. */
static bool eligible(const struct policy_params *p, const struct policy_host *h,
		     const struct policy_vm *vm, const struct policy_peer *peer,
		     struct search *s)
{
	struct policy_end src = own_end(p, h);
	uint64_t cooldown_ms = (uint64_t)p->cooldown_s * 1000, after;

	if (policy_judge(&src, &peer->end, vm->load_pct, NULL, 0) != POLICY_MIGRATE) {
		met(s, POLICY_UNEVEN);
		after = share((uint64_t)peer->end.load_pct + vm->load_pct, &peer->end);
		if (after < s->closest) {
			s->closest = after;
			s->closest_margin = MAX(p->margin_pct, peer->end.margin_pct);
		}
		return false;
	}
	if (vm->since_move_ms < cooldown_ms || peer->since_sent_ms < cooldown_ms) {
		met(s, POLICY_COOLDOWN);
		return false;
	}
	if (vm->backoff_ms || peer->backoff_ms) {
		met(s, POLICY_BACKING_OFF);
		s->backoff_ms = MIN(s->backoff_ms, MAX(vm->backoff_ms, peer->backoff_ms));
		return false;
	}
	if (peer->receiving) {
		met(s, POLICY_PEER_BUSY);
		return false;
	}
	if (peer->free_mib < (uint64_t)vm->mem_mib + p->mem_reserve_mib) {
		met(s, POLICY_NO_FIT);
		return false;
	}
	return true;
}

/* The peer with most headroom that can take vm within downtime-max; -1 if none. The
 * model runs only for a peer that would beat the best so far. */
static long best_peer(const struct policy_params *p, const struct policy_host *h,
		      const struct policy_vm *vm, struct precopy_out *pred, struct search *s)
{
	long best = -1;

	for (size_t j = 0; j < h->npeers; j++) {
		const struct policy_peer *peer = &h->peers[j];
		struct precopy_out o;

		if (!eligible(p, h, vm, peer, s))
			continue;
		if (best >= 0 && !roomier(peer, &h->peers[best]))
			continue;
		predict(p, vm, peer, &o);
		if (o.downtime_ms > p->downtime_max_ms) {
			met(s, POLICY_TOO_DIRTY);
			s->cleanest_ms = MIN(s->cleanest_ms, o.downtime_ms);
			continue;
		}
		best = (long)j;
		*pred = o;
	}
	return best;
}

/* More load relieved per ms of predicted downtime (+1: a zero-ms pause still counts),
 * compared by cross-multiplying; then the lowest id. */
static bool worthier(const struct policy_vm *a, uint64_t a_ms, const struct policy_vm *b,
		     uint64_t b_ms)
{
	uint64_t x = (uint64_t)a->load_pct * (b_ms + 1), y = (uint64_t)b->load_pct * (a_ms + 1);

	return x != y ? x > y : a->id < b->id;
}

static enum policy_why refuse(const struct policy_params *p, const struct policy_host *h,
			      const struct search *s, struct policy_decision *d)
{
	d->why = s->furthest;
	switch (d->why) {
	case POLICY_COOLDOWN:
		fmt_snprintf(d->text, sizeof(d->text), "all in cooldown: every move that evens "
			     "the load is of a VM or to a peer that moved within %u s",
			     p->cooldown_s);
		break;
	case POLICY_BACKING_OFF:
		fmt_snprintf(d->text, sizeof(d->text), "backing off: every move that evens the "
			     "load failed lately; the next in %llu s",
			     (unsigned long long)DIV_UP(s->backoff_ms, 1000));
		break;
	case POLICY_UNEVEN:
		fmt_snprintf(d->text, sizeof(d->text), "no move evens the load: the best leaves "
			     "a target at %llu%% + margin %u%% > this host's %llu%%",
			     (unsigned long long)s->closest, s->closest_margin,
			     (unsigned long long)share(h->load_pct, &(struct policy_end){
				     .capacity_pct = p->capacity_pct }));
		break;
	case POLICY_PEER_BUSY:
		fmt_snprintf(d->text, sizeof(d->text), "peers busy: every peer a move would "
			     "help is taking in another VM");
		break;
	case POLICY_TOO_DIRTY:
		if (s->cleanest_ms == PRECOPY_NEVER) /* no peer's link measured: no prediction */
			fmt_snprintf(d->text, sizeof(d->text), "no prediction: the link to every "
				     "peer a move would help is not measured yet");
		else
			fmt_snprintf(d->text, sizeof(d->text), "every VM too dirty: shortest "
				     "predicted downtime %llu ms > %u ms",
				     (unsigned long long)s->cleanest_ms, p->downtime_max_ms);
		break;
	default:
		d->why = POLICY_NO_FIT;
		fmt_snprintf(d->text, sizeof(d->text), "no VM fits: no peer has its memory "
			     "and %u MiB to spare", p->mem_reserve_mib);
		break;
	}
	return d->why;
}

static enum policy_why not_yet(const struct policy_params *p, const struct policy_host *h,
			       struct policy_decision *d)
{
	struct policy_end me = own_end(p, h);
	uint32_t load = policy_share(h->load_pct, &me);

	if (!policy_overloaded(&me)) {
		d->why = POLICY_NOT_OVERLOADED;
		fmt_snprintf(d->text, sizeof(d->text), "not overloaded: load %u%% < %u%%",
			     load, p->load_high);
	} else if (h->high_for_ms < (uint64_t)p->load_window_s * 1000) {
		d->why = POLICY_NOT_LONG_ENOUGH;
		fmt_snprintf(d->text, sizeof(d->text), "not for long enough: load %u%% >= %u%% "
			     "for %llu s of %u", load, p->load_high,
			     (unsigned long long)(h->high_for_ms / 1000), p->load_window_s);
	} else if (!h->npeers) {
		d->why = POLICY_NO_PEER;
		fmt_snprintf(d->text, sizeof(d->text), "no peer: no other host heard from");
	}
	return d->why;
}

enum policy_why policy_choose(const struct policy_params *p, const struct policy_host *h,
			      struct policy_decision *d)
{
	struct search s = { POLICY_MIGRATE, PRECOPY_NEVER, UINT64_MAX, UINT64_MAX, 0 };
	long vm = -1, peer = -1;
	char ip[16];

	memset(d, 0, sizeof(*d));
	if (not_yet(p, h, d) != POLICY_MIGRATE)
		return d->why;
	for (size_t i = 0; i < h->nvms; i++) {
		const struct policy_vm *v = &h->vms[i];
		struct precopy_out o;
		long j;

		j = best_peer(p, h, v, &o, &s);
		if (j < 0)
			continue;
		if (vm >= 0 && !worthier(v, o.downtime_ms, &h->vms[vm], d->pred.downtime_ms))
			continue;
		vm = (long)i;
		peer = j;
		d->pred = o;
	}
	if (vm < 0)
		return refuse(p, h, &s, d);

	const struct policy_vm *v = &h->vms[vm];
	const struct policy_peer *t = &h->peers[peer];
	const struct policy_end me = own_end(p, h);
	d->why = POLICY_MIGRATE;
	d->vm = (size_t)vm;
	d->peer = (size_t)peer;
	d->vm_id = v->id;
	d->peer_ip = t->ip;
	d->target_load_pct = t->end.load_pct + v->load_pct;
	d->target_free_mib = t->free_mib - v->mem_mib;
	net_format_ip4(ip, sizeof(ip), t->ip);
	fmt_snprintf(d->text, sizeof(d->text), "migrating vm%u to %s: load %u%% > %u%% for "
		     "%llu s; predicted downtime %llu ms, total %llu ms; target load %u%%, "
		     "free %u MiB", v->id, ip, policy_share(h->load_pct, &me), p->load_high,
		     (unsigned long long)(h->high_for_ms / 1000),
		     (unsigned long long)d->pred.downtime_ms, (unsigned long long)d->pred.total_ms,
		     policy_share(d->target_load_pct, &t->end), d->target_free_mib);
	return d->why;
}

/* --- back-off --- */

static uint64_t backoff_cap_ms(const struct policy_params *p)
{
	return (uint64_t)MAX(p->cooldown_s, p->load_window_s) * 1000;
}

uint64_t policy_backoff_fail(const struct policy_params *p, struct policy_backoff *b,
			     uint64_t now_ms)
{
	uint64_t ms = (uint64_t)p->load_window_s * 1000, cap = backoff_cap_ms(p);

	for (uint32_t i = 0; i < b->fails && ms < cap; i++)
		ms *= 2;
	ms = MIN(ms, cap);
	if (b->fails < UINT32_MAX)
		b->fails++;
	b->until_ms = now_ms + ms;
	return ms;
}

uint64_t policy_backoff_left(const struct policy_backoff *b, uint64_t now_ms)
{
	return b->until_ms > now_ms ? b->until_ms - now_ms : 0;
}

void policy_backoff_age(const struct policy_params *p, struct policy_backoff *b,
			uint64_t now_ms)
{
	if (b->fails && now_ms >= b->until_ms + backoff_cap_ms(p))
		*b = (struct policy_backoff){ 0 };
}

/* at_ms holds the attempt's time + 1, so that 0 stays "none". */
uint64_t policy_attempt_wait(const struct policy_attempts *a, uint64_t now_ms)
{
	uint64_t oldest = a->at_ms[0];

	if (!oldest || now_ms + 1 >= oldest + POLICY_ATTEMPTS_MS)
		return 0;
	return oldest + POLICY_ATTEMPTS_MS - (now_ms + 1);
}

void policy_attempt_note(struct policy_attempts *a, uint64_t now_ms)
{
	memmove(a->at_ms, a->at_ms + 1, sizeof(a->at_ms) - sizeof(a->at_ms[0]));
	a->at_ms[POLICY_ATTEMPTS - 1] = now_ms + 1;
}
