/* The migration policy on simulated clusters (issues 9 and 18): one simulated hour at a
 * 1 s tick, once with the policy off and once on, from the same seed, so both see the
 * same demand. The policy is tern's own code (migrate/policy.c: the choice, the balance
 * rule both ends apply, the back-offs and the cap on attempts); the migrations are not
 * the model's: each one's rounds are simulated from the guest's writes and the link,
 * with the spread the Bochs and QEMU measurements in README show, so the model's
 * predictions can be wrong here, and how wrong is printed.
 *
 * The cluster, kept within what tern runs:
 * - a host: one CPU (capacity 100%), 4 GiB, at most 16 VMs (VM_MAX); its load is the
 *   sum of its VMs' shares (demand: it passes 100%), averaged over the 10 s load window
 *   as tern's hv/load.c does; overloaded in a second when that sum is at or above
 *   load-high. It announces the averaged load every 2 s; its discovery table holds
 *   PEERS_MAX (16) peers: on a LAN of more hosts, the ones heard last, here 16 drawn at
 *   random for each decision. The announcement says whether a host is taking in a VM.
 * - a VM: one vCPU, so a share of at most 100%; 4-512 MiB (powers of two, uniform in
 *   log); it writes w pages/s (1-4096, uniform in log) spread evenly over a working
 *   set of 5-50% of its RAM, so that in t s it dirties wss x (1 - e^(-w t / wss))
 *   distinct pages (as the model assumes once it has measured the set); w varies by x0.7-1.3 from
 *   one round to the next. 30-95% of its pages are all zero. Its share drifts
 *   between half and 1.5x where it started (a host starts at 30-80% in all), plus
 *   spikes (one per VM per 30 min on average, x2-x4 for 1-10 min), capped at 100%.
 * - what tern measures, as tern measures it: a sample of three 1 s windows gives the
 *   working set by capture and recapture (precopy_sets(): the pages written in two and
 *   in all three, as writes at random over the set give them; the RAM where too few
 *   were written twice) and the write rate from the distinct pages a second
 *   (precopy_write_rate()); the zero pages are estimated from
 *   256 probes (binomial error); a peer's speed is a netperf probe's until a migration
 *   to it has measured one, then the last migration's, counted as the model counts.
 * - a migration, as tern's send.c runs it: round 1 sends every page (zero ones as
 *   markers), each later round what the previous one dirtied; the source stops when
 *   the pages left would take no longer than the downtime limit at the speed it
 *   measures, after three rounds without a new least (converge_gave_out(), auto-converge
 *   off: no throttle is simulated), or at round 30; the pause is
 *   the last pages, two round trips and the busy hosts' loop latency. The target holds
 *   one incoming migration at a time and refuses another; it judges each request with
 *   policy_judge from the source's announcement (made as it asks) and its own load now.
 *
 * Links (README "Figures"):
 * - "bochs": netperf 1.17-2.34 MB/s; migrations moved page data at 0.37-0.72 MB/s; a
 *   zero-page marker costs a frame's time, 0.79 ms; round trips 3.7 ms idle, 10 ms
 *   beside busy guests; the pause took up to ~140 ms more than its pages and round
 *   trips (175 ms measured for 36 predicted).
 * - "qemu": netperf 13.9-28 MB/s (TCG, loaded to quiet). No migration was measured on
 *   QEMU (TCG has no VT-x): page data is taken to move at the same 21-41% of netperf
 *   as under Bochs, a marker at 1,460 bytes of link time, the round trips and the
 *   pause's extra scaled down by the link-speed ratio (x1/13).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/policy.h"

#define SECONDS 3600
#define HOST_MIB 4096
#define HOST_VMS 16     /* tern's VM_MAX */
#define START_VMS 8     /* at most, at the start */
#define PEERS 16        /* tern's PEERS_MAX: a host's discovery table */
#define WINDOW 10       /* load-window, s */
#define ANNOUNCE_S 2
#define NEVER UINT64_MAX

