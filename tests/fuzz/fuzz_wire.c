/* libFuzzer harness for the migration stream's decoder. It consumes the input as a
 * receiver consumes its TCP stream: decode a frame, advance by its length, stop when
 * more bytes are needed or a frame is refused. Each accepted frame must survive a
 * round trip: re-encoded, it decodes again, and encodes to the same bytes. A delta
 * page is applied as a target would (xbz_decode); the whole input is tried as a delta
 * too, so the delta decoder sees inputs no frame check has shaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv/error.h"
#include "migrate/wire.h"
#include "migrate/xbzrle.h"

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_wire: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Before HELLO (0), the smallest and a usual VM, and the largest the wire allows. */
static const uint64_t mem_sizes[] = { 0, 2 * MIB, 64 * MIB, WIRE_MAX_MEM };

static bool is_text(const char *s, size_t n)
{
	size_t len = strnlen(s, n);

	if (len == 0 || len == n)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static void round_trip(const struct msg *m, size_t n, uint64_t mem_size)
{
	static uint8_t once[WIRE_HDR + WIRE_MAX_PAYLOAD], twice[WIRE_HDR + WIRE_MAX_PAYLOAD];
	struct msg again;
	char err[128] = "";

	CHECK(wire_encode(m, once) == n);
	CHECK(wire_decode(once, n, mem_size, &again, err, sizeof(err)) == (int)n);
	CHECK(again.type == m->type);
	CHECK(wire_encode(&again, twice) == n);
	CHECK(memcmp(once, twice, n) == 0);
	if (m->type == MSG_STATE)
		CHECK(wire_digest_state(0, m) == wire_digest_state(0, &again));
	if (m->type == MSG_RECORD || m->type == MSG_VCPU)
		CHECK(wire_digest_record(0, m) == wire_digest_record(0, &again));
}

/* A delta applied to a page: refused (the page untouched) or accepted; an accepted one's
 * result, encoded again against the old page, decodes to the same page. */
static void apply_delta(const uint8_t *d, size_t len)
{
	static uint8_t old[XBZ_PAGE], cur[XBZ_PAGE], again[XBZ_PAGE], redo[2 * XBZ_PAGE];

	for (size_t i = 0; i < XBZ_PAGE; i++)
		old[i] = (uint8_t)(i * 37 + 11);
	memcpy(cur, old, XBZ_PAGE);
	if (xbz_decode(cur, d, len)) {
		CHECK(memcmp(cur, old, XBZ_PAGE) == 0);
		return;
	}
	int n = xbz_encode(old, cur, redo, sizeof(redo));
	CHECK(n >= 0 && (size_t)n <= XBZ_PAGE + 4); /* at worst one pair: the whole page */
	memcpy(again, old, XBZ_PAGE);
	CHECK(xbz_decode(again, redo, (size_t)n) == 0);
	CHECK(memcmp(again, cur, XBZ_PAGE) == 0);
}

static void check_accepted(const struct msg *m, const uint8_t *frame, size_t n, uint64_t mem_size)
{
	CHECK(n >= WIRE_HDR && n <= WIRE_HDR + WIRE_MAX_PAYLOAD);
	CHECK(m->type >= MSG_HELLO && m->type <= MSG_TYPE_MAX);
	switch (m->type) {
	case MSG_PAGE:
		CHECK(m->u.page.gpa % WIRE_PAGE == 0 && m->u.page.gpa < mem_size);
		/* The data points inside the frame, a whole page of it. */
		CHECK(!(m->u.page.zero && m->u.page.delta));
		if (m->u.page.delta) {
			CHECK(m->u.page.data == frame + WIRE_HDR + 12 &&
			      m->u.page.delta_len < WIRE_PAGE &&
			      n == WIRE_HDR + 12 + m->u.page.delta_len);
			apply_delta(m->u.page.data, m->u.page.delta_len);
			break;
		}
		CHECK(m->u.page.zero ? !m->u.page.data :
				       m->u.page.data == frame + WIRE_HDR + 12 &&
					       n == WIRE_HDR + 12 + WIRE_PAGE);
		break;
	case MSG_HELLO:
		CHECK(m->u.hello.mem_size && m->u.hello.mem_size <= WIRE_MAX_MEM);
		CHECK(strnlen(m->u.hello.name, WIRE_NAME) < WIRE_NAME);
		CHECK(m->u.hello.cpu.nr <= CPU_MODEL_LEAVES);
		CHECK(m->u.hello.nr_records <= WIRE_MAX_RECORDS);
		for (uint32_t i = 0; i < m->u.hello.nr_records; i++)
			CHECK(is_text(m->u.hello.records[i].name, VMS_NAME_MAX));
		break;
	case MSG_RECORD:
		/* A name the target can print and look up; the bytes inside the frame. */
		CHECK(is_text(m->u.record.name, VMS_NAME_MAX));
		CHECK(m->u.record.len <= WIRE_RECORD_MAX);
		CHECK(m->u.record.data == frame + WIRE_HDR + WIRE_RECORD_HDR &&
		      n == WIRE_HDR + WIRE_RECORD_HDR + m->u.record.len);
		break;
	case MSG_VCPU:
		/* an AP's index and start state, its APIC's bytes inside the frame */
		CHECK(m->u.vcpu.index >= 1 && m->u.vcpu.index < WIRE_MAX_VCPUS);
		CHECK(m->u.vcpu.mp <= 2 && m->u.vcpu.sipi_vector <= 0xff);
		CHECK(m->u.vcpu.apic + m->u.vcpu.apic_len == frame + n);
		break;
	default:
		break;
	}
	round_trip(m, n, mem_size);
}

/* Mutations almost always break a frame's checksum, which would stop them at the
 * header; the resealing pass gives each frame a right checksum before decoding it, so
 * they reach the payload's checks too. */
static void reseal(uint8_t *f, size_t avail)
{
	uint32_t plen, check;

	if (avail < WIRE_HDR)
		return;
	plen = f[8] | f[9] << 8 | f[10] << 16 | (uint32_t)f[11] << 24;
	if (plen > avail - WIRE_HDR)
		return;
	check = wire_check(f + WIRE_HDR, plen);
	for (int i = 0; i < 4; i++)
		f[12 + i] = (uint8_t)(check >> (8 * i));
}

static void consume(uint8_t *data, size_t size, uint64_t mem_size, bool resealing)
{
	size_t off = 0;

	while (off < size) {
		struct msg m;
		char err[128] = "";
		int n;

		if (resealing)
			reseal(data + off, size - off);
		n = wire_decode(data + off, size - off, mem_size, &m, err, sizeof(err));
		if (n < 0) {
			/* Refused, with a reason fit for the console. */
			CHECK(n == -E_FORMAT);
			CHECK(is_text(err, sizeof(err)));
			return;
		}
		if (n == 0)
			return;
		CHECK((size_t)n <= size - off);
		check_accepted(&m, data + off, (size_t)n, mem_size);
		off += (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end of the input. */
	uint8_t *copy = malloc(size ? size : 1);

	CHECK(copy);
	memcpy(copy, data, size);
	apply_delta(copy, size);
	consume(copy, size, 64 * MIB, false);
	for (size_t i = 0; i < sizeof(mem_sizes) / sizeof(mem_sizes[0]); i++) {
		memcpy(copy, data, size);
		consume(copy, size, mem_sizes[i], true);
	}
	free(copy);
	return 0;
}
