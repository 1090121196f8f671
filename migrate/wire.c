#include "hv/error.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "migrate/wire.h"

static const uint8_t magic[4] = { 'T', 'R', 'N', 'M' };

/* --- little-endian fields --- */

static void put(uint8_t **p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t **p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v |= (uint64_t)*(*p)++ << (8 * i);
	return v;
}

static void put_bytes(uint8_t **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

static void get_bytes(const uint8_t **p, void *dst, size_t n)
{
	memcpy(dst, *p, n);
	*p += n;
}

uint32_t wire_check(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* A cheap 64-bit mix over 8-byte words: any changed word changes it. */
uint64_t wire_digest_init(void)
{
	return 0x6a09e667f3bcc908ull;
}

static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

uint64_t wire_digest_mem(uint64_t h, const uint8_t *p, size_t n)
{
	uint64_t w;
	size_t i;

	/* __builtin_memcpy: one load; freestanding builds would otherwise call memcpy for
	 * every word, and this runs over a VM's whole RAM while it is paused. */
	for (i = 0; i + 8 <= n; i += 8) {
		__builtin_memcpy(&w, p + i, 8);
		h = mix(h, w);
	}
	/* A last partial word counts too, zero-padded: the state is not a multiple of 8. */
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		h = mix(h, w);
	}
	return h;
}

/* A page's contents hashed apart from its address, so the all-zero page's hash is
 * worked out once; the address then goes into a full-avalanche finish, so equal pages at
 * two addresses, or two pages swapped, give different terms. */
uint64_t wire_page_term(uint64_t gpa, const uint8_t *page)
{
	static uint64_t zero_hash;
	static bool zero_known;
	static const uint8_t zeros[WIRE_PAGE];
	uint64_t h;

	if (!page) {
		if (!zero_known) {
			zero_hash = wire_digest_mem(wire_digest_init(), zeros, WIRE_PAGE);
			zero_known = true;
		}
		h = zero_hash;
	} else {
		h = wire_digest_mem(wire_digest_init(), page, WIRE_PAGE);
	}
	h += (gpa / WIRE_PAGE + 1) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* --- the vCPU state, field by field, each as a u64 --- */

struct field {
	uint16_t off, size;
};

#define F(f) { offsetof(struct vcpu_state, f), sizeof(((struct vcpu_state *)0)->f) }
#define SEG(i) F(seg[i].sel), F(seg[i].limit), F(seg[i].attr), F(seg[i].base)

static const struct field cpu_fields[] = {
	F(rax), F(rbx), F(rcx), F(rdx), F(rsi), F(rdi), F(rbp), F(rsp),
	F(r8), F(r9), F(r10), F(r11), F(r12), F(r13), F(r14), F(r15),
	F(rip), F(rflags), F(cr0), F(cr2), F(cr3), F(cr4), F(xcr0),
	F(dr0), F(dr1), F(dr2), F(dr3), F(dr6), F(dr7), F(efer),
	SEG(0), SEG(1), SEG(2), SEG(3), SEG(4), SEG(5), SEG(6), SEG(7),
	F(gdtr.base), F(idtr.base), F(gdtr.limit), F(idtr.limit),
	F(sysenter_cs), F(sysenter_esp), F(sysenter_eip),
	F(star), F(lstar), F(cstar), F(sfmask), F(kernel_gs_base), F(tsc_aux),
	F(pat), F(misc_enable), F(mtrr_def_type),
	F(mtrr_fixed[0]), F(mtrr_fixed[1]), F(mtrr_fixed[2]), F(mtrr_fixed[3]), F(mtrr_fixed[4]), F(mtrr_fixed[5]), F(mtrr_fixed[6]), F(mtrr_fixed[7]), F(mtrr_fixed[8]), F(mtrr_fixed[9]), F(mtrr_fixed[10]),
	F(mtrr_var[0]), F(mtrr_var[1]), F(mtrr_var[2]), F(mtrr_var[3]), F(mtrr_var[4]), F(mtrr_var[5]), F(mtrr_var[6]), F(mtrr_var[7]), F(mtrr_var[8]), F(mtrr_var[9]), F(mtrr_var[10]), F(mtrr_var[11]), F(mtrr_var[12]), F(mtrr_var[13]), F(mtrr_var[14]), F(mtrr_var[15]),
	F(tsc), F(tsc_adjust), F(interruptibility), F(activity), F(nmi_pending),
	F(event.valid), F(event.type), F(event.vector), F(event.has_error), F(event.error),
	F(event.insn_len),
};

#define NR_CPU_FIELDS (sizeof(cpu_fields) / sizeof(cpu_fields[0]))
#define STATE_BYTES (NR_CPU_FIELDS * 8 + XSAVE_BYTES + 8)
#define VCPU_FIXED (3 * 4 + NR_CPU_FIELDS * 8 + XSAVE_BYTES + 4) /* before the APIC's */

static void put_cpu(uint8_t **p, const struct vcpu_state *s)
{
	for (size_t i = 0; i < NR_CPU_FIELDS; i++) {
		uint64_t v = 0;
		memcpy(&v, (const uint8_t *)s + cpu_fields[i].off, cpu_fields[i].size);
		put(p, v, 8);
	}
	put_bytes(p, s->xsave, XSAVE_BYTES);
}

static bool get_cpu(const uint8_t **p, struct vcpu_state *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < NR_CPU_FIELDS; i++) {
		uint64_t v = get(p, 8);
		if (cpu_fields[i].size < 8 && v >> (8 * cpu_fields[i].size))
			return false;
		memcpy((uint8_t *)s + cpu_fields[i].off, &v, cpu_fields[i].size);
	}
	get_bytes(p, s->xsave, XSAVE_BYTES);
	return true;
}

/* --- strings: fixed fields, NUL-terminated inside --- */

static void put_str(uint8_t **p, const char *s, size_t field)
{
	uint8_t buf[WIRE_REASON] = { 0 };

	strlcpy((char *)buf, s, field);
	put_bytes(p, buf, field);
}

static bool get_str(const uint8_t **p, char *s, size_t field)
{
	get_bytes(p, s, field);
	if (strnlen(s, field) == field)
		return false;
	for (const char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return false;
	return true;
}

/* --- HELLO's CPU model and record list: fixed room, the unused part zero --- */

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

#define ENTRY_BYTES 24
#define RECORD_ID_BYTES (VMS_NAME_MAX + 2)
#define HELLO_BYTES (8 + 4 * 4 + 2 * WIRE_NAME + 4 + 8 + CPU_MODEL_LEAVES * ENTRY_BYTES + 4 + \
		     WIRE_MAX_RECORDS * RECORD_ID_BYTES)

static void put_model(uint8_t **p, const struct cpu_model *m)
{
	put(p, m->nr, 4);
	put(p, m->tsc_hz, 8);
	for (unsigned i = 0; i < CPU_MODEL_LEAVES; i++) {
		const struct cpuid_entry *e = &m->e[i];
		bool used = i < m->nr;
		put(p, used ? e->leaf : 0, 4), put(p, used ? e->sub : 0, 4);
		put(p, used ? e->eax : 0, 4), put(p, used ? e->ebx : 0, 4);
		put(p, used ? e->ecx : 0, 4), put(p, used ? e->edx : 0, 4);
	}
}

static const char *get_model(const uint8_t **p, struct cpu_model *m)
{
	bool unused_zero = true;

	m->nr = (uint32_t)get(p, 4);
	m->tsc_hz = get(p, 8);
	for (unsigned i = 0; i < CPU_MODEL_LEAVES; i++) {
		struct cpuid_entry e;
		e.leaf = (uint32_t)get(p, 4), e.sub = (uint32_t)get(p, 4);
		e.eax = (uint32_t)get(p, 4), e.ebx = (uint32_t)get(p, 4);
		e.ecx = (uint32_t)get(p, 4), e.edx = (uint32_t)get(p, 4);
		if (i < m->nr)
			m->e[i] = e;
		else if (e.leaf | e.sub | e.eax | e.ebx | e.ecx | e.edx)
			unused_zero = false;
	}
	if (m->nr > CPU_MODEL_LEAVES)
		return "hello: the CPU model has more entries than 64";
	return unused_zero ? NULL : "hello: CPU model entries past its count are not zero";
}

static void put_record_ids(uint8_t **p, uint32_t n, const struct wire_record_id *r)
{
	put(p, n, 4);
	for (unsigned i = 0; i < WIRE_MAX_RECORDS; i++) {
		bool used = i < n;
		put_str(p, used ? r[i].name : "", VMS_NAME_MAX);
		put(p, used ? r[i].version : 0, 2);
	}
}

static const char *get_record_ids(const uint8_t **p, uint32_t *n, struct wire_record_id *r)
{
	const char *why = NULL;

	*n = (uint32_t)get(p, 4);
	for (unsigned i = 0; i < WIRE_MAX_RECORDS; i++) {
		bool text = get_str(p, r[i].name, VMS_NAME_MAX);
		r[i].version = (uint16_t)get(p, 2);
		if (why)
			continue;
		if (i < *n && (!text || !r[i].name[0]))
			why = "hello: a state record's name is not text";
		else if (i >= *n && (r[i].version || !all_zero(r[i].name, VMS_NAME_MAX)))
			why = "hello: state records past their count are not zero";
	}
	if (*n > WIRE_MAX_RECORDS)
		return "hello: more state records than 16";
	return why;
}

/* --- frames --- */

/* A PAGE's kind, after its address */
enum { PAGE_WHOLE, PAGE_ZERO, PAGE_DELTA };

size_t wire_encode(const struct msg *m, uint8_t *out)
{
	uint8_t *p = out + WIRE_HDR, *h = out;

	switch (m->type) {
	case MSG_HELLO:
		put(&p, m->u.hello.mem_size, 8);
		put(&p, m->u.hello.page_size, 4);
		put(&p, m->u.hello.vcpus, 4);
		put(&p, m->u.hello.features, 4);
		put(&p, m->u.hello.load, 4);
		put_str(&p, m->u.hello.name, WIRE_NAME);
		put_str(&p, m->u.hello.image, WIRE_NAME);
		put_model(&p, &m->u.hello.cpu);
		put_record_ids(&p, m->u.hello.nr_records, m->u.hello.records);
		break;
	case MSG_RESERVED:
	case MSG_COMMIT:
		put(&p, m->u.reserved.ok, 4);
		put(&p, m->u.reserved.vm_id, 4);
		put_str(&p, m->u.reserved.reason, WIRE_REASON);
		break;
	case MSG_PAGE:
		put(&p, m->u.page.gpa, 8);
		put(&p, m->u.page.zero ? PAGE_ZERO : m->u.page.delta ? PAGE_DELTA : PAGE_WHOLE, 4);
		if (m->u.page.delta)
			put_bytes(&p, m->u.page.data, m->u.page.delta_len);
		else if (!m->u.page.zero)
			put_bytes(&p, m->u.page.data, WIRE_PAGE);
		break;
	case MSG_ROUND:
		put(&p, m->u.round.round, 4);
		put(&p, m->u.round.pages, 4);
		break;
	case MSG_RECORD:
		put_str(&p, m->u.record.name, VMS_NAME_MAX);
		put(&p, m->u.record.version, 2);
		put(&p, m->u.record.len, 4);
		put_bytes(&p, m->u.record.data, m->u.record.len);
		break;
	case MSG_STATE:
		put_cpu(&p, &m->u.state.cpu);
		put(&p, m->u.state.digest, 8);
		break;
	case MSG_VCPU:
		put(&p, m->u.vcpu.index, 4);
		put(&p, m->u.vcpu.mp, 4);
		put(&p, m->u.vcpu.sipi_vector, 4);
		put_cpu(&p, &m->u.vcpu.cpu);
		put(&p, m->u.vcpu.apic_len, 4);
		put_bytes(&p, m->u.vcpu.apic, m->u.vcpu.apic_len);
		break;
	case MSG_ACTIVATED:
		put(&p, m->u.activated.vm_id, 4);
		break;
	case MSG_ABORT:
		put_str(&p, m->u.abort.reason, WIRE_REASON);
		break;
	case MSG_ACTIVATE:
		put(&p, m->u.activate.tsc, 8);
		break;
	}
	put_bytes(&h, magic, 4);
	put(&h, WIRE_VERSION, 2);
	put(&h, m->type, 2);
	put(&h, (uint64_t)(p - out - WIRE_HDR), 4);
	put(&h, wire_check(out + WIRE_HDR, (size_t)(p - out - WIRE_HDR)), 4);
	return (size_t)(p - out);
}

static int bad(char *err, size_t size, const char *why)
{
	fmt_snprintf(err, size, "%s", why);
	return -E_FORMAT;
}

/* PAGE, RECORD and VCPU carry data of their own length; the other types have one. */
static bool variable_len(uint32_t t)
{
	return t == MSG_PAGE || t == MSG_RECORD || t == MSG_VCPU;
}

/* The payload length each type must have (0: see below). */
static size_t expected_len(enum wire_type t)
{
	switch (t) {
	case MSG_HELLO:
		return HELLO_BYTES;
	case MSG_RESERVED:
	case MSG_COMMIT:
		return 8 + WIRE_REASON;
	case MSG_ROUND:
		return 8;
	case MSG_STATE:
		return STATE_BYTES;
	case MSG_ACTIVATE:
		return 8;
	case MSG_ACTIVATED:
		return 4;
	case MSG_ABORT:
		return WIRE_REASON;
	default:
		return 0;
	}
}

static int decode_payload(const uint8_t *p, uint32_t len, uint64_t mem_size, struct msg *m,
			  char *err, size_t err_size)
{
	const char *why;

	switch (m->type) {
	case MSG_HELLO:
		m->u.hello.mem_size = get(&p, 8);
		m->u.hello.page_size = (uint32_t)get(&p, 4);
		m->u.hello.vcpus = (uint32_t)get(&p, 4);
		m->u.hello.features = (uint32_t)get(&p, 4);
		m->u.hello.load = (uint32_t)get(&p, 4);
		if (!get_str(&p, m->u.hello.name, WIRE_NAME) ||
		    !get_str(&p, m->u.hello.image, WIRE_NAME))
			return bad(err, err_size, "hello: a name is not text");
		if ((why = get_model(&p, &m->u.hello.cpu)) ||
		    (why = get_record_ids(&p, &m->u.hello.nr_records, m->u.hello.records)))
			return bad(err, err_size, why);
		if (!m->u.hello.mem_size || m->u.hello.mem_size % (2 * MIB) ||
		    m->u.hello.mem_size > WIRE_MAX_MEM)
			return bad(err, err_size, "hello: memory size not a multiple of 2 MiB in range");
		if (m->u.hello.page_size != WIRE_PAGE || !m->u.hello.vcpus ||
		    m->u.hello.vcpus > WIRE_MAX_VCPUS)
			return bad(err, err_size, "hello: unsupported page size or vCPU count");
		if (m->u.hello.load > WIRE_MAX_LOAD)
			return bad(err, err_size, "hello: load out of range");
		return 0;
	case MSG_RESERVED:
	case MSG_COMMIT:
		m->u.reserved.ok = (uint32_t)get(&p, 4);
		m->u.reserved.vm_id = (uint32_t)get(&p, 4);
		if (m->u.reserved.ok > 1 || !get_str(&p, m->u.reserved.reason, WIRE_REASON))
			return bad(err, err_size, "reply: bad fields");
		return 0;
	case MSG_PAGE: {
		uint32_t kind;
		m->u.page.gpa = get(&p, 8);
		kind = (uint32_t)get(&p, 4);
		/* a delta is shorter than the page it stands for, else the page goes whole;
		 * what it says is checked where it is applied (xbz_decode) */
		if (kind > PAGE_DELTA ||
		    (kind == PAGE_DELTA ? len - 12 >= WIRE_PAGE
					: len != 12 + (kind == PAGE_ZERO ? 0 : WIRE_PAGE)))
			return bad(err, err_size, "page: bad kind or length");
		if (m->u.page.gpa % WIRE_PAGE || m->u.page.gpa >= mem_size)
			return bad(err, err_size, "page: address outside the VM's memory");
		m->u.page.zero = kind == PAGE_ZERO;
		m->u.page.delta = kind == PAGE_DELTA;
		m->u.page.delta_len = kind == PAGE_DELTA ? len - 12 : 0;
		m->u.page.data = kind == PAGE_ZERO ? NULL : p;
		return 0;
	}
	case MSG_ROUND:
		m->u.round.round = (uint32_t)get(&p, 4);
		m->u.round.pages = (uint32_t)get(&p, 4);
		return 0;
	case MSG_RECORD:
		if (!get_str(&p, m->u.record.name, VMS_NAME_MAX) || !m->u.record.name[0])
			return bad(err, err_size, "record: the name is not text");
		m->u.record.version = (uint16_t)get(&p, 2);
		m->u.record.len = (uint32_t)get(&p, 4);
		if (m->u.record.len != len - WIRE_RECORD_HDR)
			return bad(err, err_size, "record: length disagrees with the message's");
		m->u.record.data = p;
		return 0;
	case MSG_STATE:
		if (!get_cpu(&p, &m->u.state.cpu))
			return bad(err, err_size, "state: a register value out of range");
		m->u.state.digest = get(&p, 8);
		return 0;
	case MSG_VCPU:
		m->u.vcpu.index = (uint32_t)get(&p, 4);
		m->u.vcpu.mp = (uint32_t)get(&p, 4);
		m->u.vcpu.sipi_vector = (uint32_t)get(&p, 4);
		if (!m->u.vcpu.index || m->u.vcpu.index >= WIRE_MAX_VCPUS || m->u.vcpu.mp > 2 ||
		    m->u.vcpu.sipi_vector > 0xff)
			return bad(err, err_size, "vcpu: index, start state or vector out of range");
		if (!get_cpu(&p, &m->u.vcpu.cpu))
			return bad(err, err_size, "vcpu: a register value out of range");
		m->u.vcpu.apic_len = (uint32_t)get(&p, 4);
		if (m->u.vcpu.apic_len != len - VCPU_FIXED)
			return bad(err, err_size, "vcpu: length disagrees with the message's");
		m->u.vcpu.apic = p;
		return 0;
	case MSG_ACTIVATED:
		m->u.activated.vm_id = (uint32_t)get(&p, 4);
		return 0;
	case MSG_ABORT:
		if (!get_str(&p, m->u.abort.reason, WIRE_REASON))
			return bad(err, err_size, "abort: reason is not text");
		return 0;
	case MSG_ACTIVATE:
		m->u.activate.tsc = get(&p, 8);
		return 0;
	}
	return bad(err, err_size, "unknown message type");
}

int wire_decode(const uint8_t *buf, size_t len, uint64_t mem_size, struct msg *m,
		char *err, size_t err_size)
{
	const uint8_t *p = buf + 4;
	uint32_t version, type, plen, check;

	if (len < WIRE_HDR)
		return 0;
	/* A TLS record's header (handshake, version 3.x): a keyed source, which this host,
	 * without a key, cannot answer; the operator needs that, not "bad magic". */
	if (buf[0] == 0x16 && buf[1] == 3)
		return bad(err, err_size, "the peer speaks TLS (it holds a cluster key); this "
			   "host has none and takes plain streams only");
	if (memcmp(buf, magic, 4) != 0)
		return bad(err, err_size, "not a tern migration stream (bad magic)");
	version = (uint32_t)get(&p, 2);
	type = (uint32_t)get(&p, 2);
	plen = (uint32_t)get(&p, 4);
	check = (uint32_t)get(&p, 4);
	if (version != WIRE_VERSION)
		return bad(err, err_size, "unsupported stream version");
	if (type == 0 || type > MSG_TYPE_MAX)
		return bad(err, err_size, "unknown message type");
	if (plen > WIRE_MAX_PAYLOAD ||
	    (!variable_len(type) && plen != expected_len((enum wire_type)type)))
		return bad(err, err_size, "message length wrong for its type");
	if (len < WIRE_HDR + (size_t)plen)
		return 0;
	if (wire_check(buf + WIRE_HDR, plen) != check)
		return bad(err, err_size, "message checksum mismatch");
	if (type == MSG_PAGE && plen < 12)
		return bad(err, err_size, "page: too short");
	if (type == MSG_RECORD && plen < WIRE_RECORD_HDR)
		return bad(err, err_size, "record: too short");
	if (type == MSG_VCPU && plen < VCPU_FIXED)
		return bad(err, err_size, "vcpu: too short");
	memset(m, 0, sizeof(*m));
	m->type = (enum wire_type)type;
	int e = decode_payload(buf + WIRE_HDR, plen, mem_size, m, err, err_size);
	return e ? e : (int)(WIRE_HDR + plen);
}

uint64_t wire_digest_record(uint64_t h, const struct msg *record)
{
	static uint8_t frame[WIRE_HDR + WIRE_MAX_PAYLOAD];
	size_t n = wire_encode(record, frame);

	return wire_digest_mem(h, frame + WIRE_HDR, n - WIRE_HDR);
}

uint64_t wire_digest_state(uint64_t h, const struct msg *state)
{
	static uint8_t frame[WIRE_HDR + WIRE_MAX_PAYLOAD];
	size_t n = wire_encode(state, frame);

	return wire_digest_mem(h, frame + WIRE_HDR, n - WIRE_HDR - 8);
}

uint64_t wire_activate_tsc(uint64_t sent, uint64_t state_tsc, uint64_t tsc_hz)
{
	uint64_t ahead = tsc_hz > UINT64_MAX / WIRE_TSC_AHEAD_S ? UINT64_MAX
								  : tsc_hz * WIRE_TSC_AHEAD_S;
	uint64_t latest = state_tsc > UINT64_MAX - ahead ? UINT64_MAX : state_tsc + ahead;

	return sent < state_tsc ? state_tsc : sent > latest ? latest : sent;
}
