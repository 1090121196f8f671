/* Sleeps in HLT between timer interrupts and counts them: proves a timer reaches the
 * guest at its rate, through the path asked for, and that the guest idles meanwhile.
 *
 * Arguments:
 *   mode=pit|lapic-periodic|lapic-oneshot|lapic-deadline   (default pit)
 *   route=pic|ioapic  pit only: IRQ0 through the 8259 (default), or I/O APIC pin 2
 *   apic=xapic|x2apic|off  the LAPIC's mode (off: pit through the PIC only)
 *   hz=N (default 100), div=N (LAPIC timer divider, default 16), seconds=N (0: forever)
 *   report=N  a line every N seconds (default 1; 0: only the summary at the end)
 *   calibrate=pit  first measure the TSC against PIT channel 2, as kernels do, and print
 *           "ticker: calibrate pit-khz=<latched counts> out2-khz=<OUT2 polled>
 *           cpuid-khz=<what CPUID states> from <leaf>"
 *
 * Once per second of its own TSC it prints
 *   ticker: mode=pit apic=xapic hz=100 ticks=1234 missed=0 doubled=0 tsc-khz=100000
 *           sec=12 wakeups=1234 idle=99%
 * (one line), and after seconds=N a summary, then PASS, or FAIL when a tick was
 * doubled, the TSC went backwards, HLT returned without an interrupt, or an
 * interrupt came on a vector nobody programmed.
 *
 * The one-shot timer and the TSC deadline are armed in the handler for the next slot of
 * a grid a period apart, as a tickless kernel programs its next event: the one-shot
 * count is the time from now to that slot, so the handler's latency does not stretch
 * the period. */
#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/ioapic.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/pic.h"
#include "guests/lib/pit.h"
#include "guests/lib/tsc.h"

#define PIC_BASE 0x20
#define VEC_IOAPIC_PIT 0x30
#define VEC_LAPIC_TIMER 0x40

enum mode { PIT, LAPIC_PERIODIC, LAPIC_ONESHOT, LAPIC_DEADLINE };

static const char *const mode_names[] = {
	[PIT] = "pit", [LAPIC_PERIODIC] = "lapic-periodic", [LAPIC_ONESHOT] = "lapic-oneshot",
	[LAPIC_DEADLINE] = "lapic-deadline",
};

static struct {
	enum mode mode;
	bool ioapic;
	enum lapic_mode apic;
	uint32_t hz, div, seconds, report;
	bool calibrate;
} cfg;

static uint64_t period;     /* TSC cycles between ticks */
static uint32_t timer_khz;  /* one-shot: the LAPIC timer's input clock */
static uint32_t tsc_rate_khz;   /* one-shot: the TSC's */
static uint64_t deadline;   /* one-shot and TSC-deadline: the slot armed */

/* Written by the tick handler */
static volatile uint32_t ticks, missed, doubled, backwards;
static uint64_t due, last_tsc;
static bool spare = true;

static __noreturn void fail(const char *why)
{
	printf("FAIL ticker: %s\n", why);
	exit(EXIT_FAIL);
}

/* Missed and doubled ticks. Each tick is matched to a slot, a time the timer was due
 * to fire. For the one-shot timer and the TSC deadline the next slot is the one armed;
 * for the periodic timers (PIT, LAPIC periodic) slots
 * are a grid P apart, placed by the ticks: the first sets it, and a tick arriving
 * before the slot it takes moves it back to itself (delivery is never early, so the
 * earliest arrivals show the timer's phase, whatever rate error there is). With
 * due = the next slot and tau = P/8 (room for a rate learned a little wrong), a tick
 * at TSC t
 *
 *   t >= due - tau:  takes the last slot begun by t + tau; the n = floor((t - due +
 *                    tau) / P) slots it skipped count as missed;
 *   t <  due - tau:  came with no slot left for it: it takes back a missed tick if any
 *                    was counted (a tick late by more than P - tau took a later slot;
 *                    an emulator delivered a backlog at once after a stall), or else
 *                    is forgiven once (the first tick's own lateness is unknown), or
 *                    else counts as doubled.
 *
 * So missed is the slots that passed without a tick, and doubled the ticks beyond
 * the slots that passed: more than the timer could have produced. Counting against
 * slots rather than the gap since the previous tick keeps a tick delivered late (the
 * vCPU not running, interrupts off) from making its on-time successor look doubled.
 * A doubled tick coming after missed ones is taken as latency and goes unseen until
 * the missed ones are used up. Returns whether the tick took a slot. */
