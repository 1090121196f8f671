/* The target side of a migration: up to MIG_IN_MAX VMs coming in at once, each in its own
 * slot (struct incoming) with its own connection. Every message is checked
 * (type, length, ranges, stage order) before use; anything wrong aborts this migration
 * and frees all it reserved, nothing else. */
#include <stdarg.h>
#include "hv/bitmap.h"
#include "hv/cpuid.h"
#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pmm.h"
#include "hv/time.h"
#include "hv/sched.h"
#include "hv/vm.h"
#include "hv/vm_args.h"
#include "migrate/autopolicy.h"
#include "migrate/guard.h"
#include "migrate/migrate.h"
#include "migrate/send.h"
#include "migrate/stream.h"
#include "migrate/xbzrle.h"
#include "net/addr.h"
#include "hv/backend.h"
#include "hv/vcpu.h"
#include "hv/x86_rules.h"

#define MEM_RESERVE_MIB 8 /* what a target keeps for itself beyond a VM's RAM */

struct incoming {
	enum mig_stage stage;
	struct vm *vm;
	int vm_id;
	uint64_t mem_size;
	uint64_t *have;       /* pages received at least once */
	uint64_t have_pages;  /* pages of the bitmap allocation */
	uint64_t *terms;      /* each page's digest term as last received */
	uint64_t terms_pages;
	uint64_t mem_sum;     /* their sum: the memory part of the digest */
	bool full_digest;     /* the source asked for the whole RAM in the digest too */
	bool xbzrle;          /* the source may send deltas (FEAT_XBZRLE) */
	uint32_t rounds;
	/* the device records HELLO announced, in order, each as this host's record index */
	struct wire_record_id records[WIRE_MAX_RECORDS];
	uint8_t record_index[WIRE_MAX_RECORDS];
	unsigned nr_records, records_in;
	unsigned nr_vcpus, vcpus_in; /* HELLO's, and the VCPU messages in (the BSP's: 1) */
	int64_t tsc_skew[WIRE_MAX_VCPUS]; /* each AP's TSC less the BSP's */
	bool digest_begun;    /* memory is in the digest (no page may come after a record) */
	uint64_t digest;      /* memory, then each record as it came */
	uint64_t state_tsc;   /* the guest's TSC in STATE: activation never goes below it */
	struct mstream stream;
	struct guard_pace pace;
	bool hurrying;        /* sched_hurry() while its VM is on its way in */
	uint64_t opened_ms;   /* when the connection came */
};

/* A few VMs may come in at once, from different hosts: one slow or silent peer then
 * holds one slot, never the host (MIG_IN_MAX in migrate/migrate.h). */
static struct incoming ins[MIG_IN_MAX];

static struct tcp_pcb *listener;
static uint8_t page[WIRE_PAGE];

/* Each stage must advance at a pace (migrate/guard.h): HELLO within the first window;
 * pages and records while copying; the next stage's message once the VM is paused. */
static const struct {
	uint32_t window_ms, min_units;
} paces[] = {
	[MIG_RESERVE] = { 30000, 1 },
	[MIG_ITERATE] = { 10000, 16 }, /* 64 KiB per 10 s: a crawl, and still enough */
	[MIG_STOPCOPY] = { 30000, 1 },
	[MIG_COMMIT] = { 30000, 1 },
};
static struct guard_peers budget; /* reservations by peer that came to nothing */

static void pace_begin(struct incoming *in, enum mig_stage s)
{
	if (s >= ARRAY_SIZE(paces) || !paces[s].window_ms)
		return;
	guard_pace_start(&in->pace, time_now_ms(),
			 mig_params.x_pace_window_ms ? mig_params.x_pace_window_ms :
						       paces[s].window_ms, paces[s].min_units);
}

static void free_books(struct incoming *in)
{
	if (in->have)
		pmm_free((uintptr_t)in->have, in->have_pages);
	if (in->terms)
		pmm_free((uintptr_t)in->terms, in->terms_pages);
	in->have = in->terms = NULL;
}