struct profile {
	const char *name;
	double netperf_lo, netperf_hi;  /* MB/s, what a probe measures */
	double data_lo, data_hi;        /* page data in a migration, as a share of netperf */
	double marker_s;                /* link time of a zero-page marker; 0: 1,460 bytes */
	double rtt_idle_s, rtt_busy_s;  /* round trip, idle hosts / beside busy guests */
	double pause_extra_s;           /* the pause's extra loop latency, at most */
};

struct svm {
	uint32_t id, mem_mib, base0, base, cpu, spike, factor;
	double write_rate, wss, zero;   /* the truth: pages/s, pages, share of RAM */
	uint64_t rng;
	int host, dest, prev_host;
	uint64_t arrived_ms, done_ms;
	struct policy_backoff backoff;
	/* the running migration: what the model predicted, what happens */
	uint64_t pred_total, pred_down, sim_total, sim_down, sim_bytes, link_bps;
	uint64_t sent_pages, zero_pages;
};

struct shost {
	uint32_t hist[WINDOW], load, avg, announced, used_mib;
	uint64_t high_ms;
	bool sending, receiving, announced_receiving;
	int vms[HOST_VMS], nvms;
	struct policy_attempts attempts;
};

struct pair {                   /* src -> dst, as the source sees it */
	uint64_t link_bps;      /* last migration's speed; 0: a probe's */
	uint64_t sent_ms;       /* + 1: dst last received from src; 0: never */
	struct policy_backoff backoff;
};

struct result {
	uint64_t overloaded_s, moves, bounces, attempts, refusals, busy, bytes, down_over;
	uint64_t move_ms; /* simulated, summed over the moves */
	uint64_t why[16];
	double *total_ratio, *down_ratio; /* simulated / predicted, per move */
	uint64_t nratio;
};

static const struct policy_params defaults = POLICY_DEFAULTS;
static struct svm *vm;
static struct shost *host;
static struct pair *pairs;
static int nvm, nhost;
static uint64_t world; /* the simulation's own random stream (links, rounds) */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t urand(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(splitmix(s) % (hi - lo + 1));
}

static double frand(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * (double)(splitmix(s) >> 11) / (double)(1ULL << 53);
}

static void host_add(int h, int v)
{
	host[h].vms[host[h].nvms++] = v;
	host[h].used_mib += vm[v].mem_mib;
}

static void host_del(int h, int v)
{
	struct shost *o = &host[h];

	for (int i = 0; i < o->nvms; i++)
		if (o->vms[i] == v) {
			o->vms[i] = o->vms[--o->nvms];
			break;
		}
	o->used_mib -= vm[v].mem_mib;
}

/* The same cluster for the same seed and size: policy on and off see the same demand. */
static void build(int n, uint64_t seed)
{
	uint64_t s = seed;

	nhost = n;
	nvm = 0;
	world = seed ^ 0x5eed;
	host = calloc(n, sizeof(*host));
	vm = calloc((size_t)n * START_VMS, sizeof(*vm));
	pairs = calloc((size_t)n * n, sizeof(*pairs));
	for (int h = 0; h < n; h++) {
		uint32_t k = urand(&s, 2, START_VMS), target = urand(&s, 30, 80);

		for (uint32_t i = 0; i < k; i++) {
			struct svm *v = &vm[nvm];
			uint32_t mib = 4u << urand(&s, 0, 7);

			while (mib > 4 && host[h].used_mib + mib > HOST_MIB * 3 / 4)
				mib /= 2;
			*v = (struct svm){ .id = (uint32_t)nvm + 1, .mem_mib = mib,
					   .base = urand(&s, 1, 2 * target / k), .host = h,
					   .dest = -1, .prev_host = -1, .arrived_ms = NEVER,
					   .rng = seed ^ ((uint64_t)nvm * 0x2545f4914f6cdd1dULL) };
			v->write_rate = (double)(1u << urand(&s, 0, 12));
			v->wss = (double)mib * 256 * urand(&s, 5, 50) / 100;
			v->zero = frand(&s, 0.30, 0.95);
			v->cpu = v->base0 = v->base;
			host_add(h, nvm++);
		}
	}
}

static void teardown(void)
{
	free(host);
	free(vm);
	free(pairs);
}

