/* Writes an exact set of pages on command, for the dirty-tracking tests (issue 4).
 *
 * Arguments: seed=S (default 1), count=K (default 32), area=MiB (default 4), delay=N
 * (default: stream 256 takes about 2.6 s at 100 MIPS). The pages it writes or reads on
 * command lie in the area, [3 MiB, 3 MiB + area); everything else it writes lies in
 * "self" (its .data, .bss and stack). It prints, then waits for lines on COM1:
 *
 *   pages: self=0x<a>-0x<b> area=0x<c>-0x<d>     (b and d: last byte)
 *   pages: ready
 *
 *   go        round r = 1, 2, ...: writes K pages of the area chosen from (seed, r),
 *             each 1 to 5 times, and reads K other pages, never written, in a mixed
 *             order; then, and only then, prints the written pages in ascending order
 *             and a summary:
 *               pages: wrote 0x<page> ...       (8 a line)
 *               pages: done round=<r> written=<K> read=<K>
 *             In a VM of n > 1 CPUs (as many as the ACPI MADT lists, all started at
 *             boot), the i-th page to write and the i-th to read go to CPU i mod n,
 *             all CPUs at once, and the summary ends with " by-cpu=<k0>,<k1>,...", the
 *             pages each CPU wrote. The APs wait for a round spinning on a read.
 *   stream N  writes one word to each of the first N pages of the area, in order, with
 *             delay between them (for writes that land while a round ends), then
 *               pages: stream done first=0x<area> count=<N>
 *   bench N   fills the first N pages of the area, whole, as fast as it can, and tells
 *             how long that took in TSC cycles (for tests/bench/dirty):
 *               pages: bench pages=<N> cycles=<C>
 *   exit      prints PASS and exits with status 0.
 *
 * Anything else gets "pages: unknown command '<line>'"; empty lines are ignored. */
#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/mp.h"

#define AREA_BASE (3 * MIB)
#define MAX_AREA_PAGES 65536 /* 256 MiB */
#define MAX_COUNT 1024
#define MAX_WRITES 5          /* writes to one page in a round */
#define WORDS_PER_WRITE 4
#define PER_LINE 8
/* The delay loop is two instructions an iteration: 2 * 500000 * 256 pages is
 * 256 M instructions, about 2.6 s at 100 MIPS. */
#define DEFAULT_DELAY 500000

/* One access of a round: slot (index into to_write[] or to_read[]) << 1 | OP_WRITE */
#define OP_WRITE 1u

struct args {
	uint32_t seed, count, area_mib, delay;
	uint32_t base, pages; /* the area */
};

static struct args a;
static uint32_t round_no, stream_no, rng;
static uint32_t to_write[MAX_COUNT], to_read[MAX_COUNT]; /* page indices in the area */
static uint32_t ops[MAX_COUNT * (MAX_WRITES + 1)], nops;
static uint32_t seen[MAX_COUNT];                     /* writes to to_write[i] so far */
static uint32_t chosen[MAX_AREA_PAGES / 32];         /* bitmap: picked this round */
static uint32_t dirty[MAX_AREA_PAGES / 32];          /* bitmap: written this round */
static volatile uint32_t sink;                       /* keeps the reads */
static char line[80];

/* The CPUs: the BSP plans a round, then every CPU does its share of it */
static uint32_t nr_cpus = 1;
static volatile uint32_t go_round;   /* the round the APs are to do */
static volatile uint32_t aps_done;   /* APs done with it */
static uint32_t written_by[MP_MAX_CPUS];

static uint32_t mix(uint32_t x)
{
	/* murmur3's 32-bit finaliser: nearby inputs give unrelated values */
	x ^= x >> 16;
	x *= 0x85ebca6b;
	x ^= x >> 13;
	x *= 0xc2b2ae35;
	return x ^ (x >> 16);
}

