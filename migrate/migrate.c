/* The migration engine's entry points: listening, the loop's hook, monitor commands. */
#include "hv/boot.h"
#include "hv/cmdline.h"
#include "hv/console.h"
#include "hv/dev/dev.h"
#include "hv/error.h"
#include "hv/hv.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/throttle.h"
#include "hv/time.h"
#include "migrate/autopolicy.h"
#include "migrate/cluster.h"
#include "migrate/discovery.h"
#include "migrate/migrate.h"
#include "migrate/send.h"
#include "net/addr.h"
#include "net/net.h"

static const char *const stage_names[] = {
	[MIG_NONE] = "none",
	[MIG_INIT] = "initialization",
	[MIG_RESERVE] = "reservation",
	[MIG_ITERATE] = "iterative copy",
	[MIG_STOPCOPY] = "stop-and-copy",
	[MIG_COMMIT] = "commitment",
	[MIG_ACTIVATE] = "activation",
	[MIG_DONE] = "completed",
	[MIG_FAILED] = "failed",
};

static bool listening;

const char *mig_stage_name(enum mig_stage s)
{
	return stage_names[s];
}

/* mbedTLS's arena (tls_init): 512 KiB. Two client-server pairs of sessions, handshake done
 * and a full record each way, measured 143 KiB in mbedTLS 2.28's buffer allocator (one pair
 * 75 KiB, a session about 37 KiB); a host has at most one migration out and MIG_IN_MAX in
 * (five sessions, about 190 KiB), and room for handshakes besides (a peer being refused,
 * say) and the allocator's fragments. */
#define TLS_ARENA_PAGES 128

static const struct boot_module *key_module;

/* key-file= names a boot module by its name ("cluster") or its file's ("\cluster.key"). */
static const void *find_module(const char *name, size_t *len)
{
	const struct boot_info *bi = hv_boot_info();
	char want[sizeof(bi->modules[0].name)];

	boot_module_name(want, sizeof(want), name);
	for (uint32_t i = 0; i < bi->nr_modules; i++) {
		const struct boot_module *m = &bi->modules[i];

		if (strcmp(m->name, name) == 0 || strcmp(m->name, want) == 0) {
			key_module = m;
			*len = m->size;
			return (const void *)(uintptr_t)m->base;
		}
	}
	return NULL;
}

/* The random generator and allocator TLS and the announcements' MACs need. */
static bool tls_boot(void)
{
	uint64_t arena = pmm_alloc(TLS_ARENA_PAGES);

	if (!arena || tls_init((void *)(uintptr_t)arena, TLS_ARENA_PAGES * PAGE_SIZE) < 0) {
		kprintf("cluster: %s; running without a key\n",
			arena ? "no entropy to seed TLS's random generator" : "no memory for TLS");
		if (arena)
			pmm_free(arena, TLS_ARENA_PAGES);
		return false;
	}
	if (!tls_entropy_hw())
		kprintf("tls: this CPU has no RDSEED or RDRAND: random numbers come from TSC "
			"jitter alone, which an emulator can make predictable\n");
	return true;
}

static void cluster_boot(const char *cmdline)
{
	static struct cluster_cfg c;

	cluster_parse(&c, cmdline, find_module);
	if (key_module) /* the key stays in tern's memory only */
		memset((void *)(uintptr_t)key_module->base, 0, key_module->size);
	if (c.note[0])
		kprintf("cluster: %s%s\n", c.note,
			c.mode == CLUSTER_NONE ? "; running without a key" : "");
	if (c.mode == CLUSTER_KEYED && !tls_boot())
		c.mode = CLUSTER_NONE;
	if (c.mode == CLUSTER_KEYED)
		kprintf("cluster: key set: announcements and migrations with hosts that hold it "
			"only (migrations over TLS)\n");
	else if (c.mode == CLUSTER_INSECURE)
		kprintf("cluster: insecure-migration=on: migrations and announcements are neither "
			"authenticated nor encrypted; any machine on the LAN may send this host a "
			"VM or be sent one\n");
	else
		kprintf("cluster: %s: this host neither announces itself, nor takes migrations, "
			"nor sends them\n", CLUSTER_NO_KEY);
	cluster_use(&c);
	tls_key_wipe(&c.key);
}

