/* Writes the fuzzer's seed corpus: valid frames of every type, one file each, and a
 * stream of several frames in a receiver's order. Run as: mkseed <dir> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "migrate/wire.h"

static uint8_t buf[8 * (WIRE_HDR + WIRE_MAX_PAYLOAD)];

static void save(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static uint8_t page[WIRE_PAGE], rec[2][64];
	static struct msg ms[24];
	size_t nm = 0, stream = 0;
	char name[32];

	if (argc != 2) {
		fprintf(stderr, "usage: mkseed <dir>\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 131 + 7);

	ms[nm].type = MSG_HELLO;
	ms[nm].u.hello.mem_size = 2 * MIB;
	ms[nm].u.hello.page_size = WIRE_PAGE;
	ms[nm].u.hello.vcpus = 1;
	ms[nm].u.hello.features = FEAT_EPT | FEAT_UNRESTRICTED;
	strcpy(ms[nm].u.hello.name, "memtouch");
	strcpy(ms[nm].u.hello.image, "memtouch.elf");
	ms[nm].u.hello.cpu.tsc_hz = 100000000;
	ms[nm].u.hello.cpu.nr = 3;
	ms[nm].u.hello.cpu.e[0] = (struct cpuid_entry){ 0, 0, 0x16, 0x756e6547, 0x6c65746e,
							0x49656e69 };
	ms[nm].u.hello.cpu.e[1] = (struct cpuid_entry){ 1, 0, 0x506e3, 0x10800, 0x80200000,
							0x178bfbff };
	ms[nm].u.hello.cpu.e[2] = (struct cpuid_entry){ 0x40000010, 0, 100000, 1000000, 0, 0 };
	ms[nm].u.hello.nr_records = 2;
	strcpy(ms[nm].u.hello.records[0].name, "pit");
	ms[nm].u.hello.records[0].version = 1;
	strcpy(ms[nm].u.hello.records[1].name, "kbc");
	ms[nm++].u.hello.records[1].version = 1;
	ms[nm].type = MSG_RESERVED;
	ms[nm].u.reserved.ok = 1;
	ms[nm++].u.reserved.vm_id = 2;
	ms[nm].type = MSG_RESERVED;
	strcpy(ms[nm++].u.reserved.reason, "not enough memory");
	ms[nm].type = MSG_PAGE;
	ms[nm].u.page.gpa = 0x1000;
	ms[nm++].u.page.data = page;
	ms[nm].type = MSG_PAGE;
	ms[nm].u.page.gpa = 0x1ff000;
	ms[nm++].u.page.zero = true;
	ms[nm].type = MSG_ROUND;
	ms[nm].u.round.round = 1;
	ms[nm++].u.round.pages = 512;
	for (int r = 0; r < 2; r++) {
		ms[nm].type = MSG_RECORD;
		strcpy(ms[nm].u.record.name, r ? "kbc" : "pit");
		ms[nm].u.record.version = 1;
		ms[nm].u.record.len = r ? 38 : 64;
		for (size_t i = 0; i < sizeof(rec[r]); i++)
			rec[r][i] = (uint8_t)(i * 29 + r);
		ms[nm++].u.record.data = rec[r];
	}
	ms[nm].type = MSG_STATE;
	ms[nm].u.state.cpu.rip = 0x100000;
	ms[nm].u.state.cpu.cr0 = 0x80000011;
	ms[nm].u.state.cpu.seg[SEG_CS].sel = 0x8;
	ms[nm].u.state.cpu.seg[SEG_CS].limit = 0xffffffff;
	ms[nm].u.state.cpu.seg[SEG_CS].attr = 0xc9b;
	ms[nm++].u.state.digest = 0x1234;
	ms[nm].type = MSG_VCPU; /* an AP in real mode, its APIC record's bytes */
	ms[nm].u.vcpu.index = 1;
	ms[nm].u.vcpu.cpu.rip = 0;
	ms[nm].u.vcpu.cpu.seg[SEG_CS].sel = 0x800;
	ms[nm].u.vcpu.cpu.seg[SEG_CS].base = 0x8000;
	ms[nm].u.vcpu.cpu.seg[SEG_CS].limit = 0xffff;
	ms[nm].u.vcpu.apic_len = 64;
	ms[nm++].u.vcpu.apic = rec[0];
	ms[nm].type = MSG_VCPU; /* one waiting for its SIPI, a vector taken */
	ms[nm].u.vcpu.index = 3;
	ms[nm].u.vcpu.mp = 2;
	ms[nm].u.vcpu.sipi_vector = 8;
	ms[nm].u.vcpu.apic_len = 38;
	ms[nm++].u.vcpu.apic = rec[1];
	ms[nm].type = MSG_COMMIT;
	ms[nm++].u.commit.ok = 1;
	ms[nm].type = MSG_ACTIVATE;
	ms[nm++].u.activate.tsc = 0x123456789;
	ms[nm].type = MSG_ACTIVATED;
	ms[nm++].u.activated.vm_id = 2;
	ms[nm].type = MSG_ABORT;
	strcpy(ms[nm++].u.abort.reason, "cancelled by the operator");
	/* a delta (migrate/xbzrle.h): bytes 4..7 and 100 of the page rewritten */
	static const uint8_t delta[] = { 4, 4, 1, 2, 3, 4, 92, 1, 0xee };
	ms[nm].type = MSG_PAGE;
	ms[nm].u.page.gpa = 0x1000;
	ms[nm].u.page.delta = true;
	ms[nm].u.page.delta_len = sizeof(delta);
	ms[nm++].u.page.data = delta;

	for (size_t i = 0; i < nm; i++) {
		size_t n = wire_encode(&ms[i], buf);
		snprintf(name, sizeof(name), "%02zu-type%d", i, ms[i].type);
		save(argv[1], name, buf, n);
	}
	/* What a target reads: HELLO, pages, ROUND, RECORDs, STATE, ACTIVATE. */
	static const int order[] = { 0, 3, 4, 5, 6, 7, 8, 10 };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		stream += wire_encode(&ms[order[i]], buf + stream);
	save(argv[1], "stream", buf, stream);
	return 0;
}