/* A VM's share for the next second, from its own random stream; one vCPU: <= 100%. */
static void drift(struct svm *v)
{
	uint32_t r = urand(&v->rng, 0, 999);

	if (r < 100 && v->base > (v->base0 + 1) / 2)
		v->base--;
	else if (r >= 900 && v->base < v->base0 * 3 / 2)
		v->base++;
	if (v->spike) {
		v->spike--;
	} else if (urand(&v->rng, 0, 1799) == 0) {
		v->spike = urand(&v->rng, 60, 600);
		v->factor = urand(&v->rng, 2, 4);
	}
	v->cpu = v->base * (v->spike ? v->factor : 1);
	if (v->cpu > 100)
		v->cpu = 100;
}

/* Distinct pages a guest writing w pages/s over wss pages dirties in t s. */
static double distinct(double w, double wss, double t)
{
	return wss <= 0 ? 0 : wss * (1 - exp(-w * t / wss));
}

/* --- a migration, round by round, as tern's send.c runs it --- */

struct outcome {
	double total_s, down_s, bytes, link_bps;
	uint64_t pages, zero;
};

static void migrate_sim(const struct profile *pf, const struct svm *v, double netperf,
			bool busy, struct outcome *o)
{
	double pages = v->mem_mib * 256.0, zero = floor(pages * v->zero);
	double speed = netperf * frand(&world, pf->data_lo, pf->data_hi); /* bytes/s of data */
	double rtt = busy ? pf->rtt_busy_s : pf->rtt_idle_s;
	double limit = defaults.stop_limit_ms / 1000.0, send, t, elapsed = 2 * rtt;
	double marker = pf->marker_s ? pf->marker_s : 1460.0 / netperf;
	/* the simulation models no throttle: its rounds stop as auto-converge off's do */
	static const struct converge_params no_throttle;
	struct converge_flat flat = { 0 };
	int round = 0;

	memset(o, 0, sizeof(*o));
	send = pages - zero;
	for (;;) {
		double r = speed * frand(&world, 0.8, 1.2); /* this round's speed */
		double w = v->write_rate * frand(&world, 0.7, 1.3), pending;

		round++;
		t = send * 4096 / r + (round == 1 ? zero * marker : 0);
		elapsed += t;
		o->pages += (uint64_t)send + (round == 1 ? (uint64_t)zero : 0);
		o->bytes += send * 4096 + (round == 1 ? zero * 28 : 0);
		pending = floor(distinct(w, v->wss, t));
		converge_note_round(&flat, (uint32_t)round, 0, (uint64_t)pending);
		send = pending;
		/* the source measures the speed the target acknowledged, this round's */
		if (pending * 4096 / r <= limit || round >= PRECOPY_MAX_ROUNDS ||
		    converge_gave_out(&no_throttle, &flat))
			break;
	}
	t = send * 4096 / speed;
	o->pages += (uint64_t)send;
	o->bytes += send * 4096;
	o->down_s = t + 2 * rtt + (busy ? frand(&world, 0, pf->pause_extra_s) : 0);
	o->total_s = elapsed + o->down_s;
	o->zero = (uint64_t)zero;
	/* what tern notes as the link's speed (autopolicy_migrated) */
	o->link_bps = ((o->pages - o->zero) * 4096.0 + o->zero * 1460.0) / o->total_s;
}

/* --- the policy, as tern runs it, on every overloaded host each second --- */

static struct policy_params params(void)
{
	return (struct policy_params)POLICY_DEFAULTS;
}

