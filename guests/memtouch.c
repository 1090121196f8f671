/* The workload for dirty tracking and migration: keeps rewriting pages of its RAM
 * and checks every page against a ledger kept in its own memory, so a page that a
 * migration lost or sent stale is caught (like QEMU's migration-test guest).
 *
 * Arguments: mib=N (MiB touched, default 4), rate=N (pages written per heartbeat,
 * default 256), beat=N (page checks per heartbeat, default about one second at
 * 100 MIPS), seed=N, mode=32|64 (64: run in long mode; default 32, paging off),
 * fill=dense|sparse (default dense).
 *
 * Page p at generation g holds, as 32-bit words:
 *
 *   [0] p   [1] g   [2] checksum of [3..1023]   [3..1023] body
 *
 * fill=dense: the body is stream(seed, p, g), every word new at each write (nothing
 * for a delta encoding to find). fill=sparse, as real workloads write a few words of a
 * page: body word i is stream(seed, p, 0)'s, XORed with a mark of the last generation
 * that rewrote it; generation g rewrites only the words with (i - 3) mod 128 = g mod 128
 * (8 of them, 512 bytes apart) and header words 1 and 2, so a write changes
 * 40 bytes of the page.
 *
 * ledger[p] is the generation last written. Each heartbeat does beat checks of the
 * next page in a rolling pass, spreads rate writes among them (each checked right
 * after), rechecks the pages written in this beat, then prints
 * "seq=<n> check=ok" or "seq=<n> check=FAIL page=<p> expected-gen=<g> ...".
 *
 * Every CPU the ACPI MADT lists works so (mode=32 and 64 alike: the APs run the 32-bit
 * build, paging off, on the same memory): CPU i of n owns the pages p with p mod n = i
 * and is their only writer and checker, with a rolling pass, rate writes and beat
 * checks a beat of its own. The BSP's heartbeat reports for all of them: a mismatch
 * any CPU found (with " cpu=<i>" when n > 1), and before the seq line, when n > 1,
 * "memtouch: writes=<w0>,<w1>,..." (the pages each CPU has written so far).
 *
 * This file is built twice: 32-bit (guest_main, which lays out memory and picks the
 * mode) and 64-bit (guest_main64, the long-mode part; paging.h). */
#include "guests/lib/cpu.h"
#include "guests/lib/guest.h"
#include "guests/lib/mp.h"
#include "guests/lib/paging.h"
#include "guests/lib/tsc.h"

#define WORDS (PAGE_SIZE / 4)
#define HDR_WORDS 3
#define MAX_RECENT 4096         /* pages rechecked at a heartbeat */
#define DEFAULT_BEAT 10000      /* ~10k instructions a check (measured): ~1 s at 100 MIPS */
#define SPARSE_GROUPS 128       /* fill=sparse: a write rewrites every 128th body word */
#define MSR_EFER 0xC0000080
#define EFER_LMA (1u << 10)

/* Shared by both builds, so only fixed-size fields. Addresses are guest-physical,
 * which equal virtual ones in both modes (paging off, or identity mapped). */
struct mt_args {
	uint32_t mib, rate, beat, seed, mode;
	uint32_t sparse;       /* fill=sparse */
	uint32_t area, pages;  /* the touched pages */
	uint32_t ledger;       /* uint32_t[pages]: generation of each page */
	uint32_t tsc_khz;      /* 0: unknown, no stalls reported */
	uint32_t cpus;         /* that work: the BSP and the APs started */
	uint32_t workers;      /* struct worker[cpus], a page each */
};

/* The pause a guest itself sees: the longest time between two page checks (each a few
 * microseconds) within a heartbeat, by the TSC, which runs on while the VM is paused or
 * throttled and crosses a migration where it was. Reported from STALL_MS up, in its own
 * line before the heartbeat's. */
#define STALL_MS 10

/* The first mismatch of a beat */
struct failure {
	uint32_t page, gen;            /* where, and what the ledger says */
	uint32_t found_page, found_gen; /* the page's header words */
	uint32_t word, expected, found; /* the first word that differs */
};

/* A CPU's share of the work, in guest memory (a migrated guest carries it with it) and
 * a page of its own. Only its CPU writes it, but for failed, which hands fail over:
 * its CPU sets it once fail is filled in, the BSP clears it once it has printed fail. */