static void release(struct incoming *in)
{
	free_books(in);
	sched_hurry(&in->hurrying, false);
	if (in->vm && in->vm->state == VM_INCOMING)
		vm_discard(in->vm);
	in->vm = NULL;
}

static void fail(struct incoming *in, bool tell, const char *fmt, ...)
{
	char why[160], ip[20];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	net_format_ip4(ip, sizeof(ip), in->stream.peer_ip);
	if (in->vm && in->vm->state == VM_INCOMING)
		guard_peers_charge(&budget, in->stream.peer_ip, in->mem_size / MIB, time_now_ms());
	if (tell && in->stream.pcb) {
		struct msg m = { .type = MSG_ABORT };
		strlcpy(m.u.abort.reason, why, sizeof(m.u.abort.reason));
		mstream_send(&in->stream, &m);
	}
	mstream_close(&in->stream);
	release(in);
	if (in->stream.refused) /* at the TLS handshake: nothing was reserved */
		mon_event("migration from %s refused: %s", ip, why);
	else
		mon_event("migration from %s: failed at %s: %s", ip, mig_stage_name(in->stage),
			  why);
	in->stage = MIG_NONE;
}

/* A test can cut the connection as this side begins a stage's work (x-cut-at): the
 * migration fails as a cut cable would make it. True when it was cut. */
static bool cut(struct incoming *in, enum mig_stage s)
{
	if (!mig_cut_due(s))
		return false;
	mstream_abort(&in->stream, "connection cut (x-cut-at)");
	fail(in, false, "%s", in->stream.error);
	return true;
}

static void reply(struct incoming *in, enum wire_type type, bool ok, uint32_t id,
		  const char *reason)
{
	struct msg m = { .type = type };

	m.u.reserved.ok = ok;
	m.u.reserved.vm_id = id;
	strlcpy(m.u.reserved.reason, reason, sizeof(m.u.reserved.reason));
	mstream_send(&in->stream, &m);
}

/* Each record the source will send must be one this host has, in the same version, and
 * listed once; in->records maps it to this host's record. Else err names it. */
static bool records_known(struct incoming *in, const struct msg *m, char *err,
			  size_t err_size)
{
	const struct vms_desc *d[PC_NR_RECORDS];
	unsigned n = pc_record_descs(d);

	for (unsigned i = 0; i < m->u.hello.nr_records; i++) {
		const struct wire_record_id *r = &m->u.hello.records[i];
		unsigned k = 0;

		for (unsigned j = 0; j < i; j++)
			if (!strcmp(m->u.hello.records[j].name, r->name)) {
				fmt_snprintf(err, err_size, "device state record '%s' listed twice",
					     r->name);
				return false;
			}
		while (k < n && strcmp(d[k]->name, r->name))
			k++;
		if (k == n || d[k]->version != r->version) {
			int w = fmt_snprintf(err, err_size, "unknown device state record '%s' "
					     "version %u", r->name, r->version);
			if (k < n && w >= 0 && (size_t)w < err_size)
				fmt_snprintf(err + w, err_size - w, " (this host has version %u)",
					     d[k]->version);
			return false;
		}
		in->records[i] = *r;
		in->record_index[i] = (uint8_t)k;
	}
	in->nr_records = m->u.hello.nr_records;
	return true;
}

/* The VM's CPU model comes with it: sane, and one this CPU can give, at its TSC rate. */
static bool model_ok(const struct cpu_model *cpu, char *err, size_t err_size)
{
	return !cpu_model_valid(cpu, err, err_size) &&
	       !cpu_model_check_host(cpu, cpuid_host, time_tsc_hz(), err, err_size);
}

/* Whether a slot besides in (NULL: any) holds a reserved VM not yet activated. */
static bool another_coming(const struct incoming *in)
{
	for (int i = 0; i < MIG_IN_MAX; i++)
		if (&ins[i] != in && ins[i].vm)
			return true;
	return false;
}