void migrate_init(const char *cmdline)
{
	char val[16];
	uint64_t port = MIGRATE_PORT;

	if (cmdline_get(cmdline, "migrate-port", val, sizeof(val)) &&
	    (!parse_u64(val, &port) || port == 0 || port > 65535)) {
		kprintf("migrate: bad migrate-port=%s; using %d\n", val, MIGRATE_PORT);
		port = MIGRATE_PORT;
	}
	cluster_boot(cmdline);
	if (!net_has_nic())
		return;
	if (cluster_mode() == CLUSTER_NONE) {
		kprintf("migrate: not listening: %s\n", CLUSTER_NO_KEY);
		return;
	}
	discovery_init((uint16_t)port);
	if (mig_recv_listen((uint16_t)port) == 0) {
		listening = true;
		kprintf("migrate: listening on port %llu\n", (unsigned long long)port);
	} else {
		kprintf("migrate: cannot listen on port %llu\n", (unsigned long long)port);
	}
}

void migrate_poll(void)
{
	discovery_poll();
	autopolicy_tick();
	mig_send_poll();
	mig_recv_poll();
}

/* --- monitor --- */

int cmd_migrate(int argc, char **argv)
{
	char addr[32], *colon, err[160];
	uint32_t ip;
	uint64_t port = MIGRATE_PORT;

	if (argc != 2) {
		kprintf("error: usage: migrate <vm> <ip>[:port]\n");
		return -E_INVAL;
	}
	if (!cluster_check())
		return -E_AUTH;
	strlcpy(addr, argv[1], sizeof(addr));
	colon = strchr(addr, ':');
	if (colon) {
		*colon = 0;
		if (!parse_u64(colon + 1, &port) || port == 0 || port > 65535) {
			kprintf("error: bad port '%s'\n", colon + 1);
			return -E_INVAL;
		}
	}
	if (!net_parse_ip4(addr, &ip)) {
		kprintf("error: bad address '%s' (A.B.C.D[:port])\n", addr);
		return -E_INVAL;
	}
	if (!net_ready())
		return -E_IO;
	if (mig_send_start(argv[0], ip, (uint16_t)port, 0, err, sizeof(err))) {
		kprintf("error: %s\n", err);
		return -E_INVAL;
	}
	kprintf("migration vm%d -> %s: started\n", mig_out.vm_id, argv[1]);
	return 0;
}

int cmd_info_net_cluster(int argc, char **argv)
{
	int e = cmd_info_net(argc, argv);

	cluster_print();
	return e;
}

int cmd_migrate_cancel(int argc, char **argv)
{
	char err[120];

	if (argc != 1) {
		kprintf("error: usage: migrate_cancel <vm>\n");
		return -E_INVAL;
	}
	if (mig_send_cancel(argv[0], err, sizeof(err))) {
		kprintf("error: %s\n", err);
		return -E_INVAL;
	}
	return 0;
}

/* A stage as typed: its name with '-' for spaces ("stop-and-copy", "iterative-copy"). */
static bool parse_stage(const char *s, enum mig_stage *out)
{
	for (enum mig_stage st = MIG_RESERVE; st <= MIG_ACTIVATE; st++) {
		const char *n = stage_names[st], *t = s;

		while (*n && *t && (*n == *t || (*n == ' ' && *t == '-')))
			n++, t++;
		if (!*n && !*t) {
			*out = st;
			return true;
		}
	}
	return false;
}

