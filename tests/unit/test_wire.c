#include <string.h>
#include "hv/error.h"
#include "migrate/wire.h"
#include "tests/unit/stubs.h"

#define MEM (64 * MIB)

/* STATE payload layout: 115 vCPU fields of 8 bytes, the XSAVE area, the digest. */
#define ST_SEL0 (30 * 8)       /* seg[ES].sel: after 16 GPRs, rip..efer (14) */
#define ST_LIMIT0 (ST_SEL0 + 8)
#define ST_INTR (107 * 8)      /* interruptibility, after tsc and tsc_adjust */
#define ST_BYTES (116 * 8 + XSAVE_BYTES + 8)
#define VC_FIXED (12 + 116 * 8 + XSAVE_BYTES + 4) /* a VCPU before its APIC record */

/* HELLO payload layout: sizes and counts, the names, the CPU model, the record list. */
#define HE_NAME 24
#define HE_IMAGE (HE_NAME + WIRE_NAME)
#define HE_MODEL (HE_IMAGE + WIRE_NAME)            /* nr u32, tsc_hz u64, 64 entries */
#define HE_ENTRY(i) (HE_MODEL + 12 + 24 * (i))
#define HE_RECORDS HE_ENTRY(CPU_MODEL_LEAVES)      /* nr u32, 16 x (name[16], version u16) */
#define HE_RECORD(i) (HE_RECORDS + 4 + 18 * (i))
#define HE_BYTES HE_RECORD(WIRE_MAX_RECORDS)

/* RECORD: name[16], version u16, length u32, the bytes. */
#define RE_HDR 22

static uint8_t frame[WIRE_HDR + WIRE_MAX_PAYLOAD + 64];
static uint8_t page[WIRE_PAGE];
static char err[160];

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t payload_len(const uint8_t *f)
{
	return f[8] | f[9] << 8 | f[10] << 16 | (uint32_t)f[11] << 24;
}

/* After changing a payload, make its checksum right again so a later check sees it. */
static void reseal(uint8_t *f)
{
	put_le(f + 12, wire_check(f + WIRE_HDR, payload_len(f)), 4);
}

static size_t encode(const struct msg *m)
{
	memset(frame, 0xee, sizeof(frame));
	return wire_encode(m, frame);
}

static struct msg decode_ok(size_t n, uint64_t mem)
{
	struct msg m;

	err[0] = 0;
	assert_int_equal(wire_decode(frame, n, mem, &m, err, sizeof(err)), (int)n);
	assert_string_equal(err, "");
	return m;
}

/* The frame in `frame` (n bytes) is refused, with a reason containing `why`. */
static void refused(size_t n, uint64_t mem, const char *why)
{
	struct msg m;

	err[0] = 0;
	assert_int_equal(wire_decode(frame, n, mem, &m, err, sizeof(err)), -E_FORMAT);
	if (!strstr(err, why))
		fail_msg("reason '%s' lacks '%s'", err, why);
}

/* Replaces the string field at payload offset `at` (size `field`) and reseals. */
static void set_str_at(size_t at, size_t field, const char *s, size_t len)
{
	memset(frame + WIRE_HDR + at, 0, field);
	memcpy(frame + WIRE_HDR + at, s, len);
	reseal(frame);
}

/* --- sample messages --- */

static struct msg hello(void)
{
	struct msg m = { .type = MSG_HELLO };

	m.u.hello.mem_size = MEM;
	m.u.hello.page_size = WIRE_PAGE;
	m.u.hello.vcpus = 1;
	m.u.hello.features = FEAT_EPT | FEAT_UNRESTRICTED;
	m.u.hello.load = 97;
	strcpy(m.u.hello.name, "memtouch");
	strcpy(m.u.hello.image, "memtouch.elf");
	/* a model full to its room, every register different: each must arrive */
	m.u.hello.cpu.nr = CPU_MODEL_LEAVES;
	m.u.hello.cpu.tsc_hz = 0x0123456789abcdefull;
	for (uint32_t i = 0; i < CPU_MODEL_LEAVES; i++)
		m.u.hello.cpu.e[i] = (struct cpuid_entry){ 0x80000000u + i, i, 0xa0000000u + i,
							   0xb0000000u + i, 0xc0000000u + i,
							   0xffffffffu - i };
	m.u.hello.nr_records = WIRE_MAX_RECORDS;
	for (uint32_t i = 0; i < WIRE_MAX_RECORDS; i++) {
		memset(m.u.hello.records[i].name, 'a' + i, VMS_NAME_MAX - 1); /* longest */
		m.u.hello.records[i].version = (uint16_t)(0xfff0 + i);
	}
	return m;
}

/* A HELLO as tern sends one: a few entries and records, the rest of the room zero. */
static struct msg hello_small(void)
{
	struct msg m = hello();

	memset(&m.u.hello.cpu, 0, sizeof(m.u.hello.cpu));
	memset(m.u.hello.records, 0, sizeof(m.u.hello.records));
	m.u.hello.cpu.nr = 2;
	m.u.hello.cpu.tsc_hz = 100000000;
	m.u.hello.cpu.e[0] = (struct cpuid_entry){ 0, 0, 0x16, 1, 2, 3 };
	m.u.hello.cpu.e[1] = (struct cpuid_entry){ 1, 0, 0x906ea, 0, 0x80000000u, 0x178bfbffu };
	m.u.hello.nr_records = 2;
	strcpy(m.u.hello.records[0].name, "pic");
	m.u.hello.records[0].version = 1;
	strcpy(m.u.hello.records[1].name, "pci_host");
	m.u.hello.records[1].version = 3;
	return m;
}

static uint8_t rec_bytes[WIRE_RECORD_MAX];

static struct msg record(const char *name, uint16_t version, uint32_t len)
{
	struct msg m = { .type = MSG_RECORD };