static void reserve(struct incoming *in, const struct msg *m)
{
	const struct hv_caps *c = hv_caps();
	uint64_t need = m->u.hello.mem_size + MEM_RESERVE_MIB * MIB, free = pmm_stats().free;
	uint64_t wait;
	char err[160];

	if (cut(in, MIG_RESERVE))
		return;
	/* the request's own faults first, then what this host can give */
	if (!vm_name_valid(m->u.hello.name) || !vm_name_valid(m->u.hello.image)) {
		fmt_snprintf(err, sizeof(err), "bad VM or image name");
	} else if (m->u.hello.features & ~FEAT_ALL) {
		fmt_snprintf(err, sizeof(err), "unknown features 0x%x asked for",
			     m->u.hello.features & ~FEAT_ALL);
	} else if (!c->usable || !c->stage2 || !c->unrestricted) {
		fmt_snprintf(err, sizeof(err), "this host cannot run guests (%s)",
			     c->usable ? "no EPT or unrestricted guest" : c->why);
	} else if (!records_known(in, m, err, sizeof(err)) ||
		   !model_ok(&m->u.hello.cpu, err, sizeof(err))) {
		/* err says which */
	} else if (need > free) {
		fmt_snprintf(err, sizeof(err), "not enough memory: %llu MiB needed, %llu MiB free",
			     (unsigned long long)(need / MIB), (unsigned long long)(free / MIB));
	} else if ((m->u.hello.features & FEAT_LOAD_CHECK) && another_coming(in)) {
		/* the load it would be judged by lacks the VM still on its way */
		fmt_snprintf(err, sizeof(err), "another VM is coming in; a policy's move waits");
	} else if ((m->u.hello.features & FEAT_LOAD_CHECK) &&
		   autopolicy_refuses(in->stream.peer_ip, m->u.hello.load, err, sizeof(err))) {
		/* err says why */
	} else if ((wait = guard_peers_wait(&budget, in->stream.peer_ip, m->u.hello.mem_size / MIB,
					    time_now_ms()))) {
		fmt_snprintf(err, sizeof(err), "too many reservations from this host came to "
			     "nothing; the next one in %llu s", (unsigned long long)DIV_UP(wait, 1000));
	} else {
		in->mem_size = m->u.hello.mem_size;
		in->full_digest = m->u.hello.features & FEAT_FULL_DIGEST;
		in->xbzrle = m->u.hello.features & FEAT_XBZRLE;
		in->have_pages = ALIGN_UP(BITMAP_WORDS(in->mem_size / WIRE_PAGE) * 8, PAGE_SIZE) /
				PAGE_SIZE;
		in->terms_pages = ALIGN_UP(in->mem_size / WIRE_PAGE * 8, PAGE_SIZE) / PAGE_SIZE;
		in->have = (uint64_t *)(uintptr_t)pmm_alloc(in->have_pages);
		in->terms = (uint64_t *)(uintptr_t)pmm_alloc(in->terms_pages);
		if (!in->have || !in->terms)
			fmt_snprintf(err, sizeof(err), "out of memory");
		else if (!vm_create_incoming(in->mem_size, m->u.hello.vcpus, m->u.hello.name,
					     m->u.hello.image, &m->u.hello.cpu, &in->vm, err,
					     sizeof(err))) {
			in->nr_vcpus = m->u.hello.vcpus;
			in->vcpus_in = 1;
			in->vm_id = in->vm->id;
			reply(in, MSG_RESERVED, true, (uint32_t)in->vm->id, "");
			in->stage = MIG_ITERATE;
			cut(in, MIG_ITERATE);
			return;
		}
	}
	reply(in, MSG_RESERVED, false, 0, err);
	fail(in, false, "refused: %s", err);
}

/* A delta applies to this host's copy of a page it has, under FEAT_XBZRLE only; the
 * result is in page. False (the migration failed) for any other. */