static void sample(const struct svm *v, struct policy_vm *out, uint64_t now)
{
	/* tern's sample: three windows of 1 s; the pages written in two and in all three
	 * (as many as writes at random over the set give) tell the working set, as
	 * migrate/autopolicy.c takes it (a simulated guest has no hot pages), and its
	 * write rate the model's */
	double w = v->write_rate * frand(&world, 0.7, 1.3), u = distinct(w, v->wss, 1.0) / v->wss;
	uint64_t n[3] = { (uint64_t)(u * v->wss), (uint64_t)(u * v->wss), (uint64_t)(u * v->wss) };
	uint64_t mem = (uint64_t)v->mem_mib * 256, wss, rate;
	struct precopy_sets sets;

	precopy_sets(n, (uint64_t)(u * u * v->wss), (uint64_t)(u * u * v->wss),
		     (uint64_t)(u * u * u * v->wss), &sets);
	wss = sets.wss_pages;
	double z = v->zero, sd = sqrt(z * (1 - z) / 256);
	double ze = z + frand(&world, -2 * sd, 2 * sd);

	wss = wss && wss < mem ? wss : mem;
	rate = precopy_write_rate(n[0] - MIN(sets.hot_pages, n[0]), wss, mem, 1000);
	ze = ze < 0 ? 0 : ze > 1 ? 1 : ze;
	*out = (struct policy_vm){ v->id, v->mem_mib, rate, wss, v->cpu,
		v->arrived_ms == NEVER ? NEVER : now - v->arrived_ms,
		(uint64_t)(ze * v->mem_mib * 256), policy_backoff_left(&v->backoff, now),
		0 /* a simulated guest dirties as fast under a migration */, sets.hot_pages };
}

static struct policy_end end_of(int h, uint32_t load)
{
	struct policy_params p = params();

	(void)h;
	return (struct policy_end){ load, p.load_high, p.margin_pct, p.capacity_pct };
}

/* A host's load at or above load-high, as a share of its capacity (policy.h). */
static bool overloaded(uint32_t load)
{
	struct policy_end e = end_of(0, load);

	return policy_overloaded(&e);
}

static double netperf_of(const struct profile *pf, int src, int dst)
{
	uint64_t s = ((uint64_t)src << 32 | (uint32_t)dst) ^ 0x6e6574;

	return 1e6 * frand(&s, pf->netperf_lo, pf->netperf_hi); /* the pair's own link */
}

/* The target's answer to src's request for vm v: refused when busy, full, short of
 * memory, or when its judgment from the loads now differs from the source's. */
static int answer(int src, int dst, const struct svm *v)
{
	struct shost *t = &host[dst];
	struct policy_end s = end_of(src, host[src].avg), d = end_of(dst, t->avg);

	if (t->receiving)
		return 1;
	if (t->nvms >= HOST_VMS || t->used_mib + v->mem_mib + 8 > HOST_MIB)
		return 2;
	return policy_judge(&s, &d, v->cpu, NULL, 0) == POLICY_MIGRATE ? 0 : 2;
}

static void fail(int src, int dst, struct svm *v, const struct policy_params *p,
		 uint64_t now)
{
	policy_backoff_fail(p, &pairs[(size_t)src * nhost + dst].backoff, now);
	policy_backoff_fail(p, &v->backoff, now);
}

static void start(int h, int i, int t, const struct policy_decision *d,
		  const struct profile *pf, uint64_t now, struct result *r)
{
	struct svm *v = &vm[i];
	struct pair *pr = &pairs[(size_t)h * nhost + t];
	struct outcome o;

	migrate_sim(pf, v, netperf_of(pf, h, t), host[h].load >= 100 || host[t].load >= 100,
		    &o);
	v->dest = t;
	v->pred_total = d->pred.total_ms;
	v->pred_down = d->pred.downtime_ms;
	v->sim_total = (uint64_t)(o.total_s * 1000);
	v->sim_down = (uint64_t)(o.down_s * 1000);
	v->sim_bytes = (uint64_t)o.bytes;
	v->link_bps = (uint64_t)o.link_bps;
	v->done_ms = now + v->sim_total;
	host[h].sending = host[t].receiving = true;
	pr->sent_ms = now + 1;
	r->bytes += v->sim_bytes;
}

static void complete(int i, uint64_t now, struct result *r)
{
	struct svm *v = &vm[i];
	int src = v->host, dst = v->dest;

	host_del(src, i);
	host_add(dst, i);
	host[src].sending = host[dst].receiving = false;
	pairs[(size_t)src * nhost + dst].link_bps = v->link_bps;
	pairs[(size_t)src * nhost + dst].backoff = (struct policy_backoff){ 0 };
	r->moves++;
	r->bounces += v->prev_host == dst;
	r->down_over += v->sim_down > defaults.downtime_max_ms;
	r->move_ms += v->sim_total;
	r->total_ratio[r->nratio] = (double)v->sim_total /
				    (double)(v->pred_total ? v->pred_total : 1);
	r->down_ratio[r->nratio++] = (double)(v->sim_down ? v->sim_down : 1) /
				     (double)(v->pred_down ? v->pred_down : 1);
	v->prev_host = src;
	v->host = dst;
	v->dest = -1;
	v->arrived_ms = now;
}