	strcpy(m.u.record.name, name);
	m.u.record.version = version;
	m.u.record.len = len;
	for (uint32_t i = 0; i < len; i++)
		rec_bytes[i] = (uint8_t)(i * 13 + version);
	m.u.record.data = rec_bytes;
	return m;
}

static struct msg state(void)
{
	struct msg m;
	struct vcpu_state *c = &m.u.state.cpu;

	memset(&m, 0, sizeof(m)); /* padding too: the decoder zeroes it */
	m.type = MSG_STATE;
	/* Each field full to its width, and different from its neighbours. */
	uint64_t *gpr = &c->rax;
	for (int i = 0; i < 30; i++) /* rax .. dr7 */
		gpr[i] = 0x8070605040302010ull + (uint64_t)i * 0x0101010101010101ull;
	for (int i = 0; i < XSAVE_BYTES; i++)
		c->xsave[i] = (uint8_t)(i * 7 + 1);
	c->tsc = 0x123456789abcdefull, c->tsc_adjust = 0xfedcba9876543210ull;
	c->nmi_pending = 1, c->event.valid = 1;
	c->event.vector = 0xfe, c->event.error = 0xfffffffeu, c->event.insn_len = 15;
	for (int i = 0; i < SEG_COUNT; i++) {
		c->seg[i].sel = (uint16_t)(0xf000 + i);
		c->seg[i].limit = 0xfffff000u + (uint32_t)i;
		c->seg[i].attr = (uint16_t)(0x1c9b + i);
		c->seg[i].base = 0xffff800000000000ull + (uint64_t)i;
	}
	c->gdtr.base = 0xffffffff81000000ull, c->idtr.base = 0xffffffff82000000ull;
	c->gdtr.limit = 0xffff, c->idtr.limit = 0xfff;
	c->sysenter_cs = 0x10, c->sysenter_esp = ~0ull, c->sysenter_eip = ~1ull;
	c->star = 0x0023001000000000ull, c->lstar = 0xffffffff81800000ull;
	c->cstar = 3, c->sfmask = 0x47700, c->kernel_gs_base = 0xffff888000000000ull;
	c->interruptibility = 0xffffffffu, c->activity = 1;
	m.u.state.digest = 0x0123456789abcdefull;
	return m;
}

/* An application processor's VCPU message: the state sample's registers, apic_len
 * bytes of APIC record. */
static struct msg vcpu(uint32_t index, uint32_t mp, uint32_t vector, uint32_t apic_len)
{
	static uint8_t apic[WIRE_MAX_PAYLOAD];
	struct msg m = state();
	struct vcpu_state c = m.u.state.cpu;

	for (uint32_t i = 0; i < apic_len; i++)
		apic[i] = (uint8_t)(i * 13 + 5);
	m = (struct msg){ .type = MSG_VCPU, .u.vcpu = { .index = index, .mp = mp,
				.sipi_vector = vector, .apic_len = apic_len, .apic = apic } };
	m.u.vcpu.cpu = c;
	return m;
}

/* Index 1 to 7, a start state the vCPU can be in, a vector, registers in range, the
 * APIC record's length the message's: anything else is refused before it is used. */
static void test_vcpu(void **unused)
{
	struct msg m;
	size_t n;

	m = vcpu(0, 0, 0, 10); /* vCPU 0's state is STATE's */
	refused(encode(&m), MEM, "vcpu: index");
	m = vcpu(WIRE_MAX_VCPUS, 0, 0, 10);
	refused(encode(&m), MEM, "vcpu: index");
	m = vcpu(1, 3, 0, 10);
	refused(encode(&m), MEM, "vcpu: index, start state");
	m = vcpu(1, 2, 0x100, 10);
	refused(encode(&m), MEM, "vector");
	m = vcpu(1, 0, 0, 10);
	n = encode(&m);
	put_le(frame + WIRE_HDR + 12 + ST_SEL0, 0x10000, 8); /* a selector past 16 bits */
	reseal(frame);
	refused(n, MEM, "vcpu: a register value out of range");
	m = vcpu(1, 0, 0, 10);
	n = encode(&m);
	put_le(frame + WIRE_HDR + VC_FIXED - 4, 11, 4); /* says 11 APIC bytes, carries 10 */
	reseal(frame);
	refused(n, MEM, "vcpu: length disagrees");
	m = vcpu(1, 0, 0, 0);
	n = encode(&m);
	put_le(frame + 8, VC_FIXED - 1, 4); /* shorter than its fixed part */
	reseal(frame);
	refused(n - 1, MEM, "vcpu: too short");
}

/* --- round trips --- */

