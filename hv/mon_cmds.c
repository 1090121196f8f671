#include "hv/acpi.h"
#include "hv/apicv.h"
#include "hv/console.h"
#include "hv/error.h"
#include "hv/hv.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/lineedit.h"
#include "hv/idle.h"
#include "hv/monitor.h"
#include "hv/mon_vm.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/sched.h"
#include "hv/smp.h"
#include "hv/time.h"
#include "hv/turn.h"
#include "hv/x86.h"
#include "migrate/autopolicy.h"
#include "migrate/discovery.h"
#include "migrate/migrate.h"
#include "net/net.h"
#include "net/pci.h"
#include "hv/backend.h"

static int cmd_help(int argc, char **argv);

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static int cmd_info_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	kprintf("version: %s\n", TERN_VERSION);
	kprintf("loader: %s\n", boot_loader_name(hv_boot_info()->loader));
	return 0;
}

static int cmd_info_mem(int argc, char **argv)
{
	struct pmm_stats s = pmm_stats();

	(void)argc, (void)argv;
	kprintf("total: %llu KiB\n", (unsigned long long)(s.total / KIB));
	kprintf("free: %llu KiB\n", (unsigned long long)(s.free / KIB));
	kprintf("used: %llu KiB\n", (unsigned long long)((s.total - s.free) / KIB));
	return 0;
}

static void cpu_brand(char out[49])
{
	if (cpuid(0x80000000, 0).eax < 0x80000004) {
		strlcpy(out, "unknown", 49);
		return;
	}
	for (uint32_t i = 0; i < 3; i++) {
		struct cpuid_regs r = cpuid(0x80000002 + i, 0);
		memcpy(out + 16 * i, &r, 16);
	}
	out[48] = 0;
}

/* What reaching a guest on CPU p cost: `holds` and `hold-us` (mean, then the longest:
 * the kick's IPI until the guest was out, as CPU 0 waited), `flushes` and `flush-ns` (the
 * mean INVEPT and INVVPID after an EPT change made under a hold). */
static void cpu_costs(const struct pcpu *p)
{
	uint64_t hz = time_tsc_hz(), n = __atomic_load_n(&p->holds, __ATOMIC_ACQUIRE);
	uint64_t f = __atomic_load_n(&p->flushes, __ATOMIC_ACQUIRE);

	kprintf(" holds=%llu", (unsigned long long)n);
	if (n)
		kprintf(" hold-us=%llu/%llu",
			(unsigned long long)(__atomic_load_n(&p->hold_cycles, __ATOMIC_ACQUIRE) /
					     n * 1000000 / hz),
			(unsigned long long)(__atomic_load_n(&p->hold_cycles_max,
							     __ATOMIC_ACQUIRE) * 1000000 / hz));
	kprintf(" flushes=%llu", (unsigned long long)f);
	if (f)
		kprintf(" flush-ns=%llu",
			(unsigned long long)(__atomic_load_n(&p->flush_cycles, __ATOMIC_ACQUIRE) /
					     f * 1000000000 / hz));
}

/* One row per host CPU, as `cpuN: key=value ...` with `why=<text>` last; the other CPUs
 * are sent an IPI first, so `answered` says that each still runs. A parked one answers
 * at once, one running guests at the latest when its slice ends (10 ms). */
#define PING_US 50000
static void info_cpus(void)
{
	static bool answered[PCPU_MAX];
	uint32_t up = 0, n = pcpu_count();

	smp_ping(PING_US, answered);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t st = __atomic_load_n(&pcpu_get(i)->state, __ATOMIC_ACQUIRE);
		up += st == PCPU_ONLINE || st == PCPU_PARKED;
	}
	kprintf("cpus: %u\ncpus-up: %u\ncpus-source: %s\n", n, up, smp_source());
	if (smp_limit())
		kprintf("cpus-limit: %u\n", smp_limit());
	else
		kprintf("cpus-limit: none\n");
	for (uint32_t i = 0; i < n; i++) {
		const struct pcpu *p = pcpu_get(i);
		uint32_t st = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
		const char *why = __atomic_load_n(&p->why, __ATOMIC_ACQUIRE);
		bool vmx = __atomic_load_n(&p->virt_on, __ATOMIC_ACQUIRE);

		kprintf("cpu%u: apic=%u state=%s vmx=%s wakeups=%llu", i, p->apic_id,
			pcpu_state_name(st), vmx ? "on" : "off",
			(unsigned long long)__atomic_load_n(&p->wakeups, __ATOMIC_ACQUIRE));
		if (i && (st == PCPU_PARKED || st == PCPU_ONLINE)) {
			kprintf(" answered=%s ipis=%llu vms=%u", yes_no(answered[i]),
				(unsigned long long)__atomic_load_n(&p->ipis, __ATOMIC_ACQUIRE),
				sched_load(i));
			cpu_costs(p);
		}
		if (st == PCPU_FAILED)
			kprintf(" stage=%u", p->start_stage);
		if (why && st != PCPU_DISABLED)
			kprintf(" why=%s", why);
		kprintf("\n");
	}
}