struct worker {
	uint32_t index;           /* owns pages index, index + cpus, ... */
	uint32_t pages;           /* how many */
	uint32_t rng, rolling;    /* rolling: the next of its pages to check, 0 .. pages-1 */
	uint32_t recent;          /* uint32_t[MIN(rate, MAX_RECENT)]: written this beat */
	volatile uint32_t writes; /* pages written so far */
	volatile uint32_t failed;
	struct failure fail;
};

static uint32_t seq; /* the BSP's heartbeats */

static uint32_t mix(uint32_t x)
{
	/* a 32-bit finaliser (murmur3's): nearby inputs give unrelated keys */
	x ^= x >> 16;
	x *= 0x85ebca6b;
	x ^= x >> 13;
	x *= 0xc2b2ae35;
	return x ^ (x >> 16);
}

static uint32_t page_key(const struct mt_args *a, uint32_t page, uint32_t gen)
{
	return mix(a->seed ^ mix(page ^ mix(gen + 0x9e3779b9)));
}

/* An LCG step (Numerical Recipes): two instructions a word keeps checks cheap. */
static inline uint32_t next(uint32_t x)
{
	return x * 1664525 + 1013904223;
}

/* fill=sparse: the last generation up to g that rewrote body word i (0: the first
 * stamp), and the word's value from its stream word x. */
static uint32_t word_gen(uint32_t i, uint32_t g)
{
	uint32_t lg = g - ((g - (i - HDR_WORDS)) & (SPARSE_GROUPS - 1));

	return lg > g ? 0 : lg; /* wrapped: no generation up to g was its */
}

static uint32_t body_word(const struct mt_args *a, uint32_t x, uint32_t i, uint32_t g)
{
	return a->sparse ? x ^ (word_gen(i, g) * 0x9e3779b9u) : x;
}

static uint32_t body_key(const struct mt_args *a, uint32_t page, uint32_t gen)
{
	return page_key(a, page, a->sparse ? 0 : gen);
}

static uint32_t *page_ptr(const struct mt_args *a, uint32_t page)
{
	return (uint32_t *)(uintptr_t)(a->area + page * PAGE_SIZE);
}

static uint32_t *ledger(const struct mt_args *a)
{
	return (uint32_t *)(uintptr_t)a->ledger;
}

static struct worker *worker(const struct mt_args *a, uint32_t i)
{
	return (struct worker *)(uintptr_t)(a->workers + i * PAGE_SIZE);
}

/* The worker's k-th page */
static uint32_t own_page(const struct mt_args *a, const struct worker *w, uint32_t k)
{
	return w->index + k * a->cpus;
}

static void stamp(const struct mt_args *a, uint32_t page, uint32_t gen)
{
	uint32_t *w = page_ptr(a, page), x = body_key(a, page, gen), sum = 0;

	for (uint32_t i = HDR_WORDS; i < WORDS; i++) {
		x = next(x);
		w[i] = body_word(a, x, i, gen);
		sum += w[i];
	}
	w[0] = page;
	w[1] = gen;
	w[2] = sum;
}

/* A write of generation gen: the whole page (dense), or only the words it rewrites and
 * the header (sparse; the page held gen - 1 just before, as the check after tells). */
static void write_page(const struct mt_args *a, uint32_t page, uint32_t gen)
{
	uint32_t *w = page_ptr(a, page), x = body_key(a, page, gen), sum = 0;

	if (!a->sparse) {
		stamp(a, page, gen);
		return;
	}
	for (uint32_t i = HDR_WORDS; i < WORDS; i++) {
		x = next(x);
		if (((i - HDR_WORDS) & (SPARSE_GROUPS - 1)) == (gen & (SPARSE_GROUPS - 1)))
			w[i] = body_word(a, x, i, gen);
		sum += w[i];
	}
	w[1] = gen;
	w[2] = sum;
}

/* Returns true if page holds what the ledger says; else records the first mismatch
 * not yet reported and rewrites the page, so one loss is reported once. */