static void check_round_trip(const struct msg *in, size_t want_len)
{
	size_t n = encode(in);
	struct msg out;

	assert_int_equal(n, want_len);
	assert_memory_equal(frame, "TRNM", 4);
	assert_int_equal(frame[4] | frame[5] << 8, WIRE_VERSION);
	assert_int_equal(frame[6] | frame[7] << 8, in->type);
	assert_int_equal(payload_len(frame), n - WIRE_HDR);
	out = decode_ok(n, MEM);
	assert_int_equal(out.type, in->type);
	switch (in->type) {
	case MSG_HELLO:
		assert_int_equal(out.u.hello.mem_size, in->u.hello.mem_size);
		assert_int_equal(out.u.hello.page_size, in->u.hello.page_size);
		assert_int_equal(out.u.hello.vcpus, in->u.hello.vcpus);
		assert_int_equal(out.u.hello.features, in->u.hello.features);
		assert_int_equal(out.u.hello.load, in->u.hello.load);
		assert_string_equal(out.u.hello.name, in->u.hello.name);
		assert_string_equal(out.u.hello.image, in->u.hello.image);
		/* the samples are zeroed structs: the whole model and list compare */
		assert_memory_equal(&out.u.hello.cpu, &in->u.hello.cpu, sizeof(struct cpu_model));
		assert_int_equal(out.u.hello.nr_records, in->u.hello.nr_records);
		assert_memory_equal(out.u.hello.records, in->u.hello.records,
				    sizeof(in->u.hello.records));
		break;
	case MSG_RESERVED:
	case MSG_COMMIT:
		assert_int_equal(out.u.reserved.ok, in->u.reserved.ok);
		assert_int_equal(out.u.reserved.vm_id, in->u.reserved.vm_id);
		assert_string_equal(out.u.reserved.reason, in->u.reserved.reason);
		break;
	case MSG_PAGE:
		assert_int_equal(out.u.page.gpa, in->u.page.gpa);
		assert_int_equal(out.u.page.zero, in->u.page.zero);
		assert_int_equal(out.u.page.delta, in->u.page.delta);
		if (in->u.page.zero) {
			assert_null(out.u.page.data);
		} else if (in->u.page.delta) {
			assert_int_equal(out.u.page.delta_len, in->u.page.delta_len);
			assert_ptr_equal(out.u.page.data, frame + WIRE_HDR + 12);
			assert_memory_equal(out.u.page.data, in->u.page.data, in->u.page.delta_len);
		} else {
			/* The data is not copied: it points into the frame. */
			assert_ptr_equal(out.u.page.data, frame + WIRE_HDR + 12);
			assert_memory_equal(out.u.page.data, in->u.page.data, WIRE_PAGE);
		}
		break;
	case MSG_ROUND:
		assert_int_equal(out.u.round.round, in->u.round.round);
		assert_int_equal(out.u.round.pages, in->u.round.pages);
		break;
	case MSG_RECORD:
		assert_string_equal(out.u.record.name, in->u.record.name);
		assert_int_equal(out.u.record.version, in->u.record.version);
		assert_int_equal(out.u.record.len, in->u.record.len);
		/* Like a page's, the bytes are not copied: they point into the frame. */
		assert_ptr_equal(out.u.record.data, frame + WIRE_HDR + RE_HDR);
		assert_memory_equal(out.u.record.data, in->u.record.data, in->u.record.len);
		break;
	case MSG_STATE:
		assert_memory_equal(&out.u.state.cpu, &in->u.state.cpu, sizeof(struct vcpu_state));
		assert_int_equal(out.u.state.digest, in->u.state.digest);
		break;
	case MSG_VCPU:
		assert_int_equal(out.u.vcpu.index, in->u.vcpu.index);
		assert_int_equal(out.u.vcpu.mp, in->u.vcpu.mp);
		assert_int_equal(out.u.vcpu.sipi_vector, in->u.vcpu.sipi_vector);
		assert_memory_equal(&out.u.vcpu.cpu, &in->u.vcpu.cpu, sizeof(struct vcpu_state));
		assert_int_equal(out.u.vcpu.apic_len, in->u.vcpu.apic_len);
		assert_ptr_equal(out.u.vcpu.apic, frame + WIRE_HDR + VC_FIXED);
		assert_memory_equal(out.u.vcpu.apic, in->u.vcpu.apic, in->u.vcpu.apic_len);
		break;

	case MSG_ACTIVATED:
		assert_int_equal(out.u.activated.vm_id, in->u.activated.vm_id);
		break;
	case MSG_ABORT:
		assert_string_equal(out.u.abort.reason, in->u.abort.reason);
		break;
	case MSG_ACTIVATE:
		assert_int_equal(out.u.activate.tsc, in->u.activate.tsc);
		break;
	}
}

static void test_round_trip(void **unused)
{
	struct msg m = hello();
	char reason[WIRE_REASON];

	check_round_trip(&m, WIRE_HDR + HE_BYTES);
	m = hello_small();
	check_round_trip(&m, WIRE_HDR + HE_BYTES);
	m.u.hello.cpu.nr = 0, m.u.hello.nr_records = 0; /* the wire takes empty lists */
	memset(&m.u.hello.cpu.e[0], 0, 2 * sizeof(struct cpuid_entry));
	memset(m.u.hello.records, 0, sizeof(m.u.hello.records));
	check_round_trip(&m, WIRE_HDR + HE_BYTES);

	memset(reason, 'r', sizeof(reason) - 1); /* the longest reason that fits */
	reason[sizeof(reason) - 1] = 0;
	m = (struct msg){ .type = MSG_RESERVED, .u.reserved = { .ok = 1, .vm_id = 7 } };
	check_round_trip(&m, WIRE_HDR + 128);
	m = (struct msg){ .type = MSG_RESERVED, .u.reserved = { .ok = 0 } };
	strcpy(m.u.reserved.reason, reason);
	check_round_trip(&m, WIRE_HDR + 128);
	m = (struct msg){ .type = MSG_COMMIT, .u.commit = { .ok = 0, .vm_id = 0xffffffffu } };
	strcpy(m.u.commit.reason, "digest mismatch");
	check_round_trip(&m, WIRE_HDR + 128);

	for (int i = 0; i < WIRE_PAGE; i++)
		page[i] = (uint8_t)(i * 7 + 1);
	m = (struct msg){ .type = MSG_PAGE, .u.page = { .gpa = MEM - WIRE_PAGE, .data = page } };
	check_round_trip(&m, WIRE_HDR + 12 + WIRE_PAGE);
	m = (struct msg){ .type = MSG_PAGE, .u.page = { .gpa = 0, .zero = true } };
	check_round_trip(&m, WIRE_HDR + 12);
	m = (struct msg){ .type = MSG_PAGE,
			  .u.page = { .gpa = WIRE_PAGE, .delta = true, .delta_len = 7, .data = page } };
	check_round_trip(&m, WIRE_HDR + 12 + 7);
	m.u.page.delta_len = 0; /* the page was written with what it held */
	check_round_trip(&m, WIRE_HDR + 12);
	m.u.page.delta_len = WIRE_PAGE - 1;
	check_round_trip(&m, WIRE_HDR + 12 + WIRE_PAGE - 1);
	m = (struct msg){ .type = MSG_PAGE, .u.page = { .gpa = 0, .zero = true } };
	check_round_trip(&m, WIRE_HDR + 12);

	m = (struct msg){ .type = MSG_ROUND, .u.round = { .round = 3, .pages = 0xfffffffeu } };
	check_round_trip(&m, WIRE_HDR + 8);

	m = record("lapic", 1, 197);
	check_round_trip(&m, WIRE_HDR + RE_HDR + 197);
	m = record("abcdefghijklmno", 0xffff, WIRE_RECORD_MAX); /* longest name, most bytes */
	check_round_trip(&m, WIRE_HDR + WIRE_MAX_PAYLOAD);
	m = record("x", 0, 0);
	check_round_trip(&m, WIRE_HDR + RE_HDR);

	m = state();
	check_round_trip(&m, WIRE_HDR + ST_BYTES);

	m = vcpu(7, 2, 0xff, 200);
	check_round_trip(&m, WIRE_HDR + VC_FIXED + 200);
	m = vcpu(1, 0, 0, WIRE_MAX_PAYLOAD - VC_FIXED); /* the most APIC bytes */
	check_round_trip(&m, WIRE_HDR + WIRE_MAX_PAYLOAD);

	m = (struct msg){ .type = MSG_ACTIVATE, .u.activate = { 0xfedcba9876543210ull } };
	check_round_trip(&m, WIRE_HDR + 8);
	m = (struct msg){ .type = MSG_ACTIVATE };
	check_round_trip(&m, WIRE_HDR + 8);
	m = (struct msg){ .type = MSG_ACTIVATED, .u.activated = { .vm_id = 2 } };
	check_round_trip(&m, WIRE_HDR + 4);
	m = (struct msg){ .type = MSG_ABORT };
	strcpy(m.u.abort.reason, reason);
	check_round_trip(&m, WIRE_HDR + WIRE_REASON);
}

