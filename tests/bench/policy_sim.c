/* The migration policy on simulated clusters (issue 9, "Scale past one LAN"): hosts
 * whose VMs' CPU shares drift and spike, one simulated hour at a 1 s tick, run once with
 * the policy off and once on, from the same seed, so both see the same demand.
 *
 * What is simulated, and what is assumed:
 * - a host: 16 GiB, 2-8 VMs; its load is the sum of its VMs' CPU shares (it can pass
 *   100%: demand, not use); it counts as overloaded in a second when that sum is at or
 *   above load-high. The policy sees the load averaged over load-window and how long
 *   it has stayed high, as tern's caller will give it.
 * - a VM: 8 MiB-4 GiB (powers of two, uniform in log), dirty rate 1-8192 pages/s
 *   (uniform in log), working set 5-50% of its RAM; a share that drifts between half
 *   and 1.5x where it started (a host starts at 30-80% in all), plus spikes (on
 *   average one per VM per 30 min, x2-x4 for 1-10 min).
 * - discovery: every host knows every peer's current averaged load and free memory
 *   (tern's announcements are a few seconds old; ignored here). A host sends one VM
 *   at a time and receives one at a time; the target reserves the memory and the share
 *   when the migration starts, and the VM's load leaves the source when it completes.
 * - the migration is the pre-copy model's prediction, taken as what happens. Bytes
 *   count when a migration starts.
 * - links: "bochs" = netperf 1.48 MB/s (README, measured); "tcg" = 25 MB/s (README:
 *   tern's netperf on QEMU TCG on a quiet machine, 24-28 MB/s). RTT 1 ms. The pause
 *   reads no RAM for the digest (tern's default: it is kept page by page).
 * - after a refusal, a host asks the policy again only a load-window later (tern says
 *   why once per window).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/policy.h"

#define SECONDS 3600
#define HOST_MIB 16384
#define MAX_VMS 8       /* at the start */
#define HOST_VMS 128    /* ever: load-high bounds what a host accepts well below */
#define NEVER UINT64_MAX

struct svm {
	uint32_t id, mem_mib, base0, base, cpu, spike, factor, resv_cpu;
	uint64_t rate, wss, rng;
	int host, dest, prev_host;
	uint64_t arrived_ms, done_ms;
};

struct shost {
	uint32_t hist[64], load, avg, used_mib, resv_mib, resv_cpu;
	uint64_t high_ms, retry_ms;
	bool sending, receiving;
	int vms[HOST_VMS], nvms;
};

struct profile {
	const char *name;
	uint64_t link_bps, digest_bps;
};

struct result {
	uint64_t migrations, bounces, overloaded_s, downtime_ms, bytes, refusals[8];
};

static struct svm *vm;
static struct shost *host;
static uint64_t *last_sent; /* [src * n + dst]: ms + 1 when dst last received from src */
static int nvm, nhost;

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

static void host_add(int h, int v)
{
	if (host[h].nvms == HOST_VMS) {
		fprintf(stderr, "policy_sim: host %d holds %d VMs\n", h, HOST_VMS);
		exit(1);
	}
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
	host = calloc(n, sizeof(*host));
	vm = calloc((size_t)n * MAX_VMS, sizeof(*vm));
	last_sent = calloc((size_t)n * n, sizeof(*last_sent));
	for (int h = 0; h < n; h++) {
		uint32_t k = urand(&s, 2, MAX_VMS), target = urand(&s, 30, 80);

		for (uint32_t i = 0; i < k; i++) {
			struct svm *v = &vm[nvm];
			uint32_t mib = 8u << urand(&s, 0, 9);

			while (mib > 8 && host[h].used_mib + mib > HOST_MIB * 3 / 4)
				mib /= 2;
			*v = (struct svm){ .id = (uint32_t)nvm + 1, .mem_mib = mib,
					   .base = urand(&s, 1, 2 * target / k),
					   .rate = 1ull << urand(&s, 0, 13), .host = h, .dest = -1,
					   .prev_host = -1, .arrived_ms = NEVER,
					   .rng = seed ^ ((uint64_t)nvm * 0x2545f4914f6cdd1dULL) };
			v->wss = (uint64_t)mib * 256 * urand(&s, 5, 50) / 100;
			v->cpu = v->base0 = v->base;
			host_add(h, nvm++);
		}
	}
}

static void teardown(void)
{
	free(host);
	free(vm);
	free(last_sent);
}

/* A VM's share for the next second, from its own random stream. */
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
}

static void complete(int i, uint64_t now)
{
	struct svm *v = &vm[i];
	int src = v->host, dst = v->dest;

	host_del(src, i);
	host[dst].resv_mib -= v->mem_mib;
	host[dst].resv_cpu -= v->resv_cpu;
	host_add(dst, i);
	host[src].sending = host[dst].receiving = false;
	last_sent[(size_t)src * nhost + dst] = now + 1;
	v->prev_host = src;
	v->host = dst;
	v->dest = -1;
	v->arrived_ms = now;
}

static void decide(int h, uint64_t now, const struct policy_params *p,
		   const struct profile *pf, struct result *r, struct policy_vm *pv, int *pvi,
		   struct policy_peer *pp, int *ppi)
{
	struct shost *o = &host[h];
	struct policy_host ph = { o->avg, o->high_ms, pv, 0, pp, 0 };
	struct policy_decision d;