/* tern's clock alone: what `info cpu` also says, in three short lines. Every byte the
 * console prints holds the loop that runs the guests, so timing a guest by tern's clock
 * wants a reading that costs as little as it can. */
static int cmd_info_uptime(int argc, char **argv)
{
	kprintf("uptime-ms: %llu\nidle-ms: %llu\nnap-ms: %llu\n",
		(unsigned long long)time_now_ms(), (unsigned long long)(idle_us() / 1000),
		(unsigned long long)(idle_nap_us() / 1000));
	return 0;
}

static int cmd_info_cpu(int argc, char **argv)
{
	const struct hv_caps *c = hv_caps();
	struct cpuid_regs r = cpuid(0, 0), f = cpuid(1, 0);
	char vendor[13], brand[49], *b = brand, apicv[128];
	uint32_t family = (f.eax >> 8) & 0xf, model = (f.eax >> 4) & 0xf;

	(void)argc, (void)argv;
	memcpy(vendor, &r.ebx, 4);
	memcpy(vendor + 4, &r.edx, 4);
	memcpy(vendor + 8, &r.ecx, 4);
	vendor[12] = 0;
	cpu_brand(brand);
	while (*b == ' ')
		b++;
	if (family == 0xf)
		family += (f.eax >> 20) & 0xff;
	if (family >= 6)
		model |= ((f.eax >> 16) & 0xf) << 4;
	kprintf("vendor: %s\n", vendor);
	kprintf("model-name: %s\n", b);
	kprintf("family: %u\nmodel: %u\nstepping: %u\n", family, model, f.eax & 0xf);
	kprintf("tsc-mhz: %llu\n", (unsigned long long)(time_tsc_hz() / 1000000));
	kprintf("uptime-ms: %llu\n", (unsigned long long)time_now_ms());
	kprintf("idle-ms: %llu\n", (unsigned long long)(idle_us() / 1000));
	kprintf("nap-ms: %llu\n", (unsigned long long)(idle_nap_us() / 1000));
	kprintf("longest-turn-ms: %llu\n",
		(unsigned long long)DIV_UP(turn_longest_us(time_now_us()), 1000));
	kprintf("vmx: %s\n", yes_no(c->usable));
	if (!c->usable)
		kprintf("vmx-reason: %s\n", c->why);
	kprintf("ept: %s\n", yes_no(c->stage2));
	kprintf("vpid: %s\n", yes_no(c->tagged_tlb));
	kprintf("unrestricted-guest: %s\n", yes_no(c->unrestricted));
	kprintf("pml: %s\n", yes_no(c->dirty_log));
	kprintf("ept-ad: %s\n", yes_no(c->dirty_flags));
	kprintf("preemption-timer: %s\n", yes_no(c->preemption_timer));
	hv_apicv_describe(hv_apicv(), apicv, sizeof(apicv));
	kprintf("apic-virtualization: %s\n", apicv);
	info_cpus();
	return 0;
}

static int cmd_poweroff(int argc, char **argv)
{
	(void)argc, (void)argv;
	kprintf("powering off\n");
	console_drain();
	acpi_poweroff();
	kprintf("error: ACPI power-off failed; the machine is still on\n");
	return -E_IO;
}

/* Deliberate faults, to check on a given platform that tern's exception dump works. */
static int cmd_debug_fault(int argc, char **argv)
{
	if (argc != 1) {
		kprintf("error: usage: debug fault ud|pf|gp|print\n");
		return -E_INVAL;
	}
	if (strcmp(argv[0], "ud") == 0)
		asm volatile("ud2");
	else if (strcmp(argv[0], "pf") == 0)
		(void)*(volatile uint64_t *)(uintptr_t)8; /* page 0 is unmapped */
	else if (strcmp(argv[0], "gp") == 0)
		(void)rdmsr(0xdeadbeef);
	else if (strcmp(argv[0], "print") == 0) /* a #PF with the console lock held */
		kprintf("%s\n", (const char *)(uintptr_t)8);
	kprintf("error: unknown fault '%s' (ud, pf, gp or print)\n", argv[0]);
	return -E_INVAL;
}