static bool apply_delta(struct incoming *in, const struct msg *m, uint64_t pfn)
{
	if (!in->xbzrle || !bitmap_test(in->have, pfn)) {
		fail(in, true, "a delta for page 0x%llx, %s", (unsigned long long)m->u.page.gpa,
		     in->xbzrle ? "which never arrived" : "but xbzrle was not agreed");
		return false;
	}
	gpa_read(in->vm, gpa(m->u.page.gpa), page, WIRE_PAGE);
	if (xbz_decode(page, m->u.page.data, m->u.page.delta_len)) {
		fail(in, true, "a malformed delta for page 0x%llx",
		     (unsigned long long)m->u.page.gpa);
		return false;
	}
	gpa_write(in->vm, gpa(m->u.page.gpa), page, WIRE_PAGE);
	return true;
}

static void store_page(struct incoming *in, const struct msg *m)
{
	uint64_t pfn = m->u.page.gpa / WIRE_PAGE, term;
	const uint8_t *data = m->u.page.data;

	if (m->u.page.delta) {
		if (!apply_delta(in, m, pfn))
			return;
		data = page;
	} else if (m->u.page.zero) {
		memset(page, 0, sizeof(page));
		gpa_write(in->vm, gpa(m->u.page.gpa), page, WIRE_PAGE);
	} else {
		gpa_write(in->vm, gpa(m->u.page.gpa), m->u.page.data, WIRE_PAGE);
	}
	/* the term of what arrived (a delta: the page it made), not of what guest memory
	 * reads back: both sides hash the same bytes */
	term = wire_page_term(m->u.page.gpa, m->u.page.zero ? NULL : data);
	in->mem_sum += term - in->terms[pfn];
	in->terms[pfn] = term;
	bitmap_test_set(in->have, pfn);
}

/* The digest begins with memory, once all of it is in: at the first record, or at the
 * state when there are none (the whole RAM too when the source asked). */
static void digest_begin(struct incoming *in)
{
	if (in->digest_begun)
		return;
	in->digest = in->mem_sum;
	if (in->full_digest)
		in->digest = vm_mem_fold(in->vm, in->digest, wire_digest_mem);
	in->digest_begun = true;
}

/* Why a record is not the one due next: HELLO's list says the order. */
static void record_unexpected(struct incoming *in, const struct msg *m)
{
	const char *name = m->u.record.name;

	for (unsigned i = 0; i < in->nr_records; i++) {
		if (strcmp(in->records[i].name, name) ||
		    in->records[i].version != m->u.record.version)
			continue;
		if (i < in->records_in)
			fail(in, true, "device state '%s' arrived twice", name);
		else
			fail(in, true, "device state '%s' arrived before '%s'", name,
			     in->records[in->records_in].name);
		return;
	}
	fail(in, true, "device state record '%s' version %u was not announced", name,
	     m->u.record.version);
}

/* Stop-and-copy: a device's record, decoded straight into the incoming VM's device,
 * every field checked (a bad one ends the migration, naming record and field). */
static void store_record(struct incoming *in, const struct msg *m)
{
	unsigned i = in->records_in;
	const struct vms_desc *d[PC_NR_RECORDS];
	char err[120];

	if (in->stage == MIG_ITERATE)
		in->stage = MIG_STOPCOPY; /* the source paused the VM: no page comes after this */
	if (i >= in->nr_records || strcmp(in->records[i].name, m->u.record.name) ||
	    in->records[i].version != m->u.record.version) {
		record_unexpected(in, m);
		return;
	}
	pc_record_descs(d);
	if (vms_decode(d[in->record_index[i]], m->u.record.data, m->u.record.len,
		       pc_record_state(in->vm, in->record_index[i]), err, sizeof(err))) {
		fail(in, true, "bad device state: %s", err);
		return;
	}
	digest_begin(in);
	in->digest = wire_digest_record(in->digest, m);
	in->records_in++;
}