static bool account(uint64_t t)
{
	uint64_t tau = period / 8, n;

	if (t < last_tsc)
		backwards++;
	last_tsc = t;
	if (ticks++ == 0) {
		due = t;
	} else if (t + tau < due) {
		if (missed)
			missed--;
		else if (spare)
			spare = false;
		else
			doubled++;
		return false;
	}
	n = (t + tau - due) / period;
	missed += n;
	due += n * period;
	if (t < due)
		due = t;
	return true;
}

/* The periodic timers' next slot is a period after the one just taken. */
static void pic_tick(uint32_t vector)
{
	if (account(rdtsc()))
		due += period;
	pic_eoi(PIT_IRQ);
}

/* The one-shot count (divided clocks) from now until TSC value t; at least 1 */
static uint32_t oneshot_count(uint64_t t)
{
	uint64_t now = rdtsc(), n;

	n = t > now ? (t - now) * timer_khz / ((uint64_t)tsc_rate_khz * cfg.div) : 0;
	return n ? (uint32_t)MIN(n, (uint64_t)UINT32_MAX) : 1;
}

static void lapic_tick(uint32_t vector)
{
	uint64_t now = rdtsc();
	bool took = account(now);

	if (cfg.mode == LAPIC_ONESHOT || cfg.mode == LAPIC_DEADLINE) {
		/* the next slot of the grid still ahead (account() counted any that
		 * passed as missed, as a periodic timer not serviced coalesces them) */
		deadline += period;
		if (deadline <= now)
			deadline += ((now - deadline) / period + 1) * period;
		due = deadline;
		if (cfg.mode == LAPIC_DEADLINE)
			wrmsr(MSR_TSC_DEADLINE, deadline);
		else
			lapic_write(LAPIC_TIMER_INIT, oneshot_count(deadline));
	} else if (took) {
		due += period; /* LAPIC periodic, or the PIT through the I/O APIC */
	}
	lapic_eoi();
}

/* The tick handlers divide by the period, so none may start without one. */
static void need_period(void)
{
	if (period < 8)
		fail("hz is beyond what the TSC can time");
}

static void start_pit(uint32_t khz)
{
	uint32_t count = (PIT_HZ + cfg.hz / 2) / cfg.hz;

	if (count < 2 || count > 65536)
		fail("hz out of the PIT's range (19 to 596591)");
	period = (uint64_t)count * khz * 1000 / PIT_HZ;
	need_period();
	if (cfg.ioapic) {
		/* the PIC stays masked; the LAPIC takes the EOI of an edge pin */
		irq_set_handler(VEC_IOAPIC_PIT, lapic_tick);
		ioapic_route(PIT_IOAPIC_PIN, VEC_IOAPIC_PIT, lapic_id(), 0);
	} else {
		lapic_virtual_wire();
		irq_set_handler(PIC_BASE + PIT_IRQ, pic_tick);
		pic_unmask(PIT_IRQ);
	}
	pit_periodic(count); /* 65536 is written as 0 */
}