	for (int i = 0; i < o->nvms; i++) {
		struct svm *v = &vm[o->vms[i]];
		pvi[ph.nvms] = o->vms[i];
		pv[ph.nvms++] = (struct policy_vm){ v->id, v->mem_mib, v->rate, v->wss, v->cpu,
			v->arrived_ms == NEVER ? NEVER : now - v->arrived_ms, 0 };
	}
	for (int j = 0; j < nhost; j++) {
		struct shost *t = &host[j];
		uint64_t sent = last_sent[(size_t)h * nhost + j];

		if (j == h || t->receiving)
			continue;
		ppi[ph.npeers] = j;
		pp[ph.npeers++] = (struct policy_peer){ 0x0a000000u + (uint32_t)j + 1,
			t->avg + t->resv_cpu, HOST_MIB - t->used_mib - t->resv_mib,
			(uint32_t)t->nvms, pf->link_bps, 1, 0, sent ? now + 1 - sent : NEVER };
	}
	if (policy_choose(p, &ph, &d) != POLICY_MIGRATE) {
		r->refusals[d.why]++;
		o->retry_ms = now + p->load_window_s * 1000ull;
		return;
	}
	int i = pvi[d.vm], t = ppi[d.peer];
	vm[i].dest = t;
	vm[i].done_ms = now + d.pred.total_ms;
	o->sending = host[t].receiving = true;
	host[t].resv_mib += vm[i].mem_mib;
	vm[i].resv_cpu = vm[i].cpu;
	host[t].resv_cpu += vm[i].cpu;
	r->migrations++;
	r->bounces += vm[i].prev_host == t;
	r->downtime_ms += d.pred.downtime_ms;
	r->bytes += d.pred.pages_sent * PRECOPY_PAGE;
}

static void simulate(int n, bool on, const struct profile *pf, struct result *r)
{
	struct policy_params p = POLICY_DEFAULTS;
	struct policy_vm *pv = malloc(sizeof(*pv) * HOST_VMS);
	struct policy_peer *pp = malloc(sizeof(*pp) * n);
	int *pvi = malloc(sizeof(int) * HOST_VMS), *ppi = malloc(sizeof(int) * n);

	p.digest_bps = pf->digest_bps;
	memset(r, 0, sizeof(*r));
	build(n, 0x7465726e);
	for (uint64_t sec = 0; sec < SECONDS; sec++) {
		uint64_t now = sec * 1000;

		for (int i = 0; i < nvm; i++) {
			drift(&vm[i]);
			if (vm[i].dest >= 0 && vm[i].done_ms <= now)
				complete(i, now);
		}
		for (int h = 0; h < nhost; h++) {
			struct shost *o = &host[h];
			uint32_t sum = 0, w = p.load_window_s;

			o->load = 0;
			for (int i = 0; i < o->nvms; i++)
				o->load += vm[o->vms[i]].cpu;
			o->hist[sec % w] = o->load;
			for (uint32_t k = 0; k < w && k <= sec; k++)
				sum += o->hist[k];
			o->avg = sum / (uint32_t)(sec + 1 < w ? sec + 1 : w);
			o->high_ms = o->load >= p.load_high ? o->high_ms + 1000 : 0;
			r->overloaded_s += o->load >= p.load_high;
		}
		for (int h = 0; on && h < nhost; h++)
			if (!host[h].sending && host[h].retry_ms <= now && host[h].avg >= p.load_high &&
			    host[h].high_ms >= p.load_window_s * 1000ull)
				decide(h, now, &p, pf, r, pv, pvi, pp, ppi);
	}
	teardown();
	free(pv);
	free(pp);
	free(pvi);
	free(ppi);
}

int main(void)
{
	static const struct profile profiles[] = {
		{ "bochs", 1480000, 0 },
		{ "tcg", 25000000, 0 },
	};
	static const int sizes[] = { 10, 100, 1000 };

	printf("one simulated hour, 1 s tick, seed 0x7465726e; policy defaults (load-high 85%%, "
	       "window 10 s, cooldown 60 s, downtime-max 300 ms, mem-reserve 64 MiB)\n");
	printf("%-5s %5s %6s | %10s %10s %6s | %10s %7s %8s %7s | %s\n", "link", "hosts", "VMs",
	       "overld off", "overld on", "on/off", "migr/hour", "bounces", "downtime",
	       "GB sent", "refusals: cooldown/loaded/nofit/dirty");
	for (size_t k = 0; k < ARRAY_SIZE(profiles); k++)
		for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
			struct result off, on;
			int vms;

			simulate(sizes[s], false, &profiles[k], &off);
			simulate(sizes[s], true, &profiles[k], &on);
			build(sizes[s], 0x7465726e);
			vms = nvm;
			teardown();
			printf("%-5s %5d %6d | %9llus %9llus %6.2f | %10llu %7llu %7.1fs %7.2f | "
			       "%llu/%llu/%llu/%llu\n", profiles[k].name, sizes[s], vms,
			       (unsigned long long)off.overloaded_s,
			       (unsigned long long)on.overloaded_s,
			       off.overloaded_s ? (double)on.overloaded_s / off.overloaded_s : 0.0,
			       (unsigned long long)on.migrations, (unsigned long long)on.bounces,
			       on.downtime_ms / 1000.0, on.bytes / 1e9,
			       (unsigned long long)on.refusals[POLICY_COOLDOWN],
			       (unsigned long long)on.refusals[POLICY_PEERS_LOADED],
			       (unsigned long long)on.refusals[POLICY_NO_FIT],
			       (unsigned long long)on.refusals[POLICY_TOO_DIRTY]);
			fflush(stdout);
		}
	return 0;
}