/* An application processor's state, after every record, in index order: checked as
 * STATE's is (a state a CPU could not hold ends the migration), its local APIC's record
 * decoded as a device's, both straight into the incoming VM's vCPU. */
static void store_vcpu(struct incoming *in, const struct msg *m)
{
	unsigned i = m->u.vcpu.index;
	struct vcpu *v;
	char err[120];

	if (in->stage == MIG_ITERATE)
		in->stage = MIG_STOPCOPY; /* the source paused the VM: no page comes after this */
	if (in->records_in < in->nr_records || i != in->vcpus_in || i >= in->nr_vcpus) {
		fail(in, true, "vCPU %u's state out of order (%u of %u in, %u of %u records)", i,
		     in->vcpus_in, in->nr_vcpus, in->records_in, in->nr_records);
		return;
	}
	if (x86_state_check(&in->vm->cpu, &m->u.vcpu.cpu, err, sizeof(err))) {
		fail(in, true, "vCPU %u's state is not one a CPU could hold: %s", i, err);
		return;
	}
	if (vms_decode(&lapic_vms, m->u.vcpu.apic, m->u.vcpu.apic_len,
		       pc_apic_record(in->vm, i, false), err, sizeof(err))) {
		fail(in, true, "bad local APIC state of vCPU %u: %s", i, err);
		return;
	}
	v = in->vm->vcpus[i];
	vcpu_set_state(v, &m->u.vcpu.cpu);
	v->mp = (enum vcpu_mp)m->u.vcpu.mp;
	in->tsc_skew[i] = (int64_t)m->u.vcpu.cpu.tsc;
	v->sipi_vector = (uint8_t)m->u.vcpu.sipi_vector;
	digest_begin(in);
	in->digest = wire_digest_record(in->digest, m);
	in->vcpus_in++;
}

/* Stage 5: the image must be complete, every record and vCPU in, the vCPU state one a
 * CPU could hold, and all of it match the source's digest. */
static void commit(struct incoming *in, const struct msg *m)
{
	uint64_t n = in->mem_size / WIRE_PAGE;
	char err[120], why[160];

	in->stage = MIG_COMMIT;
	if (bitmap_count(in->have, n) != n) {
		uint64_t missing = 0;
		for (uint64_t i = 0; i < n; i++)
			if (!bitmap_test(in->have, i)) {
				missing = i;
				break;
			}
		fmt_snprintf(why, sizeof(why), "page 0x%llx never arrived",
			     (unsigned long long)(missing * WIRE_PAGE));
		goto refuse;
	}
	if (in->records_in < in->nr_records) {
		fmt_snprintf(why, sizeof(why), "device state '%s' never arrived",
			     in->records[in->records_in].name);
		goto refuse;
	}
	if (in->vcpus_in < in->nr_vcpus) {
		fmt_snprintf(why, sizeof(why), "vCPU %u's state never arrived", in->vcpus_in);
		goto refuse;
	}
	/* Every field as a CPU would take it, before any reaches this CPU: a value that
	 * would fault tern (a non-canonical LSTAR) or fail VM entry ends the migration.
	 * Before the digest, so such a state is named even when the digest is wrong too. */
	if (x86_state_check(&in->vm->cpu, &m->u.state.cpu, err, sizeof(err))) {
		fmt_snprintf(why, sizeof(why), "the vCPU state is not one a CPU could hold: %s", err);
		goto refuse;
	}
	digest_begin(in);
	if (wire_digest_state(in->digest, m) != m->u.state.digest) {
		fmt_snprintf(why, sizeof(why), "digest mismatch: the copy differs from the source");
		goto refuse;
	}
	vcpu_set_state(in->vm->vcpu, &m->u.state.cpu);
	pc_restored(in->vm);
	in->state_tsc = m->u.state.cpu.tsc;
	if (cut(in, MIG_COMMIT))
		return; /* before the answer: the source must resume the VM */
	reply(in, MSG_COMMIT, true, (uint32_t)in->vm->id, "");
	return;
refuse:
	reply(in, MSG_COMMIT, false, 0, why);
	fail(in, false, "%s", why);
}

