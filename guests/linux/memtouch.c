/* The Linux sibling of guests/memtouch.c: a process that owns mib MiB of memory, writes
 * rate pages of it per heartbeat and checks every page against a ledger of what it must
 * hold, so a page that a migration lost or sent stale is caught. Built static with the
 * host's libc (the guest's initramfs has no other).
 *
 *   memtouch [mib=N] [rate=N] [beat=N] [ms=N] [seed=N] [count=N]
 *
 * mib: MiB owned, all written at the start (default 16); rate: pages written per
 * heartbeat (default 256); beat: pages checked per heartbeat in a rolling pass
 * (default 1024); ms: the heartbeat period (default 1000); count: heartbeats before it
 * exits (default 0: for ever).
 *
 * Page p at generation g holds, as 32-bit words:
 *
 *   [0] p   [1] g   [2] checksum of [3..1023]   [3..1023] stream(seed, p, g)
 *
 * ledger[p] is the generation last written. A heartbeat checks the next beat pages of
 * the rolling pass, writes rate random pages (each checked right after), rechecks them,
 * then prints "seq=<n> check=ok" or "seq=<n> check=FAIL page=<p> ..." (the first
 * mismatch), and "memtouch: pass <k> of <pages> pages ok" when a rolling pass ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / 4)
#define HDR_WORDS 3

struct args {
	uint32_t mib, rate, beat, ms, seed, count;
};

struct failure {
	int seen;
	uint32_t page, gen, found_page, found_gen, word, expected, found;
};

static uint32_t *area, *ledger, *recent, pages, rng = 0x2545f491;
static struct failure fail;
static struct args a = { 16, 256, 1024, 1000, 1, 0 };

static uint32_t mix(uint32_t x)
{
	/* a 32-bit finaliser (murmur3's): nearby inputs give unrelated keys */
	x ^= x >> 16;
	x *= 0x85ebca6b;
	x ^= x >> 13;
	x *= 0xc2b2ae35;
	return x ^ (x >> 16);
}

static uint32_t page_key(uint32_t page, uint32_t gen)
{
	return mix(a.seed ^ mix(page ^ mix(gen + 0x9e3779b9)));
}

static uint32_t next(uint32_t x)
{
	return x * 1664525 + 1013904223; /* an LCG step: cheap checks */
}

static uint32_t *page_ptr(uint32_t page)
{
	return area + (size_t)page * WORDS;
}

static void stamp(uint32_t page, uint32_t gen)
{
	uint32_t *w = page_ptr(page), x = page_key(page, gen), sum = 0;

	for (uint32_t i = HDR_WORDS; i < WORDS; i++) {
		x = next(x);
		w[i] = x;
		sum += x;
	}
	w[0] = page;
	w[1] = gen;
	w[2] = sum;
}

/* Whether the page holds what the ledger says; the first mismatch of a beat is kept,
 * and the page rewritten so one loss is reported once. */
static int check(uint32_t page)
{
	const uint32_t *w = page_ptr(page);
	uint32_t gen = ledger[page], x = page_key(page, gen), sum = 0, expected = 0;
	int bad = -1;

	if (w[0] != page)
		bad = 0, expected = page;
	else if (w[1] != gen)
		bad = 1, expected = gen;
	for (uint32_t i = HDR_WORDS; i < WORDS; i++) {
		x = next(x);
		sum += x;
		if (w[i] != x && bad < 0)
			bad = (int)i, expected = x;
	}
	if (bad < 0 && w[2] != sum)
		bad = 2, expected = sum;
	if (bad < 0)
		return 1;
	if (!fail.seen)
		fail = (struct failure){ 1, page, gen, w[0], w[1], (uint32_t)bad, expected,
					 w[bad] };
	stamp(page, gen);
	return 0;
}

static uint32_t random_page(void)
{
	rng ^= rng << 13; /* xorshift32 */
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % pages;
}

static void report(uint32_t seq)
{
	if (!fail.seen) {
		printf("seq=%u check=ok\n", seq);
	} else {
		printf("seq=%u check=FAIL page=%u expected-gen=%u found-page=%u found-gen=%u "
		       "word=%u expected=0x%x found=0x%x\n", seq, fail.page, fail.gen,
		       fail.found_page, fail.found_gen, fail.word, fail.expected, fail.found);
		fail.seen = 0;
	}
	fflush(stdout);
}