/* Two frames back to back: each decodes with its own length. */
static void test_stream(void **unused)
{
	struct msg a = { .type = MSG_ROUND, .u.round = { 1, 2 } }, b = hello(), m;
	size_t na = wire_encode(&a, frame);
	size_t nb = wire_encode(&b, frame + na);

	assert_int_equal(wire_decode(frame, na + nb, MEM, &m, err, sizeof(err)), (int)na);
	assert_int_equal(m.type, MSG_ROUND);
	assert_int_equal(wire_decode(frame + na, nb, MEM, &m, err, sizeof(err)), (int)nb);
	assert_int_equal(m.type, MSG_HELLO);
}

/* Every proper prefix of every kind of frame asks for more bytes. */
static void test_partial(void **unused)
{
	struct msg ms[] = {
		hello(),
		{ .type = MSG_RESERVED, .u.reserved = { .ok = 1 } },
		{ .type = MSG_PAGE, .u.page = { .gpa = 4096, .data = page } },
		{ .type = MSG_PAGE, .u.page = { .gpa = 8192, .zero = true } },
		{ .type = MSG_ROUND },
		record("pit", 1, 186),
		state(),
		{ .type = MSG_COMMIT, .u.commit = { .ok = 1 } },
		{ .type = MSG_ACTIVATE },
		{ .type = MSG_ACTIVATED },
		{ .type = MSG_ABORT },
	};

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		size_t n = encode(&ms[i]);
		struct msg m;

		for (size_t k = 0; k < n; k++)
			assert_int_equal(wire_decode(frame, k, MEM, &m, err, sizeof(err)), 0);
		decode_ok(n, MEM);
	}
}

/* --- refusals --- */

static void test_header(void **unused)
{
	struct msg m = { .type = MSG_ROUND, .u.round = { 1, 2 } };
	size_t n = encode(&m);

	frame[0] = 't';
	refused(n, MEM, "magic");
	memcpy(frame, "\x16\x03\x01\x00", 4); /* a TLS ClientHello's record header */
	refused(n, MEM, "the peer speaks TLS (it holds a cluster key)");
	encode(&m);
	put_le(frame + 4, WIRE_VERSION + 1, 2);
	refused(n, MEM, "version");
	put_le(frame + 4, WIRE_VERSION - 1, 2); /* version 1 digested memory another way */
	refused(n, MEM, "version");
	put_le(frame + 4, 0, 2);
	refused(n, MEM, "version");

	encode(&m);
	put_le(frame + 6, 0, 2);
	refused(n, MEM, "unknown message type");
	put_le(frame + 6, MSG_TYPE_MAX + 1, 2);
	refused(n, MEM, "unknown message type");
	put_le(frame + 6, 0xffff, 2);
	refused(n, MEM, "unknown message type");

	/* Wrong lengths are refused from the header alone, before the payload arrives. */
	encode(&m);
	put_le(frame + 8, 7, 4);
	refused(WIRE_HDR, MEM, "length");
	put_le(frame + 8, 9, 4);
	refused(WIRE_HDR, MEM, "length");
	put_le(frame + 8, 0xffffffffu, 4);
	refused(WIRE_HDR, MEM, "length");
	m = hello();
	n = encode(&m);
	put_le(frame + 8, n - WIRE_HDR + 1, 4);
	refused(n + 1, MEM, "length");
	m = (struct msg){ .type = MSG_ACTIVATE };
	encode(&m);
	put_le(frame + 8, 0, 4); /* version 3's ACTIVATE had no TSC */
	refused(WIRE_HDR, MEM, "length");
	put_le(frame + 8, 4, 4);
	refused(WIRE_HDR + 4, MEM, "length");
	m = hello();
	encode(&m);
	put_le(frame + 8, 92, 4); /* version 3's HELLO */
	refused(WIRE_HDR, MEM, "length");
	m = state();
	encode(&m);
	put_le(frame + 8, ST_BYTES + 426, 4); /* version 3's STATE, with the old UART */
	refused(WIRE_HDR, MEM, "length");
	m = record("pit", 1, 10);
	encode(&m);
	put_le(frame + 8, WIRE_MAX_PAYLOAD + 1, 4);
	refused(WIRE_HDR, MEM, "length");
	m = (struct msg){ .type = MSG_PAGE, .u.page = { .gpa = 0, .data = page } };
	encode(&m);
	put_le(frame + 8, WIRE_MAX_PAYLOAD + 1, 4);
	refused(WIRE_HDR, MEM, "length");

	m = (struct msg){ .type = MSG_ROUND, .u.round = { 1, 2 } };
	n = encode(&m);
	frame[WIRE_HDR + 3] ^= 0x40;
	refused(n, MEM, "checksum");
	encode(&m);
	frame[12] ^= 1;
	refused(n, MEM, "checksum");
}