static bool check(const struct mt_args *a, struct worker *wk, uint32_t page)
{
	const uint32_t *w = page_ptr(a, page);
	uint32_t gen = ledger(a)[page], x = body_key(a, page, gen), sum = 0, expected = 0;
	int bad = -1;

	if (w[0] != page)
		bad = 0, expected = page;
	else if (w[1] != gen)
		bad = 1, expected = gen;
	for (uint32_t i = HDR_WORDS; i < WORDS; i++) {
		x = next(x);
		uint32_t want = body_word(a, x, i, gen);
		sum += want;
		if (w[i] != want && bad < 0)
			bad = i, expected = want;
	}
	if (bad < 0 && w[2] != sum)
		bad = 2, expected = sum;
	if (bad < 0)
		return true;
	if (!wk->failed) {
		wk->fail = (struct failure){ page, gen, w[0], w[1], bad, expected, w[bad] };
		asm volatile("" ::: "memory"); /* stores stay in order on x86: fail, then failed */
		wk->failed = 1;
	}
	stamp(a, page, gen);
	return false;
}

static uint32_t random_page(const struct mt_args *a, struct worker *w)
{
	/* xorshift32; the state is in guest memory like the rest */
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 17;
	w->rng ^= w->rng << 5;
	return own_page(a, w, w->rng % w->pages);
}

/* Rechecks the pages written in the beat that ended. */
static void recheck(const struct mt_args *a, struct worker *w, uint32_t written)
{
	const uint32_t *recent = (const uint32_t *)(uintptr_t)w->recent;

	for (uint32_t i = 0; i < MIN(written, MIN(a->rate, MAX_RECENT)); i++)
		check(a, w, recent[i]);
}

/* A beat's checks and writes; returns the pages written. *stall: the longest gap
 * between two checks, by the TSC. */
static uint32_t beat(const struct mt_args *a, struct worker *w, uint64_t *stall)
{
	uint32_t *recent = (uint32_t *)(uintptr_t)w->recent;
	uint32_t acc = 0, written = 0;
	uint64_t last = rdtsc(), t;

	*stall = 0;
	for (uint32_t c = 0; c < a->beat; c++) {
		t = rdtsc();
		*stall = MAX(*stall, t - last);
		last = t;
		check(a, w, own_page(a, w, w->rolling));
		w->rolling = (w->rolling + 1) % w->pages;
		/* spread rate writes evenly over beat checks */
		for (acc += a->rate; acc >= a->beat; acc -= a->beat) {
			uint32_t p = random_page(a, w);

			write_page(a, p, ++ledger(a)[p]);
			check(a, w, p);
			if (written < MIN(a->rate, MAX_RECENT))
				recent[written] = p;
			written++;
		}
	}
	w->writes += written;
	*stall = MAX(*stall, rdtsc() - last);
	return written;
}

/* The worker's pages at generation 0 */
static void start_worker(const struct mt_args *a, struct worker *w)
{
	w->rng = (a->seed + w->index * 0x9e3779b9u) | 1;
	for (uint32_t k = 0; k < w->pages; k++) {
		uint32_t p = own_page(a, w, k);

		ledger(a)[p] = 0;
		stamp(a, p, 0);
	}
}

/* The first unreported mismatch of any CPU, handed back to it once printed. */
static void report(const struct mt_args *a)
{
	for (uint32_t i = 0; i < a->cpus; i++) {
		struct worker *w = worker(a, i);
		const struct failure *f = &w->fail;

		if (!w->failed)
			continue;
		printf("seq=%u check=FAIL page=%u expected-gen=%u found-page=%u found-gen=%u "
		       "word=%u expected=0x%x found=0x%x", seq, f->page, f->gen, f->found_page,
		       f->found_gen, f->word, f->expected, f->found);
		if (a->cpus > 1)
			printf(" cpu=%u", i);
		printf("\n");
		asm volatile("" ::: "memory");
		w->failed = 0;
		return;
	}
	printf("seq=%u check=ok\n", seq);
}

static void heartbeat(const struct mt_args *a, struct worker *w, uint32_t written,
		      uint64_t stall_tsc)
{
	if (a->tsc_khz && stall_tsc >= (uint64_t)a->tsc_khz * STALL_MS)
		printf("memtouch: stalled %u ms before seq=%u\n",
		       (uint32_t)(stall_tsc / a->tsc_khz), seq + 1);
	recheck(a, w, written);
	seq++;
	if (a->cpus > 1) {
		printf("memtouch: writes=");
		for (uint32_t i = 0; i < a->cpus; i++)
			printf("%s%u", i ? "," : "", worker(a, i)->writes);
		printf("\n");
	}
	report(a);
}