static void decide(int h, uint64_t now, const struct profile *pf, struct result *r)
{
	struct policy_params p = params();
	struct shost *o = &host[h];
	struct policy_vm pv[HOST_VMS];
	struct policy_peer pp[PEERS];
	int ppi[PEERS];
	struct policy_host ph = { o->avg, o->high_ms, pv, 0, pp, 0 };
	struct policy_decision d;

	for (int i = 0; i < o->nvms; i++)
		sample(&vm[o->vms[i]], &pv[ph.nvms++], now);
	for (int k = 0; k < PEERS && k < nhost - 1; k++) {
		int j = (int)urand(&world, 0, (uint32_t)nhost - 2);
		struct pair *pr;

		j += j >= h;
		for (size_t q = 0; q < ph.npeers; q++)
			if (ppi[q] == j)
				j = -1;
		if (j < 0)
			continue;
		pr = &pairs[(size_t)h * nhost + j];
		policy_backoff_age(&p, &pr->backoff, now);
		ppi[ph.npeers] = j;
		pp[ph.npeers++] = (struct policy_peer){
			0x0a000000u + (uint32_t)j + 1, end_of(j, host[j].announced),
			HOST_MIB - host[j].used_mib, (uint32_t)host[j].nvms,
			pr->link_bps ? pr->link_bps : (uint64_t)netperf_of(pf, h, j),
			(uint32_t)ceil(1000 * pf->rtt_idle_s), 0,
			pr->sent_ms ? now + 1 - pr->sent_ms : NEVER,
			policy_backoff_left(&pr->backoff, now), host[j].announced_receiving };
	}
	if (policy_choose(&p, &ph, &d) != POLICY_MIGRATE) {
		r->why[d.why]++;
		return;
	}
	if (policy_attempt_wait(&o->attempts, now)) {
		r->why[POLICY_BACKING_OFF]++;
		return;
	}
	policy_attempt_note(&o->attempts, now);
	o->announced = o->avg; /* tern announces as it asks */
	r->attempts++;
	int i = o->vms[d.vm], t = ppi[d.peer], why = answer(h, t, &vm[i]);
	if (why) {
		r->refusals += why == 2;
		r->busy += why == 1;
		fail(h, t, &vm[i], &p, now);
		return;
	}
	start(h, i, t, &d, pf, now, r);
}

static void tick_hosts(uint64_t sec, struct result *r)
{
	struct policy_params p = params();

	for (int h = 0; h < nhost; h++) {
		struct shost *o = &host[h];
		uint32_t sum = 0;

		o->load = 0;
		for (int i = 0; i < o->nvms; i++)
			o->load += vm[o->vms[i]].cpu;
		o->hist[sec % WINDOW] = o->load;
		for (uint32_t k = 0; k < WINDOW && k <= sec; k++)
			sum += o->hist[k];
		o->avg = sum / (uint32_t)(sec + 1 < WINDOW ? sec + 1 : WINDOW);
		o->high_ms = overloaded(o->avg) ? o->high_ms + 1000 : 0;
		if ((sec + (uint64_t)h) % ANNOUNCE_S == 0) {
			o->announced = o->avg;
			o->announced_receiving = o->receiving;
		}
		r->overloaded_s += overloaded(o->load);
		for (int i = 0; i < o->nvms; i++)
			policy_backoff_age(&p, &vm[o->vms[i]].backoff, sec * 1000);
	}
}