static void heartbeat(uint32_t seq, uint32_t *rolling, uint32_t *passes)
{
	uint32_t n = a.rate;

	for (uint32_t i = 0; i < a.beat; i++) {
		check(*rolling);
		if (++*rolling == pages) {
			*rolling = 0;
			++*passes;
			if (!fail.seen) {
				printf("memtouch: pass %u of %u pages ok\n", *passes, pages);
				fflush(stdout);
			}
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = random_page();

		check(p);
		stamp(p, ++ledger[p]);
		recent[i] = p;
	}
	for (uint32_t i = 0; i < n; i++)
		check(recent[i]);
	report(seq);
}

static int parse(int argc, char **argv)
{
	static const struct {
		const char *key;
		uint32_t *val;
	} keys[] = { { "mib=", &a.mib }, { "rate=", &a.rate }, { "beat=", &a.beat },
		     { "ms=", &a.ms }, { "seed=", &a.seed }, { "count=", &a.count } };

	for (int i = 1; i < argc; i++) {
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t n = strlen(keys[k].key);
			char *end;

			if (strncmp(argv[i], keys[k].key, n))
				continue;
			errno = 0;
			*keys[k].val = (uint32_t)strtoul(argv[i] + n, &end, 0);
			if (errno || *end || end == argv[i] + n)
				k = sizeof(keys) / sizeof(keys[0]);
			break;
		}
		if (k == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr, "memtouch: bad argument '%s' (mib= rate= beat= ms= seed= "
				"count=)\n", argv[i]);
			return -1;
		}
	}
	if (!a.mib || a.mib > 65536 || !a.ms) {
		fprintf(stderr, "memtouch: mib must be 1..65536 and ms at least 1\n");
		return -1;
	}
	return 0;
}

/* Sleeps until the next beat; a beat missed (the work took longer, or the VM did not
 * run) is not made up for with a burst: the next one is a period from now. */
static void next_beat(struct timespec *t)
{
	struct timespec now;

	t->tv_nsec += (long)(a.ms % 1000) * 1000000;
	t->tv_sec += a.ms / 1000 + t->tv_nsec / 1000000000;
	t->tv_nsec %= 1000000000;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec))
		*t = now;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

/* A fault in a program that only touches its own memory means something under it broke
 * (a page or a register restored wrong): say what the CPU reported, with the registers
 * and the map, so that the report tells which. */
static void on_fault(int sig, siginfo_t *si, void *ctx)
{
	const greg_t *g = ((ucontext_t *)ctx)->uc_mcontext.gregs;
	char buf[4096];
	int n, fd;

	n = snprintf(buf, sizeof(buf),
		     "memtouch: signal %d code %d at %p: rip %llx rsp %llx rax %llx rcx %llx "
		     "rdx %llx r8 %llx r9 %llx r10 %llx err %llx trapno %llx; area %p ledger %p\n",
		     sig, si->si_code, si->si_addr, (unsigned long long)g[REG_RIP],
		     (unsigned long long)g[REG_RSP], (unsigned long long)g[REG_RAX],
		     (unsigned long long)g[REG_RCX], (unsigned long long)g[REG_RDX],
		     (unsigned long long)g[REG_R8], (unsigned long long)g[REG_R9],
		     (unsigned long long)g[REG_R10], (unsigned long long)g[REG_ERR],
		     (unsigned long long)g[REG_TRAPNO], (void *)area, (void *)ledger);
	write(1, buf, (size_t)n);
	fd = open("/proc/self/maps", O_RDONLY);
	while (fd >= 0 && (n = (int)read(fd, buf, sizeof(buf))) > 0)
		write(1, buf, (size_t)n);
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

	uint32_t rolling = 0, passes = 0;
	struct timespec t;

	if (parse(argc, argv))
		return 2;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	pages = a.mib * (1024 * 1024 / PAGE);
	a.rate = a.rate < pages ? a.rate : pages;
	a.beat = a.beat < pages ? a.beat : pages;
	area = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ledger = calloc(pages, sizeof(*ledger));
	recent = calloc(a.rate ? a.rate : 1, sizeof(*recent));
	if (area == MAP_FAILED || !ledger || !recent) {
		fprintf(stderr, "memtouch: cannot have %u MiB\n", a.mib);
		return 1;
	}
	mlock(area, (size_t)pages * PAGE); /* no swap here; keeps the kernel from moving it */
	rng ^= a.seed;
	for (uint32_t p = 0; p < pages; p++)
		stamp(p, 0);
	printf("memtouch: %u pages, %u written and %u checked a beat, every %u ms\n", pages,
	       a.rate, a.beat, a.ms);
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (uint32_t seq = 1; !a.count || seq <= a.count; seq++) {
		next_beat(&t);
		heartbeat(seq, &rolling, &passes);
	}
	return 0;
}