/* The guest's clock goes on from the source's TSC as it sent ACTIVATE: it lost only the
 * message's way here, and timers due meanwhile (device deadlines are guest times) fire
 * as the VM starts. */
static void activate(struct incoming *in, const struct msg *a)
{
	struct msg m = { .type = MSG_ACTIVATED };
	char ip[20];

	vcpu_set_tsc(in->vm->vcpu, wire_activate_tsc(a->u.activate.tsc, in->state_tsc,
						    in->vm->cpu.tsc_hz));
	/* the APs' clocks keep the distance they had to the BSP's */
	for (unsigned i = 1; i < in->vm->nr_vcpus; i++)
		in->vm->vcpus[i]->tsc_offset = in->vm->vcpu->tsc_offset + in->tsc_skew[i];
	vm_activate(in->vm);
	m.u.activated.vm_id = (uint32_t)in->vm->id;
	mstream_send(&in->stream, &m);
	net_format_ip4(ip, sizeof(ip), in->stream.peer_ip);
	mon_event("vm%d arrived from %s", in->vm->id, ip);
	autopolicy_arrived(in->vm->id);
	in->stage = MIG_DONE;
	free_books(in);
	sched_hurry(&in->hurrying, false);
	in->vm = NULL;
}

static void dispatch(struct incoming *in, const struct msg *m)
{
	if (m->type == MSG_ABORT)
		fail(in, false, "the source gave up: %s", m->u.abort.reason);
	else if (in->stage == MIG_RESERVE && m->type == MSG_HELLO)
		reserve(in, m);
	else if (in->stage == MIG_ITERATE && m->type == MSG_PAGE)
		store_page(in, m);
	else if (in->stage == MIG_ITERATE && m->type == MSG_ROUND)
		in->rounds++;
	else if ((in->stage == MIG_ITERATE || in->stage == MIG_STOPCOPY) && m->type == MSG_RECORD)
		store_record(in, m);
	else if ((in->stage == MIG_ITERATE || in->stage == MIG_STOPCOPY) && m->type == MSG_VCPU)
		store_vcpu(in, m);
	else if ((in->stage == MIG_ITERATE || in->stage == MIG_STOPCOPY) && m->type == MSG_STATE)
		commit(in, m);
	else if (in->stage == MIG_COMMIT && m->type == MSG_ACTIVATE)
		activate(in, m);
	else
		fail(in, true, "message %d out of order", m->type);
}

/* A stage that begins gets its pace; within one, what advances the migration counts
 * (a ROUND alone does not: it carries nothing). */
static void handle(struct incoming *in, const struct msg *m)
{
	enum mig_stage was = in->stage;

	dispatch(in, m);
	if (in->stage != was)
		pace_begin(in, in->stage);
	else if (m->type != MSG_ROUND)
		guard_pace_note(&in->pace);
}

static bool active(const struct incoming *in)
{
	return in->stage != MIG_NONE && in->stage != MIG_DONE;
}

/* Has not reserved yet: still in the TLS handshake, or silent before its HELLO (so also
 * active). */
static bool unproven(const struct incoming *in)
{
	return in->stage == MIG_RESERVE;
}

/* The slot a new connection from ip takes (guard_admit), the one it replaces ended with
 * the reason; NULL when refused, the reason said. */
static struct incoming *slot_for(uint32_t ip)
{
	struct guard_slot view[MIG_IN_MAX];
	enum guard_admit how;
	uint64_t now = time_now_ms();
	char addr[20];
	int i;