/* The numeric parameters: name, range, where it goes */
struct num_param {
	const char *name;
	uint64_t min, max;
	const char *unit;
	void (*set)(uint64_t v);
};

static void set_downtime(uint64_t v)
{
	mig_params.downtime_limit_ms = v;
}


static void set_initial(uint64_t v)
{
	mig_params.converge.initial_pct = (uint32_t)v;
}

static void set_increment(uint64_t v)
{
	mig_params.converge.increment_pct = (uint32_t)v;
}

static void set_rounds(uint64_t v)
{
	mig_params.max_rounds = v;
}

static void set_pace_window(uint64_t v)
{
	mig_params.x_pace_window_ms = v;
}

static const struct num_param num_params[] = {
	{ "downtime-limit", 1, 600000, "ms", set_downtime },
	{ "throttle-initial", 1, THROTTLE_MAX_PCT, "%", set_initial },
	{ "throttle-increment", 1, THROTTLE_MAX_PCT, "%", set_increment },
	{ "max-rounds", 1, 1000, "iterative rounds", set_rounds },
	{ "x-pace-window", 0, 600000, "ms, 0 = each stage's own; for tests", set_pace_window },
};

/* The on|off ones */
static bool *flag_param(const char *name)
{
	if (strcmp(name, "full-digest") == 0)
		return &mig_params.full_digest;
	if (strcmp(name, "auto-converge") == 0)
		return &mig_params.converge.on;
	if (strcmp(name, "xbzrle") == 0)
		return &mig_params.xbzrle;
	return NULL;
}

static void usage_set_parameter(void)
{
	kprintf("error: usage: migrate_set_parameter <name> <value>, one of:");
	for (size_t i = 0; i < ARRAY_SIZE(num_params); i++)
		kprintf(" %s <%llu..%llu %s> |", num_params[i].name,
			(unsigned long long)num_params[i].min,
			(unsigned long long)num_params[i].max, num_params[i].unit);
	kprintf(" max-bandwidth <MB/s, or kB/s with K; 0 = unlimited> | full-digest on|off | "
		"auto-converge on|off | xbzrle on|off | x-cut-at <stage>|none\n");
}

static int set_flag(const char *name, bool *flag, const char *val)
{
	if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
		kprintf("error: %s takes on or off, not '%s'\n", name, val);
		return -E_INVAL;
	}
	*flag = strcmp(val, "on") == 0;
	return 0;
}

static int set_num(const struct num_param *p, const char *val)
{
	uint64_t v;

	if (!parse_u64(val, &v) || v < p->min || v > p->max) {
		kprintf("error: %s takes %llu..%llu (%s), not '%s'\n", p->name,
			(unsigned long long)p->min, (unsigned long long)p->max, p->unit, val);
		return -E_INVAL;
	}
	p->set(v);
	return 0;
}

/* max-bandwidth: MB/s, or kB/s with a K (a link slower than Bochs's, for a guest that
 * dirties many times what it carries); 0 = unlimited. */
#define BANDWIDTH_MAX_MBS 100000

static int set_bandwidth(const char *val)
{
	char num[24];
	size_t n = strlen(val);
	uint64_t v, unit = 1000000;

	if (n && (val[n - 1] == 'K' || val[n - 1] == 'k')) {
		unit = 1000;
		n--;
	}
	if (n >= sizeof(num) || !n) {
		v = UINT64_MAX;
	} else {
		memcpy(num, val, n);
		num[n] = 0;
		if (!parse_u64(num, &v))
			v = UINT64_MAX;
	}
	if (v > BANDWIDTH_MAX_MBS * (1000000 / unit)) {
		kprintf("error: max-bandwidth takes 0..%u (MB/s) or 0..%uK (kB/s), 0 = unlimited, "
			"not '%s'\n", BANDWIDTH_MAX_MBS, BANDWIDTH_MAX_MBS * 1000, val);
		return -E_INVAL;
	}
	mig_params.max_bandwidth_bps = v * unit;
	return 0;
}