/* xorshift32 */
static uint32_t random(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

static bool test_bit(const uint32_t *map, uint32_t i)
{
	return map[i / 32] & (1u << (i % 32));
}

/* atomic: CPUs of one round set bits of the same word */
static void set_bit(uint32_t *map, uint32_t i)
{
	__atomic_fetch_or(&map[i / 32], 1u << (i % 32), __ATOMIC_RELAXED);
}

static volatile uint32_t *page_ptr(uint32_t page)
{
	return (volatile uint32_t *)(uintptr_t)(a.base + page * (uint32_t)PAGE_SIZE);
}

static uint32_t pick_unchosen(void)
{
	uint32_t p;

	do
		p = random(a.pages);
	while (test_bit(chosen, p));
	set_bit(chosen, p);
	return p;
}

/* The n-th write to a page in this round: a few words, placed and valued by n. */
static void write_page(uint32_t page, uint32_t n)
{
	volatile uint32_t *w = page_ptr(page);
	uint32_t key = mix(a.seed ^ mix(round_no ^ mix(page ^ mix(n))));

	for (uint32_t i = 0; i < WORDS_PER_WRITE; i++)
		w[(key + i * 257) % (PAGE_SIZE / 4)] = key + i;
	set_bit(dirty, page);
}

static void read_page(uint32_t page)
{
	volatile uint32_t *w = page_ptr(page);

	for (uint32_t i = 0; i < PAGE_SIZE / 4; i += 128)
		sink += w[i];
}

/* Chooses to_write[] and to_read[] and lists their accesses in ops[], shuffled. */
static void plan_round(void)
{
	nops = 0;
	memset(chosen, 0, sizeof(chosen));
	memset(dirty, 0, sizeof(dirty));
	memset(seen, 0, sizeof(seen));
	memset(written_by, 0, sizeof(written_by));
	rng = mix(a.seed ^ mix(round_no)) | 1;
	for (uint32_t i = 0; i < a.count; i++) {
		uint32_t times = 1 + random(MAX_WRITES);

		to_write[i] = pick_unchosen();
		while (times--)
			ops[nops++] = i << 1 | OP_WRITE;
	}
	for (uint32_t i = 0; i < a.count; i++) {
		to_read[i] = pick_unchosen();
		ops[nops++] = i << 1;
	}
	for (uint32_t i = nops - 1; i > 0; i--) { /* Fisher-Yates */
		uint32_t j = random(i + 1), t = ops[i];

		ops[i] = ops[j];
		ops[j] = t;
	}
}

static void print_written(void)
{
	uint32_t n = 0;

	for (uint32_t p = 0; p < a.pages; p++) {
		if (!test_bit(dirty, p))
			continue;
		printf("%s 0x%x", n % PER_LINE ? "" : "pages: wrote", a.base + p * (uint32_t)PAGE_SIZE);
		if (++n % PER_LINE == 0)
			printf("\n");
	}
	if (n % PER_LINE)
		printf("\n");
}

/* CPU cpu's share of the round: the accesses of slots cpu, cpu + n, ... */
static void do_round(uint32_t cpu)
{
	for (uint32_t i = 0; i < nops; i++) {
		uint32_t slot = ops[i] >> 1;

		if (slot % nr_cpus != cpu)
			continue;
		if (!(ops[i] & OP_WRITE)) {
			read_page(to_read[slot]);
			continue;
		}
		written_by[cpu] += !seen[slot];
		write_page(to_write[slot], seen[slot]++);
	}
}

static void go(void)
{
	round_no++;
	plan_round();
	aps_done = 0;
	go_round = round_no; /* after the plan: stores stay in order on x86 */
	do_round(0);
	while (aps_done != nr_cpus - 1)
		asm volatile("pause");
	print_written();
	printf("pages: done round=%u written=%u read=%u", round_no, a.count, a.count);
	for (uint32_t i = 0; nr_cpus > 1 && i < nr_cpus; i++)
		printf("%s%u", i ? "," : " by-cpu=", written_by[i]);
	printf("\n");
}

/* An AP: its share of each round the BSP plans */
static __noreturn void ap_main(uint32_t cpu)
{
	uint32_t done = 0;

	for (;;) {
		while (go_round == done)
			asm volatile("pause");
		done = go_round;
		do_round(cpu);
		__atomic_fetch_add(&aps_done, 1, __ATOMIC_RELEASE);
	}
}

/* Every CPU the MADT lists */
static void start_aps(void)
{
	uint8_t ids[MP_MAX_CPUS];

	nr_cpus = mp_discover_or_fail("pages", ids);
	mp_start_all("pages", ids, nr_cpus, ap_main);
}

static void delay(uint32_t n)
{
	if (n)
		asm volatile("1: dec %0; jnz 1b" : "+r"(n));
}

static void stream(const char *arg)
{
	uint32_t n;

	if (!parse_u32(arg, NULL, &n) || n > a.pages) {
		printf("pages: bad stream count '%s' (at most %u)\n", arg, a.pages);
		return;
	}
	stream_no++;
	for (uint32_t p = 0; p < n; p++) {
		*page_ptr(p) = mix(a.seed ^ mix(stream_no ^ mix(p))) | 1;
		delay(a.delay);
	}
	printf("pages: stream done first=0x%x count=%u\n", a.base, n);
}

static void bench(const char *arg)
{
	uint32_t n, value = ++stream_no;
	uint64_t t0, t1;

	if (!parse_u32(arg, NULL, &n) || n > a.pages) {
		printf("pages: bad bench count '%s' (at most %u)\n", arg, a.pages);
		return;
	}
	t0 = rdtsc();
	for (uint32_t p = 0; p < n; p++) {
		volatile uint32_t *w = page_ptr(p);
		uint32_t count = PAGE_SIZE / 4;
		asm volatile("rep stosl" : "+D"(w), "+c"(count) : "a"(value) : "memory");
	}
	t1 = rdtsc();
	printf("pages: bench pages=%u cycles=%llu\n", n, (unsigned long long)(t1 - t0));
}

static void parse_args(const char *args, uint32_t ram_top)
{
	uint32_t self_end = ALIGN_UP((uintptr_t)_end, PAGE_SIZE);

	a.seed = arg_u32(args, "seed", 1);
	a.count = arg_u32(args, "count", 32);
	a.area_mib = arg_u32(args, "area", 4);
	a.delay = arg_u32(args, "delay", DEFAULT_DELAY);
	a.base = AREA_BASE;
	if (a.area_mib == 0 || a.area_mib > MAX_AREA_PAGES / (MIB / PAGE_SIZE) ||
	    a.base + a.area_mib * MIB > ram_top || self_end > a.base) {
		printf("FAIL pages: area=%u (MiB at 0x%x) does not fit: self ends at 0x%x, "
		       "RAM at 0x%x, at most %u MiB\n", a.area_mib, a.base, self_end, ram_top,
		       (uint32_t)(MAX_AREA_PAGES / (MIB / PAGE_SIZE)));
		exit(EXIT_FAIL);
	}
	a.pages = a.area_mib * (MIB / PAGE_SIZE);
	if (a.count == 0 || a.count > MAX_COUNT || 2 * a.count > a.pages) {
		printf("FAIL pages: count=%u: 1 to %u, and at most half the area's %u pages\n",
		       a.count, MAX_COUNT, a.pages);
		exit(EXIT_FAIL);
	}
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	EXPECT(magic == MB_BOOT_MAGIC);
	parse_args(cmdline_args(mb_cmdline(mbi)), mb_ram_top(mbi));
	start_aps();
	printf("pages: self=0x%x-0x%x area=0x%x-0x%x\n", (uint32_t)(uintptr_t)_data,
	       (uint32_t)ALIGN_UP((uintptr_t)_end, PAGE_SIZE) - 1, a.base,
	       a.base + a.pages * (uint32_t)PAGE_SIZE - 1);
	printf("pages: ready\n");
	for (;;) {
		if (!serial_getline(line, sizeof(line)))
			continue;
		if (!strcmp(line, "go"))
			go();
		else if (!strncmp(line, "stream ", 7))
			stream(line + 7);
		else if (!strncmp(line, "bench ", 6))
			bench(line + 6);
		else if (!strcmp(line, "exit"))
			break;
		else
			printf("pages: unknown command '%s'\n", line);
	}
	printf("PASS\n");
	exit(EXIT_PASS);
}