	for (i = 0; i < MIG_IN_MAX; i++)
		view[i] = (struct guard_slot){ active(&ins[i]), unproven(&ins[i]),
					       ins[i].stream.peer_ip, ins[i].opened_ms };
	i = guard_admit(view, MIG_IN_MAX, ip, now, &how);
	net_format_ip4(addr, sizeof(addr), ip);
	switch (how) {
	case GUARD_FREE:
		break;
	case GUARD_REPLACE_SAME:
		fail(&ins[i], false, "a new connection from the same host replaced it");
		break;
	case GUARD_REPLACE_STALE:
		fail(&ins[i], false, "unproven after %llu s, its slot given to a new connection",
		     (unsigned long long)(now - ins[i].opened_ms) / 1000);
		break;
	case GUARD_REFUSE_ADDRESS:
		mon_event("migration from %s refused: %d of the %d migrations coming in are from "
			  "it already; the last is kept for other hosts", addr, MIG_IN_MAX - 1,
			  MIG_IN_MAX);
		return NULL;
	case GUARD_REFUSE_FULL:
		mon_event("migration from %s refused: %d migrations are coming in already", addr,
			  MIG_IN_MAX);
		return NULL;
	}
	return &ins[i];
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct incoming *in;
	uint32_t from;

	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	from = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)));
	in = slot_for(from);
	if (!in) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	mstream_close(&in->stream); /* the last one's, if it lingers (its TLS session) */
	memset(in, 0, sizeof(*in));
	mstream_accept(&in->stream, pcb);
	in->opened_ms = time_now_ms();
	in->stage = MIG_RESERVE;
	pace_begin(in, MIG_RESERVE);
	sched_hurry(&in->hurrying, true);
	return ERR_OK;
}

int mig_recv_listen(uint16_t port)
{
	struct tcp_pcb *pcb = tcp_new();

	if (!pcb)
		return -E_NOMEM;
	if (tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
		tcp_abort(pcb);
		return -E_BUSY;
	}
	listener = tcp_listen(pcb);
	if (!listener) {
		tcp_abort(pcb);
		return -E_NOMEM;
	}
	tcp_accept(listener, on_accept);
	return 0;
}

bool mig_recv_busy(void)
{
	return another_coming(NULL);
}

static void poll_one(struct incoming *in)
{
	struct msg m;
	char err[96];
	uint64_t units;
	int r = 0;

	if (!active(in)) {
		if (in->stage == MIG_DONE && !in->stream.closed && in->stream.pcb &&
		    time_now_ms() - in->stream.last_progress_ms > 2000)
			mstream_close(&in->stream);
		return;
	}
	/* a bounded batch, so guests and the monitor keep their turn */
	uint64_t until = time_now_us() + MIGRATE_SLICE_US;
	for (int i = 0; i < 256 && active(in); i++) {
		if (i && time_now_us() >= until)
			break;
		r = mstream_recv(&in->stream, in->mem_size, &m, err, sizeof(err));
		if (r != 1)
			break;
		handle(in, &m);
	}
	if (!active(in))
		return;
	if (r < 0)
		fail(in, true, "bad message: %s", err);
	else if (in->stream.closed && r == 0) /* what came before the close counts first */
		fail(in, false, "%s", in->stream.error[0] ? in->stream.error : "connection closed");
	else if (time_now_ms() - in->stream.last_progress_ms > MIGRATE_STALL_MS) {
		mstream_abort(&in->stream, "no progress"); /* as the source does (send.c) */
		fail(in, false, "no progress for %d s", MIGRATE_STALL_MS / 1000);
	} else if (guard_pace_short(&in->pace, time_now_ms(), &units)) {
		fail(in, true, "too slow: %llu pages, records or stage messages in %llu s, at least "
		     "%llu needed", (unsigned long long)units,
		     (unsigned long long)(in->pace.window_ms / 1000),
		     (unsigned long long)in->pace.min_units);
	}
}

void mig_recv_poll(void)
{
	for (int i = 0; i < MIG_IN_MAX; i++)
		poll_one(&ins[i]);
}