/* The BSP: its own pages, and the heartbeat for all */
static __noreturn void run(const struct mt_args *a)
{
	struct worker *w = worker(a, 0);
	uint64_t stall;

	start_worker(a, w);
	for (;;) {
		uint32_t written = beat(a, w, &stall);

		heartbeat(a, w, written, stall);
	}
}

void guest_main64(void *arg)
{
	printf("memtouch: long mode (EFER.LMA=%u)\n", !!(rdmsr(MSR_EFER) & EFER_LMA));
	run(arg);
}

extern char blob64_end[];

/* Lays out [image | ledger | workers | recent, per CPU | ... | touched area] above the
 * image, which also covers the loader's Multiboot data: everything from mbi is read
 * before. */
static void layout(struct mt_args *a, uint32_t ram_top)
{
	uint32_t free = ALIGN_UP(MAX((uintptr_t)_end, (uintptr_t)blob64_end), PAGE_SIZE);
	uint32_t recent_size = MIN(a->rate, MAX_RECENT) * 4, recent;

	a->pages = a->mib * (MIB / PAGE_SIZE);
	a->ledger = free;
	a->workers = ALIGN_UP(a->ledger + a->pages * 4, PAGE_SIZE);
	recent = a->workers + a->cpus * PAGE_SIZE;
	a->area = ALIGN_UP(recent + a->cpus * recent_size, MIB);
	if (a->area + a->mib * MIB > ram_top) {
		printf("FAIL memtouch: mib=%u does not fit: area at 0x%x, RAM ends at 0x%x\n",
		       a->mib, a->area, ram_top);
		exit(EXIT_FAIL);
	}
	for (uint32_t i = 0; i < a->cpus; i++) {
		struct worker *w = worker(a, i);

		memset(w, 0, sizeof(*w));
		w->index = i;
		w->pages = (a->pages - i + a->cpus - 1) / a->cpus;
		w->recent = recent + i * recent_size;
	}
}

static struct mt_args mt;

/* An AP: its own pages, beat after beat; the BSP reports for it. */
static __noreturn void ap_main(uint32_t index)
{
	struct worker *w = worker(&mt, index);
	uint64_t stall;

	start_worker(&mt, w);
	for (;;)
		recheck(&mt, w, beat(&mt, w, &stall));
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	struct mt_args *a = &mt;
	const char *args = cmdline_args(mb_cmdline(mbi));
	uint32_t ram_top = mb_ram_top(mbi);
	uint8_t ids[MP_MAX_CPUS];

	EXPECT(magic == MB_BOOT_MAGIC);
	a->mib = arg_u32(args, "mib", 4);
	a->rate = arg_u32(args, "rate", 256);
	a->beat = arg_u32(args, "beat", DEFAULT_BEAT);
	a->seed = arg_u32(args, "seed", 1);
	a->mode = arg_u32(args, "mode", 32);
	char fill[8] = "dense";
	arg_str(args, "fill", fill, sizeof(fill));
	EXPECT(!strcmp(fill, "dense") || !strcmp(fill, "sparse"));
	a->sparse = !strcmp(fill, "sparse");
	EXPECT(a->mode == 32 || a->mode == 64);
	EXPECT(a->mib > 0 && a->beat > 0);
	a->cpus = mp_discover_or_fail("memtouch", ids); /* every CPU works */
	layout(a, ram_top);
	a->tsc_khz = tsc_khz(&(const char *){ NULL });
	printf("memtouch: mode=%u mib=%u pages=%u area=0x%x rate=%u beat=%u seed=%u fill=%s "
	       "cpus=%u\n", a->mode, a->mib, a->pages, a->area, a->rate, a->beat, a->seed, fill,
	       a->cpus);
	mp_start_all("memtouch", ids, a->cpus, ap_main);
	if (a->mode == 64)
		enter_long_mode(ram_top, BLOB64_BASE, a);
	run(a);
}