static void start_lapic(uint32_t khz)
{
	const char *source;
	uint32_t lvt = VEC_LAPIC_TIMER;
	uint64_t count;

	irq_set_handler(VEC_LAPIC_TIMER, lapic_tick);
	if (cfg.mode == LAPIC_DEADLINE) {
		if (!(cpuid_sub(1, 0).c & CPUID1_ECX_TSC_DEADLINE))
			fail("CPUID offers no TSC-deadline timer");
		period = (uint64_t)khz * 1000 / cfg.hz;
		need_period();
		lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_DEADLINE | lvt);
		/* SDM 3A, 10.5.4.1: the MMIO write to the LVT and the WRMSR to the
		 * deadline can pass each other without a fence */
		asm volatile("mfence" : : : "memory");
		deadline = rdtsc() + period;
		wrmsr(MSR_TSC_DEADLINE, deadline);
		return;
	}
	timer_khz = lapic_timer_khz(khz, &source);
	printf("ticker: lapic-timer-khz=%u from %s\n", timer_khz, source);
	count = (uint64_t)timer_khz * 1000 / cfg.div / cfg.hz;
	if (count < 1 || count > UINT32_MAX)
		fail("hz and div give a LAPIC timer count out of range");
	tsc_rate_khz = khz;
	period = count * cfg.div * khz / timer_khz;
	need_period();
	lvt |= cfg.mode == LAPIC_PERIODIC ? LVT_TIMER_PERIODIC : LVT_TIMER_ONESHOT;
	deadline = rdtsc() + period;
	lapic_timer_start(cfg.div, lvt, count);
}

static void parse(const char *args)
{
	char mode[24] = "pit", route[8] = "pic", apic[8] = "xapic";
	size_t i;

	arg_str(args, "mode", mode, sizeof(mode));
	for (i = 0; i < ARRAY_SIZE(mode_names) && strcmp(mode, mode_names[i]); i++)
		;
	if (i == ARRAY_SIZE(mode_names))
		fail("mode= is none of pit, lapic-periodic, lapic-oneshot, lapic-deadline");
	cfg.mode = i;
	arg_str(args, "route", route, sizeof(route));
	if (strcmp(route, "pic") && strcmp(route, "ioapic"))
		fail("route= is neither pic nor ioapic");
	cfg.ioapic = !strcmp(route, "ioapic");
	arg_str(args, "apic", apic, sizeof(apic));
	if (!lapic_mode_parse(apic, &cfg.apic))
		fail("apic= is none of xapic, x2apic, off");
	cfg.hz = arg_u32(args, "hz", 100);
	cfg.div = arg_u32(args, "div", 16);
	cfg.seconds = arg_u32(args, "seconds", 0);
	cfg.report = arg_u32(args, "report", 1);
	if (arg_str(args, "calibrate", route, sizeof(route))) {
		if (strcmp(route, "pit"))
			fail("calibrate= is not pit");
		cfg.calibrate = true;
	}
	if (cfg.hz == 0)
		fail("hz=0");
	if (cfg.div == 0 || cfg.div > 128 || (cfg.div & (cfg.div - 1)))
		fail("div= is not a power of two from 1 to 128");
	if (cfg.apic == LAPIC_OFF && (cfg.mode != PIT || cfg.ioapic))
		fail("apic=off leaves only mode=pit route=pic");
	if (cfg.ioapic && cfg.mode != PIT)
		fail("route= is for mode=pit");
}

#define OUT2_COUNT 59659 /* PIT clocks: 50 ms */
#define OUT2_RUNS 3
#define OUT2_MAX_POLLS 10000000u

/* Linux's pit_calibrate_tsc(): channel 2 counts down once in mode 0 from a known count
 * while the TSC runs; OUT2 (port 0x61 bit 5) rises when it reaches zero. 0 if it never
 * did. */
static uint32_t out2_run(void)
{
	uint64_t t0, t1;
	uint32_t polls = 0;

	pit_ch2_start(OUT2_COUNT);
	t0 = rdtsc();
	while (!pit_ch2_out())
		if (++polls == OUT2_MAX_POLLS)
			return 0;
	t1 = rdtsc();
	return (t1 - t0) * PIT_HZ / OUT2_COUNT / 1000;
}

/* The median of a few runs */
static uint32_t out2_khz(void)
{
	uint32_t k[OUT2_RUNS], t;

	for (int i = 0; i < OUT2_RUNS; i++) {
		k[i] = out2_run();
		for (int j = i; j > 0 && k[j] < k[j - 1]; j--)
			t = k[j], k[j] = k[j - 1], k[j - 1] = t;
	}
	return k[OUT2_RUNS / 2];
}