static void test_page(void **unused)
{
	struct msg m = { .type = MSG_PAGE, .u.page = { .gpa = MEM - WIRE_PAGE, .data = page } };
	size_t n = encode(&m);

	decode_ok(n, MEM);
	refused(n, MEM - WIRE_PAGE, "address");
	refused(n, 0, "address"); /* before HELLO, no page is inside */
	put_le(frame + WIRE_HDR, MEM, 8);
	reseal(frame);
	refused(n, MEM, "address");
	put_le(frame + WIRE_HDR, ~0ull & ~0xfffull, 8);
	reseal(frame);
	refused(n, MEM, "address");
	for (uint64_t off = 1; off < WIRE_PAGE; off <<= 1) {
		put_le(frame + WIRE_HDR, 2 * WIRE_PAGE + off, 8);
		reseal(frame);
		refused(n, MEM, "address");
	}

	/* Kind and length must agree: data pages carry 4 KiB, zero pages nothing, deltas
	 * less than a page (else the page would have gone whole). */
	encode(&m);
	put_le(frame + WIRE_HDR + 8, 2, 4);
	reseal(frame);
	refused(n, MEM, "length");
	put_le(frame + WIRE_HDR + 8, 3, 4);
	reseal(frame);
	refused(n, MEM, "kind");
	put_le(frame + WIRE_HDR + 8, 0xffffffffu, 4);
	reseal(frame);
	refused(n, MEM, "kind");
	put_le(frame + WIRE_HDR + 8, 1, 4); /* zero page, but with data */
	reseal(frame);
	refused(n, MEM, "length");

	m.u.page.zero = true;
	n = encode(&m);
	decode_ok(n, MEM);
	put_le(frame + WIRE_HDR + 8, 0, 4); /* data page, without data */
	reseal(frame);
	refused(n, MEM, "length");
	put_le(frame + WIRE_HDR + 8, 1, 4);
	put_le(frame + 8, 13, 4); /* one byte too many */
	reseal(frame);
	refused(n + 1, MEM, "length");
	put_le(frame + 8, 11, 4); /* too short to hold its address and kind */
	reseal(frame);
	refused(n - 1, MEM, "short");
	put_le(frame + 8, 0, 4);
	reseal(frame);
	refused(WIRE_HDR, MEM, "short");
}


static void test_strings(void **unused)
{
	static const struct {
		enum wire_type type;
		size_t at, field;
		const char *why;
	} fields[] = {
		{ MSG_HELLO, HE_NAME, WIRE_NAME, "name is not text" },
		{ MSG_HELLO, HE_IMAGE, WIRE_NAME, "name is not text" },
		{ MSG_RESERVED, 8, WIRE_REASON, "reply: bad fields" },
		{ MSG_COMMIT, 8, WIRE_REASON, "reply: bad fields" },
		{ MSG_ABORT, 0, WIRE_REASON, "reason is not text" },
	};
	char full[WIRE_REASON];

	memset(full, 'a', sizeof(full));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct msg m = { .type = fields[i].type };
		if (m.type == MSG_HELLO)
			m = hello();
		size_t n = encode(&m), at = fields[i].at, field = fields[i].field;
		const char *why = fields[i].why;

		set_str_at(at, field, "ok string ~!", 12);
		decode_ok(n, MEM);
		set_str_at(at, field, "", 0);
		decode_ok(n, MEM);
		set_str_at(at, field, full, field - 1); /* longest that fits */
		decode_ok(n, MEM);
		set_str_at(at, field, full, field); /* no NUL inside the field */
		refused(n, MEM, why);
		set_str_at(at, field, "bell\a", 5);
		refused(n, MEM, why);
		set_str_at(at, field, "\x1b[2J", 4);
		refused(n, MEM, why);
		set_str_at(at, field, "del\x7f", 4);
		refused(n, MEM, why);
		set_str_at(at, field, "caf\xc3\xa9", 5);
		refused(n, MEM, why);
		set_str_at(at, field, "nl\n", 3);
		refused(n, MEM, why);
	}
}