static const struct mon_cmd commands[] = {
	{ "help", "", "list the commands", cmd_help },
	{ "info version", "", "tern's version and the loader that started it", cmd_info_version },
	{ "info mem", "", "host memory: total, free, used by tern (KiB)", cmd_info_mem },
	{ "info cpu", "", "the CPU, its VT-x features, and every host CPU's state", cmd_info_cpu },
	{ "info uptime", "", "tern's clock: uptime-ms, idle-ms", cmd_info_uptime },
	{ "info modules", "", "the guest images the loader brought", cmd_info_modules },
	{ "info vms", "", "the VMs: id name state mem-MiB exits cpu-ms cpu vcpus kind", cmd_info_vms },
	{ "info apic", "<vm>", "the VM's local APIC: mode, path, exits by register, injected",
	  cmd_info_apic },
	{ "info registers", "<vm> [vcpu=N]",
	  "a vCPU's registers (vCPU 0's by default), pending event and local APIC state",
	  cmd_info_registers },
	{ "vm start",
	  "<image> [mem=MiB] [name=NAME] [mod=IMAGE ...] [initrd=IMAGE] [cpu=N] [cpus=N] "
	  "[-- cmdline]",
	  "create a VM from a Multiboot image or a Linux bzImage and start it", cmd_vm_start },
	{ "stop", "<vm>", "pause a VM (by id or name)", cmd_stop },
	{ "cont", "<vm>", "resume a paused VM", cmd_cont },
	{ "kill", "<vm>", "end a VM now", cmd_kill },
	{ "vm send", "<vm> <text>", "type a line into the VM's COM1", cmd_vm_send },
	{ "console", "<vm>", "talk to the VM's COM1 directly; Ctrl-] comes back", cmd_console },
	{ "dirty start", "<vm> [mode=wp|pml|ad]", "track the pages the VM writes",
	  cmd_dirty_start },
	{ "dirty stop", "<vm>", "stop tracking", cmd_dirty_stop },
	{ "dirty sync", "<vm>", "end the round: dirty-pages: N", cmd_dirty_sync },
	{ "dirty dump", "<vm>", "the last round's pages, as guest-physical ranges",
	  cmd_dirty_dump },
	{ "info dirty", "<vm>", "tracking figures: mode rounds dirty-pages dirty-rate exits",
	  cmd_info_dirty },
	{ "info shadow", "", "the shadow region: size, used, per VM", cmd_info_shadow },
	{ "info pci", "", "PCI devices: bus:dev.fn vendor:device class BARs", cmd_info_pci },
	{ "info net", "", "the NIC and its addresses, link and counters; whether a key is set",
	  cmd_info_net_cluster },
	{ "ping", "<A.B.C.D> [count]", "ICMP echo: a line per reply, then a summary", cmd_ping },
	{ "netperf", "<A.B.C.D> [MiB]", "TCP bulk transfer to another tern host: throughput",
	  cmd_netperf },
	{ "migrate", "<vm> <ip>[:port]", "move a running VM to another tern host",
	  cmd_migrate },
	{ "migrate_cancel", "<vm>", "give up a migration; the VM runs on here",
	  cmd_migrate_cancel },
	{ "migrate_set_parameter", "downtime-limit <ms> | max-bandwidth <MB/s>",
	  "tune migrations (0 MB/s: unlimited)", cmd_migrate_set_parameter },
	{ "info migrate", "", "the last migration: status round pages rates downtime",
	  cmd_info_migrate },
	{ "info hosts", "", "peers heard on the LAN: ip load-% free-MiB vms link-MB/s rtt-ms age-s",
	  cmd_info_hosts },
	{ "policy", "on|off", "let this host move VMs on its own when overloaded", cmd_policy },
	{ "policy set", "<key> <value>",
	  "load-high (%), load-window (s), cooldown (s), downtime-max (ms), mem-reserve (MiB)",
	  cmd_policy_set },
	{ "info policy", "", "the policy's state, keys, decisions and per-VM figures",
	  cmd_info_policy },
	{ "poweroff", "", "power the machine off (ACPI S5)", cmd_poweroff },
	{ "debug fault", "ud|pf|gp|print", "fault on purpose: shows the exception dump, halts tern",
	  cmd_debug_fault },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	mon_help(commands, ARRAY_SIZE(commands));
	return 0;
}

static struct lineedit line;
static bool at_prompt; /* the prompt (and maybe partial input) ends the console's last line */

static void prompt(void)
{
	kprintf("%s", MON_PROMPT);
	console_write(line.buf, line.len);
	at_prompt = true;
}

/* Each application processor's events (a guest's console line, a device's warning, a
 * VM's end) wait in its ring for CPU 0, which alone draws the monitor's prompt: one
 * producer (the CPU) and one consumer (CPU 0) each, so the indexes need no lock. CPU 0
 * drains them once a turn of its loop (at most a slice, 10 ms, apart); a CPU whose ring
 * is full drops and counts, as it must never wait for CPU 0 (CPU 0 waits for it). The
 * rings are CPU 0's allocations, made on its first turn, before any guest runs. */