static void show_bandwidth(void)
{
	uint64_t bps = mig_params.max_bandwidth_bps;

	if (bps % 1000000 == 0)
		kprintf("max-bandwidth: %llu\n", (unsigned long long)(bps / 1000000));
	else
		kprintf("max-bandwidth: %lluK\n", (unsigned long long)(bps / 1000));
}

static int set_cut_at(const char *val)
{
	enum mig_stage st = MIG_NONE;

	if (strcmp(val, "none") != 0 && !parse_stage(val, &st)) {
		kprintf("error: x-cut-at takes reservation, iterative-copy, stop-and-copy, "
			"commitment, activation or none, not '%s'\n", val);
		return -E_INVAL;
	}
	mig_params.cut_at = st;
	return 0;
}

static int set_parameter(const char *name, const char *val)
{
	bool *flag = flag_param(name);

	if (flag)
		return set_flag(name, flag, val);
	if (strcmp(name, "x-cut-at") == 0)
		return set_cut_at(val);
	if (strcmp(name, "max-bandwidth") == 0)
		return set_bandwidth(val);
	for (size_t i = 0; i < ARRAY_SIZE(num_params); i++)
		if (strcmp(name, num_params[i].name) == 0)
			return set_num(&num_params[i], val);
	kprintf("error: unknown parameter '%s'\n", name);
	usage_set_parameter();
	return -E_INVAL;
}

int cmd_migrate_set_parameter(int argc, char **argv)
{
	if (argc != 2) {
		usage_set_parameter();
		return -E_INVAL;
	}
	if (set_parameter(argv[0], argv[1]))
		return -E_INVAL;
	kprintf("%s: %s\n", argv[0], argv[1]);
	return 0;
}

/* Pages queued per second over the last progress line's second; before the first, since
 * the iterative copy began. */
static uint64_t pages_per_s(const struct mig_out *o)
{
	uint64_t ms;

	if (o->pages_per_s || o->stage < MIG_ITERATE)
		return o->pages_per_s;
	ms = (o->pause_ms ? o->pause_ms : time_now_ms()) - o->iterate_start_ms;
	return ms ? o->pages_sent * 1000 / ms : 0;
}