static void test_hello(void **unused)
{
	static const uint64_t bad_mem[] = { 0, 4096, MIB, 3 * MIB, MEM + 4096,
					    WIRE_MAX_MEM + 2 * MIB, 1ull << 63, ~0ull };
	static const uint32_t bad_page[] = { 0, 2048, 8192, 2 * MIB, 0x1000 | (1u << 31) };
	static const uint32_t bad_vcpus[] = { 0, WIRE_MAX_VCPUS + 1, 0xffffffffu };
	struct msg m = hello();
	size_t n;

	m.u.hello.mem_size = 2 * MIB;
	decode_ok(encode(&m), 0);
	m.u.hello.mem_size = WIRE_MAX_MEM;
	decode_ok(encode(&m), 0);
	for (size_t i = 0; i < sizeof(bad_mem) / sizeof(bad_mem[0]); i++) {
		m = hello();
		m.u.hello.mem_size = bad_mem[i];
		refused(encode(&m), 0, "memory size");
	}
	for (size_t i = 0; i < sizeof(bad_page) / sizeof(bad_page[0]); i++) {
		m = hello();
		m.u.hello.page_size = bad_page[i];
		refused(encode(&m), 0, "page size");
	}
	for (size_t i = 0; i < sizeof(bad_vcpus) / sizeof(bad_vcpus[0]); i++) {
		m = hello();
		m.u.hello.vcpus = bad_vcpus[i];
		refused(encode(&m), 0, "vCPU count");
	}
	m = hello();
	m.u.hello.vcpus = WIRE_MAX_VCPUS;
	decode_ok(encode(&m), 0);
	m = hello();
	m.u.hello.load = WIRE_MAX_LOAD;
	decode_ok(encode(&m), 0);
	m.u.hello.load = WIRE_MAX_LOAD + 1;
	refused(encode(&m), 0, "load");
	m.u.hello.load = 0xffffffffu;
	refused(encode(&m), 0, "load");
	/* ok is a boolean in replies. */
	m = (struct msg){ .type = MSG_RESERVED, .u.reserved = { .ok = 2 } };
	n = encode(&m);
	refused(n, MEM, "reply");
	m = (struct msg){ .type = MSG_COMMIT, .u.commit = { .ok = 0x100 } };
	n = encode(&m);
	refused(n, MEM, "reply");
}

/* Sets `n` bytes of the payload in `frame` at `at` to v and reseals. */
static void poke(size_t at, uint64_t v, int n)
{
	put_le(frame + WIRE_HDR + at, v, n);
	reseal(frame);
}

/* The CPU model's frame: its count bounded by the room, the room past it zero. Whether
 * the entries make sense (duplicates, the TSC rate) is the target's to judge
 * (cpu_model_valid), naming what is wrong. */
static void test_hello_model(void **unused)
{
	struct msg m = hello_small(), out;
	size_t n = encode(&m);

	/* The offsets above point where this test means. */
	out = decode_ok(n, MEM);
	assert_int_equal(out.u.hello.cpu.nr, 2);
	poke(HE_ENTRY(1) + 8, 0x12345678, 4); /* entry 1's EAX */
	out = decode_ok(n, MEM);
	assert_int_equal(out.u.hello.cpu.e[1].eax, 0x12345678);
	poke(HE_MODEL + 4, 0xffffffffffffffffull, 8); /* any rate passes the wire */
	out = decode_ok(n, MEM);
	assert_int_equal(out.u.hello.cpu.tsc_hz, ~0ull);

	for (uint32_t count = CPU_MODEL_LEAVES + 1; count; count <<= 4) {
		encode(&m);
		poke(HE_MODEL, count, 4);
		refused(n, MEM, "more entries than 64");
	}
	encode(&m);
	poke(HE_MODEL, 0xffffffffu, 4);
	refused(n, MEM, "more entries than 64");
	/* An entry past the count: each of its words, at the first and the last slot. */
	for (int slot = 2; slot < CPU_MODEL_LEAVES; slot += CPU_MODEL_LEAVES - 3)
		for (int w = 0; w < 6; w++) {
			encode(&m);
			poke(HE_ENTRY(slot) + 4 * w, 1u << (w * 5), 4);
			refused(n, MEM, "past its count are not zero");
		}
	/* Lowering the count strands an entry: refused; raising it takes a zero one in. */
	encode(&m);
	poke(HE_MODEL, 1, 4);
	refused(n, MEM, "past its count are not zero");
	encode(&m);
	poke(HE_MODEL, 3, 4);
	out = decode_ok(n, MEM);
	assert_int_equal(out.u.hello.cpu.nr, 3);
}