static void calibrate(uint32_t khz, const char *source)
{
	uint32_t pit = tsc_khz_pit(), out2 = out2_khz();

	printf("ticker: calibrate pit-khz=%u out2-khz=%u cpuid-khz=%u from %s\n", pit, out2, khz,
	       source);
}

static void report(uint32_t khz, uint32_t sec, uint64_t elapsed)
{
	printf("ticker: mode=%s apic=%s hz=%u ticks=%u missed=%u doubled=%u tsc-khz=%u sec=%u "
	       "wakeups=%u idle=%u%%\n", mode_names[cfg.mode], lapic_mode_name(cfg.apic),
	       cfg.hz, ticks, missed, doubled, khz, sec, irq_stats.wakeups,
	       (uint32_t)(irq_stats.halted_tsc * 100 / elapsed));
}

static __noreturn void finish(void)
{
	char why[80];

	printf("ticker: done ticks=%u missed=%u doubled=%u backwards=%u wakeups=%u "
	       "empty-wakeups=%u unhandled=%u\n", ticks, missed, doubled, backwards,
	       irq_stats.wakeups, irq_stats.empty_wakeups, irq_stats.unhandled);
	if (doubled)
		fmt_snprintf(why, sizeof(why), "%u doubled ticks", doubled);
	else if (backwards)
		fmt_snprintf(why, sizeof(why), "the TSC went backwards %u times", backwards);
	else if (irq_stats.empty_wakeups)
		fmt_snprintf(why, sizeof(why), "HLT returned %u times without an interrupt",
			     irq_stats.empty_wakeups);
	else if (irq_stats.unhandled)
		fmt_snprintf(why, sizeof(why), "%u interrupts on unprogrammed vectors (last %u)",
			     irq_stats.unhandled, irq_stats.last_unhandled);
	else {
		printf("PASS\n");
		exit(EXIT_PASS);
	}
	fail(why);
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	const char *source;
	uint32_t khz, seen = 0, sec = 0;
	uint64_t start, now, prev;

	EXPECT(magic == MB_BOOT_MAGIC);
	parse(cmdline_args(mb_cmdline(mbi)));
	irq_init();
	pic_init(PIC_BASE); /* even unused: off the exception vectors, masked */
	khz = tsc_khz(&source);
	if (!khz)
		fail("no TSC rate");
	printf("ticker: tsc-khz=%u from %s\n", khz, source);
	if (cfg.calibrate)
		calibrate(khz, source);
	if (!lapic_init(cfg.apic))
		fail("CPUID does not offer that apic= mode");
	if (cfg.mode == PIT)
		start_pit(khz);
	else
		start_lapic(khz);
	printf("ticker: mode=%s route=%s apic=%s hz=%u div=%u period-tsc=%llu seconds=%u\n",
	       mode_names[cfg.mode], cfg.mode != PIT ? "lapic" : cfg.ioapic ? "ioapic" : "pic",
	       lapic_mode_name(cfg.apic), cfg.hz, cfg.div, (unsigned long long)period,
	       cfg.seconds);

	start = prev = rdtsc();
	for (;;) {
		/* interrupts are off here: ticks cannot change between the test and HLT */
		if (ticks == seen) {
			irq_halt();
			continue;
		}
		seen = ticks;
		now = rdtsc();
		if (now < prev)
			backwards++;
		prev = now;
		if ((now - start) / (khz * 1000ull) == sec)
			continue;
		/* seconds of guest TSC: a guest paused for a while skips lines */
		sec = (now - start) / (khz * 1000ull);
		if (cfg.report && sec % cfg.report == 0) {
			irq_enable(); /* ticks keep coming on time while the line goes out */
			report(khz, sec, now - start);
			irq_disable();
		}
		if (cfg.seconds && sec >= cfg.seconds)
			finish();
	}
}