#define EVENT_RING 64
#define EVENT_LEN 256
struct event_ring {
	char line[EVENT_RING][EVENT_LEN];
	uint32_t head;    /* [a] written by the CPU: lines queued */
	uint32_t tail;    /* [a] written by CPU 0: lines printed */
};
#define RING_PAGES (ALIGN_UP(sizeof(struct event_ring), PAGE_SIZE) / PAGE_SIZE)
static struct event_ring *rings[PCPU_MAX]; /* [a] set by CPU 0 */
static uint32_t dropped[PCPU_MAX];         /* [a] lines lost to a full (or no) ring */

static void print_event(const char *buf)
{
	if (at_prompt)
		kprintf("\r\033[K"); /* erase the prompt line; drawn again below */
	kprintf("%s\n", buf);
	if (at_prompt)
		prompt();
}

static void queue_event(uint32_t cpu, const char *buf)
{
	struct event_ring *r = __atomic_load_n(&rings[cpu], __ATOMIC_ACQUIRE);
	uint32_t head;

	if (!r || (head = r->head) - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= EVENT_RING) {
		__atomic_fetch_add(&dropped[cpu], 1, __ATOMIC_RELAXED);
		return;
	}
	strlcpy(r->line[head % EVENT_RING], buf, EVENT_LEN);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
}

static void drain(uint32_t cpu)
{
	struct event_ring *r = rings[cpu];
	uint32_t head, lost;

	if (!r) {
		r = (struct event_ring *)(uintptr_t)pmm_alloc(RING_PAGES);
		if (r)
			memset(r, 0, sizeof(*r));
		__atomic_store_n(&rings[cpu], r, __ATOMIC_RELEASE);
		return;
	}
	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	for (uint32_t t = r->tail; t != head; t++) {
		print_event(r->line[t % EVENT_RING]);
		__atomic_store_n(&r->tail, t + 1, __ATOMIC_RELEASE);
	}
	lost = __atomic_exchange_n(&dropped[cpu], 0, __ATOMIC_RELAXED);
	if (lost) {
		char buf[64];
		fmt_snprintf(buf, sizeof(buf), "cpu%u: %u events lost (its queue was full)",
			     cpu, lost);
		print_event(buf);
	}
}

void mon_drain_events(void)
{
	for (uint32_t cpu = 1; cpu < pcpu_count(); cpu++)
		drain(cpu);
}

void mon_event(const char *fmt, ...)
{
	char buf[EVENT_LEN];
	uint32_t cpu = pcpu_this()->index;
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cpu)
		queue_event(cpu, buf);
	else
		print_event(buf);
}

void mon_guest_line(int vm_id, const char *text)
{
	mon_event("[vm%d] %s", vm_id, text);
}

void monitor_init(void)
{
	le_init(&line);
	prompt();
}

static struct {
	void (*input)(void *ctx, uint8_t byte);
	void (*detached)(void *ctx);
	void *ctx;
} attach;

void mon_attach(void (*input)(void *ctx, uint8_t byte), void (*detached)(void *ctx), void *ctx)
{
	attach.input = input;
	attach.detached = detached;
	attach.ctx = ctx;
	at_prompt = false;
}

void mon_detach(void)
{
	void (*detached)(void *ctx) = attach.detached;
	void *ctx = attach.ctx;

	if (!attach.input)
		return;
	attach.input = NULL;
	if (detached)
		detached(ctx);
	kprintf("\n");
	prompt();
}

bool mon_attached_to(const void *ctx)
{
	return attach.input && attach.ctx == ctx;
}

void monitor_poll(void)
{
	int c;

	/* Bounded per call so a flood of input cannot starve the rest of the loop. */
	for (int i = 0; i < 64 && (c = console_getc()) >= 0; i++) {
		if (attach.input) {
			if (c == MON_ESCAPE)
				mon_detach();
			else
				attach.input(attach.ctx, (uint8_t)c);
			continue;
		}
		enum le_result r = le_feed(&line, (uint8_t)c);
		console_write(line.echo, line.echo_len);
		if (r == LE_MORE)
			continue;
		at_prompt = false;
		if (r == LE_TOO_LONG)
			kprintf("error: line too long (at most %d characters)\n", LINE_MAX);
		else if (r == LE_BAD_BYTE)
			kprintf("error: line rejected: it holds byte 0x%02x (control or non-ASCII)\n",
				line.rejected);
		else
			mon_exec(commands, ARRAY_SIZE(commands), line.buf);
		line.buf[0] = 0;
		if (!attach.input) /* a command that attached the console gave it away */
			prompt();
	}
}