static void test_hello_records(void **unused)
{
	struct msg m = hello_small(), out;
	size_t n = encode(&m);

	out = decode_ok(n, MEM);
	assert_string_equal(out.u.hello.records[1].name, "pci_host");
	poke(HE_RECORD(1) + VMS_NAME_MAX, 0xabcd, 2);
	out = decode_ok(n, MEM);
	assert_int_equal(out.u.hello.records[1].version, 0xabcd);

	encode(&m);
	poke(HE_RECORDS, WIRE_MAX_RECORDS + 1, 4);
	refused(n, MEM, "more state records than 16");
	poke(HE_RECORDS, 0x80000000u, 4);
	refused(n, MEM, "more state records than 16");
	/* A listed record's name: text, not empty, its NUL inside the field. */
	static const struct {
		const char *name;
		size_t len;
	} bad_names[] = {
		{ "", 0 }, { "pit\x1b", 4 }, { "caf\xc3\xa9", 5 }, { "abcdefghijklmnop", 16 },
		{ "\x7f", 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		encode(&m);
		set_str_at(HE_RECORD(0), VMS_NAME_MAX, bad_names[i].name, bad_names[i].len);
		refused(n, MEM, "state record's name is not text");
	}
	/* The room past the count: name bytes, a version. */
	encode(&m);
	poke(HE_RECORD(2) + VMS_NAME_MAX - 1, 'x', 1);
	refused(n, MEM, "past their count are not zero");
	encode(&m);
	poke(HE_RECORD(WIRE_MAX_RECORDS - 1) + VMS_NAME_MAX, 1, 2);
	refused(n, MEM, "past their count are not zero");
	encode(&m);
	poke(HE_RECORDS, 1, 4); /* lowering the count strands "pci_host" */
	refused(n, MEM, "past their count are not zero");
	encode(&m);
	poke(HE_RECORDS, 3, 4); /* raising it takes an empty name in */
	refused(n, MEM, "state record's name is not text");
}

static void test_record(void **unused)
{
	struct msg m = record("uart", 1, 289);
	size_t n = encode(&m);

	decode_ok(n, MEM);
	decode_ok(n, 0); /* a record names no address: nothing to check against the RAM */
	/* Its length field must say what the frame carries. */
	poke(VMS_NAME_MAX + 2, 288, 4);
	refused(n, MEM, "record: length disagrees");
	poke(VMS_NAME_MAX + 2, 290, 4);
	refused(n, MEM, "record: length disagrees");
	poke(VMS_NAME_MAX + 2, 0xffffffffu, 4);
	refused(n, MEM, "record: length disagrees");
	/* The name: text, not empty. */
	encode(&m);
	set_str_at(0, VMS_NAME_MAX, "", 0);
	refused(n, MEM, "record: the name is not text");
	set_str_at(0, VMS_NAME_MAX, "uart\n", 5);
	refused(n, MEM, "record: the name is not text");
	set_str_at(0, VMS_NAME_MAX, "abcdefghijklmnop", 16);
	refused(n, MEM, "record: the name is not text");
	set_str_at(0, VMS_NAME_MAX, "abcdefghijklmno", 15);
	decode_ok(n, MEM);
	/* Too short for its header. */
	m = record("x", 0, 0);
	encode(&m);
	for (uint32_t len = 0; len < RE_HDR; len++) {
		put_le(frame + 8, len, 4);
		reseal(frame);
		refused(WIRE_HDR + len, MEM, "record: too short");
	}
}

/* Sets `n` bytes of the STATE payload at `at` to v, reseals, returns the frame length. */
static size_t state_with(size_t at, uint64_t v, int n)
{
	struct msg m = state();
	size_t len = encode(&m);

	put_le(frame + WIRE_HDR + at, v, n);
	reseal(frame);
	return len;
}

static void test_state(void **unused)
{
	struct msg m;

	assert_int_equal(encode(&(struct msg){ .type = MSG_STATE }), WIRE_HDR + ST_BYTES);
	/* The offsets above point where this test means. */
	m = decode_ok(state_with(ST_SEL0, 0xffff, 8), MEM);
	assert_int_equal(m.u.state.cpu.seg[SEG_ES].sel, 0xffff);
	m = decode_ok(state_with(ST_LIMIT0, 0xffffffffu, 8), MEM);
	assert_int_equal(m.u.state.cpu.seg[SEG_ES].limit, 0xffffffffu);
	m = decode_ok(state_with(ST_INTR, 0xffffffffu, 8), MEM);
	assert_int_equal(m.u.state.cpu.interruptibility, 0xffffffffu);

	/* A value wider than its field is refused, not truncated. */
	refused(state_with(ST_SEL0, 0x10000, 8), MEM, "state: a register");
	refused(state_with(ST_SEL0 + 7 * 32, 1ull << 63, 8), MEM, "state: a register"); /* TR */
	refused(state_with(ST_LIMIT0, 1ull << 32, 8), MEM, "state: a register");
	refused(state_with(ST_LIMIT0 + 8, 1ull << 32, 8), MEM, "state: a register"); /* ar */
	refused(state_with(ST_INTR, 1ull << 32, 8), MEM, "state: a register");
	refused(state_with(ST_INTR + 8, ~0ull, 8), MEM, "state: a register"); /* activity */
	refused(state_with(60 * 8, 1ull << 32, 8), MEM, "state: a register"); /* idtr_limit */

}

/* --- digest --- */

static void test_digest_mem(void **unused)
{
	uint64_t h0 = wire_digest_init(), base;

	memset(page, 0, sizeof(page));
	base = wire_digest_mem(h0, page, WIRE_PAGE);
	assert_int_not_equal(base, h0); /* even a zero page counts */
	assert_int_not_equal(wire_digest_mem(base, page, WIRE_PAGE), base);
	for (int i = 0; i < WIRE_PAGE; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			page[i] ^= (uint8_t)(1 << bit);
			assert_int_not_equal(wire_digest_mem(h0, page, WIRE_PAGE), base);
			page[i] ^= (uint8_t)(1 << bit);
		}
	}
	/* Pages in another order make another digest. */
	page[0] = 1;
	uint64_t ab = wire_digest_mem(wire_digest_mem(h0, page, WIRE_PAGE), page + 8, 8);
	uint64_t ba = wire_digest_mem(wire_digest_mem(h0, page + 8, 8), page, WIRE_PAGE);
	assert_int_not_equal(ab, ba);
	/* A tail shorter than a word counts. */
	assert_int_not_equal(wire_digest_mem(h0, page, 3), h0);
}

static void test_page_term(void **unused)
{
	static uint8_t other[WIRE_PAGE];
	uint64_t zero = wire_page_term(0, NULL), t;

	memset(page, 0, sizeof(page));
	/* The zero-page marker and a page of zeros are one term: the source sends the one,
	 * the full digest folds the other. */
	assert_int_equal(wire_page_term(0, page), zero);
	assert_int_equal(wire_page_term(0x5000, page), wire_page_term(0x5000, NULL));
	/* The address counts: a page stored at the wrong place does not add up. */
	assert_int_not_equal(wire_page_term(0x1000, NULL), zero);
	assert_int_not_equal(wire_page_term(0x1000, NULL), wire_page_term(0x2000, NULL));
	for (int i = 0; i < WIRE_PAGE; i += 61) {
		page[i] ^= 0x80;
		assert_int_not_equal(wire_page_term(0, page), zero);
		page[i] ^= 0x80;
	}
	/* Two pages swapped between two addresses change the sum. */
	memset(other, 0xa5, sizeof(other));
	t = wire_page_term(0x1000, page) + wire_page_term(0x2000, other);
	assert_int_not_equal(wire_page_term(0x1000, other) + wire_page_term(0x2000, page), t);
	/* A page sent again replaces its term: the sum is what the last copies give. */
	uint64_t sum = 0, terms[2] = { 0, 0 }, v;
	const uint8_t *sent[][2] = { { page, other }, { other, NULL }, { page, page } };
	for (int r = 0; r < 3; r++)
		for (int p = 0; p < 2; p++) {
			v = wire_page_term((uint64_t)p * WIRE_PAGE, sent[r][p]);
			sum += v - terms[p];
			terms[p] = v;
		}
	assert_int_equal(sum, wire_page_term(0, page) + wire_page_term(WIRE_PAGE, page));
}