int cmd_info_migrate(int argc, char **argv)
{
	const struct mig_out *o = &mig_out;

	kprintf("status: %s\n", mig_stage_name(o->stage));
	if (o->stage == MIG_FAILED)
		kprintf("failed-at: %s\nerror: %s\n", mig_stage_name(o->failed_at), o->error);
	kprintf("vm: %d\n", o->vm_id);
	kprintf("stream: %s\n", o->handshake_us ? "tls" : "plain");
	if (o->handshake_us)
		kprintf("handshake-us: %llu\n", (unsigned long long)o->handshake_us);
	kprintf("round: %u\n", o->round);
	kprintf("transferred-pages: %llu\n", (unsigned long long)o->pages_sent);
	kprintf("zero-pages: %llu\n", (unsigned long long)o->zero_pages);
	kprintf("remaining-pages: %llu\n", (unsigned long long)o->remaining);
	kprintf("dirty-rate: %llu\n", (unsigned long long)o->dirty_rate);
	kprintf("wss-pages: %llu\n", (unsigned long long)o->wss); /* 0: not measured */
	uint64_t bw = mig_send_bandwidth() / 10000; /* MB/s, two decimals */
	kprintf("bandwidth: %llu.%02llu MB/s\n", (unsigned long long)(bw / 100),
		(unsigned long long)(bw % 100));
	if (o->expected_downtime_ms == UINT64_MAX)
		kprintf("expected-downtime: unknown\n"); /* no bandwidth measured yet */
	else
		kprintf("expected-downtime: %llu\n", (unsigned long long)o->expected_downtime_ms);
	uint64_t left = mig_send_remaining_ms();
	if (left == PRECOPY_NEVER)
		kprintf("remaining-time-ms: unknown\n"); /* no rate measured yet */
	else
		kprintf("remaining-time-ms: %llu\n", (unsigned long long)left);
	kprintf("pages-per-second: %llu\n", (unsigned long long)pages_per_s(o));
	if (o->predicted_after_ms != PRECOPY_NEVER && o->stage >= MIG_ITERATE) {
		kprintf("predicted-downtime: %llu\n", (unsigned long long)o->predicted_downtime_ms);
		kprintf("predicted-after-ms: %llu\n", (unsigned long long)o->predicted_after_ms);
	}
	kprintf("downtime-limit: %llu\n", (unsigned long long)mig_params.downtime_limit_ms);
	show_bandwidth();
	kprintf("full-digest: %s\n", mig_out.full_digest ? "on" : "off");
	kprintf("throttle-percent: %u\n", o->throttle_pct);
	kprintf("auto-converge: %s\n", mig_params.converge.on ? "on" : "off");
	kprintf("throttle-initial: %u\n", mig_params.converge.initial_pct);
	kprintf("throttle-increment: %u\n", mig_params.converge.increment_pct);
	kprintf("max-rounds: %llu\n", (unsigned long long)mig_params.max_rounds);
	kprintf("xbzrle: %s\n", mig_params.xbzrle ? "on" : "off");
	kprintf("xbzrle-pages: %llu\n", (unsigned long long)o->xbzrle_pages);
	kprintf("xbzrle-bytes-saved: %llu\n", (unsigned long long)o->xbzrle_saved);
	kprintf("xbzrle-encode-us: %llu\n",
		(unsigned long long)dev_muldiv(o->xbzrle_tsc, 1000000, time_tsc_hz()));
	if (o->stage == MIG_DONE) {
		kprintf("downtime: %llu\n", (unsigned long long)o->downtime_ms);
		/* the pause, split: last pages and state out; the target's check; activation */
		kprintf("downtime-copy: %llu\n", (unsigned long long)(o->state_ms - o->pause_ms));
		kprintf("downtime-commit: %llu\n", (unsigned long long)(o->commit_ms - o->state_ms));
		/* ... of which: until the target acknowledged the pause's last byte */
		kprintf("downtime-wire: %llu\n", (unsigned long long)(o->wire_ms - o->state_ms));
		kprintf("downtime-activate: %llu\n",
			(unsigned long long)(o->pause_ms + o->downtime_ms - o->commit_ms));
		kprintf("pause-lead: %llu\n", (unsigned long long)o->pause_lead_ms);
		kprintf("drain-bytes: %llu\n", (unsigned long long)o->drain_bytes);
		kprintf("drain-ms: %llu\n", (unsigned long long)o->drain_ms);
		kprintf("pause-inflight-bytes: %llu\n", (unsigned long long)o->pause_inflight);
		kprintf("final-pages: %llu\n", (unsigned long long)o->final_pages);
		kprintf("device-records: %u\n", o->records_sent);
		kprintf("device-bytes: %llu\n", (unsigned long long)o->device_bytes);
		kprintf("device-us: %llu\n",
			(unsigned long long)dev_muldiv(o->device_tsc, 1000000, time_tsc_hz()));
		kprintf("cpu-state-bytes: %llu\n", (unsigned long long)o->cpu_state_bytes);
		kprintf("total-time: %llu\n", (unsigned long long)o->total_ms);
		kprintf("iterate-ms: %llu\n", (unsigned long long)o->iterate_ms);
		kprintf("iterate-acked-bytes: %llu\n", (unsigned long long)o->iterate_acked);
		kprintf("send-blocked-ms: %llu\n", (unsigned long long)(o->blocked_us / 1000));
		kprintf("rounds: %u\n", o->round);
		kprintf("target-vm: %d\n", o->target_vm_id);
	}
	return 0;
}