static void simulate(int n, bool on, const struct profile *pf, struct result *r)
{
	struct policy_params p = params();
	double *tr = r->total_ratio, *dr = r->down_ratio;

	memset(r, 0, sizeof(*r));
	r->total_ratio = tr;
	r->down_ratio = dr;
	build(n, 0x7465726e);
	for (uint64_t sec = 0; sec < SECONDS; sec++) {
		uint64_t now = sec * 1000;

		for (int i = 0; i < nvm; i++) {
			drift(&vm[i]);
			if (vm[i].dest >= 0 && vm[i].done_ms <= now)
				complete(i, now, r);
		}
		tick_hosts(sec, r);
		for (int h = 0; on && h < nhost; h++)
			if (!host[h].sending && overloaded(host[h].avg) &&
			    host[h].high_ms >= p.load_window_s * 1000ull)
				decide(h, now, pf, r);
	}
	teardown();
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, uint64_t n, int q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	return v[(n - 1) * (uint64_t)q / 100];
}

int main(void)
{
	static const struct profile profiles[] = {
		{ "bochs", 1.17, 2.34, 0.37 / 1.75, 0.72 / 1.75, 0.00079, 0.0037, 0.010, 0.140 },
		{ "qemu", 13.88, 28.0, 0.37 / 1.75, 0.72 / 1.75, 0, 0.0037 / 13, 0.010 / 13,
		  0.140 / 13 },
	};
	static const int sizes[] = { 10, 100, 1000 };
	struct result off, on;

	on.total_ratio = malloc(sizeof(double) * 4000000);
	on.down_ratio = malloc(sizeof(double) * 4000000);
	off.total_ratio = off.down_ratio = NULL;
	printf("one simulated hour, 1 s tick, seed 0x7465726e; policy defaults (load-high 85%%, "
	       "margin 25%%, window 10 s, cooldown 60 s, downtime-max 300 ms)\n");
	printf("model error: simulated / predicted, median [10th-90th percentile]\n");
	printf("%-5s %5s %5s | %8s %8s %5s | %6s %5s %5s %4s %4s | %7s | %-18s %-18s %5s\n",
	       "link", "hosts", "VMs", "ovl off", "ovl on", "ratio", "moves", "tries",
	       "refus", "busy", "back", "GB sent", "total: sim/pred", "downtime: sim/pred",
	       ">300");
	for (size_t k = 0; k < sizeof(profiles) / sizeof(profiles[0]); k++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			int vms;

			simulate(sizes[s], false, &profiles[k], &off);
			simulate(sizes[s], true, &profiles[k], &on);
			build(sizes[s], 0x7465726e);
			vms = nvm;
			teardown();
			printf("%-5s %5d %5d | %7llus %7llus %5.2f | %6llu %5llu %5llu %4llu "
			       "%4llu | %7.2f | %4.2f [%4.2f-%5.2f]  %4.2f [%4.2f-%5.2f]  %5llu\n",
			       profiles[k].name, sizes[s], vms,
			       (unsigned long long)off.overloaded_s,
			       (unsigned long long)on.overloaded_s,
			       off.overloaded_s ? (double)on.overloaded_s / off.overloaded_s : 0.0,
			       (unsigned long long)on.moves, (unsigned long long)on.attempts,
			       (unsigned long long)on.refusals, (unsigned long long)on.busy,
			       (unsigned long long)on.bounces, on.bytes / 1e9,
			       pct(on.total_ratio, on.nratio, 50),
			       pct(on.total_ratio, on.nratio, 10),
			       pct(on.total_ratio, on.nratio, 90),
			       pct(on.down_ratio, on.nratio, 50),
			       pct(on.down_ratio, on.nratio, 10),
			       pct(on.down_ratio, on.nratio, 90),
			       (unsigned long long)on.down_over);
			printf("%24s a move takes %.0f s on average; why nothing moved "
			       "(host-seconds): uneven %llu, cooldown %llu, backing off %llu, "
			       "peers busy %llu, no fit %llu, too dirty %llu\n", "",
			       on.moves ? on.move_ms / 1000.0 / on.moves : 0.0,
			       (unsigned long long)on.why[POLICY_UNEVEN],
			       (unsigned long long)on.why[POLICY_COOLDOWN],
			       (unsigned long long)on.why[POLICY_BACKING_OFF],
			       (unsigned long long)on.why[POLICY_PEER_BUSY],
			       (unsigned long long)on.why[POLICY_NO_FIT],
			       (unsigned long long)on.why[POLICY_TOO_DIRTY]);
			fflush(stdout);
		}
	free(on.total_ratio);
	free(on.down_ratio);
	return 0;
}