/* Flips each byte of `obj` inside m: a byte that reaches the encoding (not padding) must
 * change the digest. Returns how many bytes did not reach it. */
static size_t flip_each(struct msg *m, void *obj, size_t size, uint64_t base)
{
	static uint8_t ref[WIRE_HDR + WIRE_MAX_PAYLOAD];
	size_t n = wire_encode(m, ref), padding = 0;

	for (size_t i = 0; i < size; i++) {
		((uint8_t *)obj)[i] ^= 0x01;
		size_t k = encode(m);
		assert_int_equal(k, n);
		if (memcmp(frame, ref, n) == 0)
			padding++;
		else if (wire_digest_state(wire_digest_init(), m) == base)
			fail_msg("byte %zu of the state does not reach the digest", i);
		((uint8_t *)obj)[i] ^= 0x01;
	}
	return padding;
}

static void test_digest_state(void **unused)
{
	struct msg m = state();
	uint64_t base = wire_digest_state(wire_digest_init(), &m);

	/* Every byte of every field counts; only the padding does not: 6 bytes after each
	 * descriptor-table limit, 3 after the NMI flag, what aligns the XSAVE area. */
	size_t pad = 2 * 6 + 3 +
		     offsetof(struct vcpu_state, xsave) - offsetof(struct vcpu_state, event) -
		     sizeof(struct vcpu_event) +
		     sizeof(struct vcpu_state) - offsetof(struct vcpu_state, xsave) - XSAVE_BYTES;
	assert_int_equal(flip_each(&m, &m.u.state.cpu, sizeof(m.u.state.cpu), base), pad);
	/* The digest field itself is left out: it carries the result. */
	m.u.state.digest ^= 1;
	assert_int_equal(wire_digest_state(wire_digest_init(), &m), base);
	/* And the memory before it counts. */
	assert_int_not_equal(wire_digest_state(wire_digest_init() + 1, &m), base);
}

/* Every byte of a record (name, version, length, contents) reaches the digest, and the
 * order of records counts. */
static void test_digest_record(void **unused)
{
	static uint8_t bytes[64];
	struct msg a = record("pit", 1, sizeof(bytes)), b;
	uint64_t h0 = wire_digest_init(), base, ab, ba;

	memcpy(bytes, rec_bytes, sizeof(bytes));
	a.u.record.data = bytes;
	base = wire_digest_record(h0, &a);
	assert_int_not_equal(base, h0);
	for (size_t i = 0; i < sizeof(bytes); i++) {
		bytes[i] ^= 0x80;
		assert_int_not_equal(wire_digest_record(h0, &a), base);
		bytes[i] ^= 0x80;
	}
	for (size_t i = 0; i < strlen("pit"); i++) {
		a.u.record.name[i] ^= 0x20;
		assert_int_not_equal(wire_digest_record(h0, &a), base);
		a.u.record.name[i] ^= 0x20;
	}
	a.u.record.version = 2;
	assert_int_not_equal(wire_digest_record(h0, &a), base);
	a.u.record.version = 1;
	a.u.record.len--; /* the same bytes, but one fewer */
	assert_int_not_equal(wire_digest_record(h0, &a), base);
	a.u.record.len++;
	assert_int_equal(wire_digest_record(h0, &a), base);

	b = record("rtc", 1, 8);
	ab = wire_digest_record(wire_digest_record(h0, &a), &b);
	b = record("rtc", 1, 8);
	ba = wire_digest_record(wire_digest_record(h0, &b), &a);
	assert_int_not_equal(ab, ba);
}

/* The TSC a target starts the guest from: the source's, within [STATE's, STATE's + 10
 * minutes at the model's rate]. */
static void test_activate_tsc(void **unused)
{
	const uint64_t hz = 100000000, t0 = 5000000000ull, ahead = hz * WIRE_TSC_AHEAD_S;

	assert_int_equal(WIRE_TSC_AHEAD_S, 600);
	assert_int_equal(wire_activate_tsc(t0 + 12345, t0, hz), t0 + 12345);
	assert_int_equal(wire_activate_tsc(t0, t0, hz), t0);
	assert_int_equal(wire_activate_tsc(t0 - 1, t0, hz), t0); /* never back */
	assert_int_equal(wire_activate_tsc(0, t0, hz), t0);
	assert_int_equal(wire_activate_tsc(t0 + ahead, t0, hz), t0 + ahead);
	assert_int_equal(wire_activate_tsc(t0 + ahead + 1, t0, hz), t0 + ahead);
	assert_int_equal(wire_activate_tsc(~0ull, t0, hz), t0 + ahead);
	assert_int_equal(wire_activate_tsc(~0ull, t0, 3 * hz), t0 + 3 * ahead);
	/* no wrap-around near the top of the counter, or with an absurd rate */
	assert_int_equal(wire_activate_tsc(~0ull, ~0ull - 10, hz), ~0ull);
	assert_int_equal(wire_activate_tsc(5, ~0ull - 10, hz), ~0ull - 10);
	assert_int_equal(wire_activate_tsc(~0ull, 7, ~0ull / 2), ~0ull);
	assert_int_equal(wire_activate_tsc(t0 + 1, t0, 0), t0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_model),
		cmocka_unit_test(test_hello_records),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_digest_mem),
		cmocka_unit_test(test_page_term),
		cmocka_unit_test(test_digest_state),
		cmocka_unit_test(test_digest_record),
		cmocka_unit_test(test_vcpu),
		cmocka_unit_test(test_activate_tsc),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
