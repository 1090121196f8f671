/* The migration stream between two tern hosts: framed, versioned, checked messages.
 * Every frame: a 16-byte header, then `len` bytes of payload.
 *   magic "TRNM" | version u16 | type u16 | len u32 | check u32 (FNV-1a of payload)
 * All integers little-endian. Encoding and decoding are pure (tested hosted and fuzzed);
 * the decoder checks every field a peer controls before anything uses it. */
#ifndef TERN_MIGRATE_WIRE_H
#define TERN_MIGRATE_WIRE_H

#include "hv/cpu_model.h"
#include "hv/types.h"
#include "hv/vcpu_state.h"
#include "hv/vmstate.h"

/* 2: the memory digest is a sum of per-page terms; 3: whole vCPU; 4: the CPU model, a
 * record per device, the guest's TSC at activation; 5: VMs of several vCPUs (a VCPU
 * message for each application processor) */
#define WIRE_VERSION 5
#define WIRE_HDR 16
#define WIRE_NAME 32
#define WIRE_REASON 120
#define WIRE_PAGE 4096
#define WIRE_MAX_PAYLOAD (WIRE_PAGE + 64)
#define WIRE_MAX_MEM (64ull << 30)
#define WIRE_MAX_RECORDS 16
#define WIRE_MAX_VCPUS 8 /* hv/vm.h VM_VCPUS_MAX */
#define WIRE_RECORD_HDR (VMS_NAME_MAX + 2 + 4) /* name, version, length */
#define WIRE_RECORD_MAX (WIRE_MAX_PAYLOAD - WIRE_RECORD_HDR) /* bytes of one record */

enum wire_type {
	MSG_HELLO = 1,     /* source: the VM to host */
	MSG_RESERVED = 2,  /* target: yes (with its VM id) or no (with a reason) */
	MSG_PAGE = 3,      /* source: one page, a zero-page marker, or a delta (FEAT_XBZRLE) */
	MSG_ROUND = 4,     /* source: a round of the iterative copy ended */
	MSG_STATE = 5,     /* source: vCPU state, digest of memory, records and state */
	MSG_COMMIT = 6,    /* target: the image is complete and checked (or not) */
	MSG_ACTIVATE = 7,  /* source: the target owns the VM now: run it (from this TSC) */
	MSG_ACTIVATED = 8, /* target: it runs */
	MSG_ABORT = 9,     /* either: give up, with a reason */
	MSG_RECORD = 10,   /* source: one device's state record (VM paused), before STATE */
	MSG_VCPU = 11,     /* source: an application processor's state and local APIC, after
			    * the records, in index order from 1, before STATE */
	MSG_TYPE_MAX = 11,
};

#define FEAT_EPT (1u << 0)
#define FEAT_UNRESTRICTED (1u << 1)
#define FEAT_FULL_DIGEST (1u << 2) /* both fold the whole RAM into the digest at the pause */
/* A policy's migration: the target judges it by the policy's balance rule
 * (migrate/policy.h policy_judge) from the source's announcement, its own load and the
 * VM's (hello.load), and refuses it when the move would not even the load. An
 * operator's migrations do not ask. */
#define FEAT_LOAD_CHECK (1u << 3)
/* The source may send a page it sent before as a delta against that copy
 * (migrate/xbzrle.h). A target that does not know the bit refuses the HELLO (unknown
 * features), so no delta ever reaches a host that cannot apply it. */
#define FEAT_XBZRLE (1u << 4)
#define FEAT_ALL (FEAT_EPT | FEAT_UNRESTRICTED | FEAT_FULL_DIGEST | FEAT_LOAD_CHECK | FEAT_XBZRLE)
#define WIRE_MAX_LOAD 10000 /* % of one CPU, as hosts announce it */
/* A target sets the guest's TSC at activation to what the source sent, but never more
 * than this after the STATE's TSC: a peer cannot fling the guest's clock into the
 * future (a pause is seconds; minutes leave room for a slow network). */
#define WIRE_TSC_AHEAD_S 600

/* A state record named in HELLO (hv/vmstate.h: a name and a layout version). */
struct wire_record_id {
	char name[VMS_NAME_MAX];
	uint16_t version;
};

struct msg {
	enum wire_type type;
	union {
		struct {
			uint64_t mem_size;
			uint32_t page_size, vcpus, features;
			uint32_t load; /* % of a CPU the VM kept runnable at the source */
			char name[WIRE_NAME], image[WIRE_NAME];
			struct cpu_model cpu; /* entries past cpu.nr are zero */
			/* the records STATE will be preceded by, in their order */
			uint32_t nr_records;
			struct wire_record_id records[WIRE_MAX_RECORDS];
		} hello;
		struct {
			uint32_t ok, vm_id;
			char reason[WIRE_REASON];
		} reserved, commit;
		struct {
			uint64_t gpa;
			bool zero;
			bool delta;         /* data is a delta of delta_len (< WIRE_PAGE) bytes */
			uint32_t delta_len;
			/* WIRE_PAGE bytes (or the delta's) inside the decoded buffer */
			const uint8_t *data;
		} page;
		struct {
			uint32_t round, pages;
		} round;
		struct {
			char name[VMS_NAME_MAX];
			uint16_t version;
			uint32_t len;
			const uint8_t *data; /* len bytes inside the decoded buffer */
		} record;
		struct {
			struct vcpu_state cpu;
			uint64_t digest;
		} state;
		struct {
			uint32_t index;       /* 1 .. HELLO's vcpus - 1 */
			uint32_t mp;          /* enum vcpu_mp: started, or waiting for a SIPI */
			uint32_t sipi_vector; /* with mp 2: the STARTUP IPI it has yet to take */
			struct vcpu_state cpu; /* cpu.tsc: its TSC less the BSP's (mod 2^64) */
			uint32_t apic_len;
			const uint8_t *apic;  /* its local APIC's record (lapic_vms), inside the
					       * decoded buffer */
		} vcpu;
		struct {
			uint64_t tsc; /* the source's guest TSC as it sent this */
		} activate;
		struct {
			uint32_t vm_id;
		} activated;
		struct {
			char reason[WIRE_REASON];
		} abort;
	} u;
};

/* Decodes the first frame in buf. Returns its length (header + payload) and fills m;
 * 0 when buf does not hold a whole frame yet; a negative error for a malformed one,
 * with the reason in err. mem_size bounds page addresses (0: not known yet). */
int wire_decode(const uint8_t *buf, size_t len, uint64_t mem_size, struct msg *m,
		char *err, size_t err_size);
/* Encodes m into out (room for WIRE_HDR + WIRE_MAX_PAYLOAD); returns the frame length. */
size_t wire_encode(const struct msg *m, uint8_t *out);

uint32_t wire_check(const uint8_t *p, size_t n);
/* The digest source and target compare at commitment. Its memory part is kept as pages
 * go by, so the pause does not pay for it: the sum (mod 2^64) over the VM's pages of
 * wire_page_term(gpa, contents as last sent). A page sent again replaces its term. It
 * proves the target holds what the source sent; that the source sent every page the
 * guest changed is the dirty tracking's job (FEAT_FULL_DIGEST checks that too, at a
 * cost in downtime that grows with RAM). */
uint64_t wire_page_term(uint64_t gpa, const uint8_t *page); /* page NULL: all zero */
uint64_t wire_digest_mem(uint64_t h, const uint8_t *p, size_t n);
uint64_t wire_digest_init(void);
/* Folds a RECORD's or VCPU's contents into h: after memory, each in its order. */
uint64_t wire_digest_record(uint64_t h, const struct msg *record);
/* Folds a STATE message's contents (all but its digest field) into h, last. */
uint64_t wire_digest_state(uint64_t h, const struct msg *state);

/* The guest TSC a target starts the VM from: the source's at ACTIVATE, brought within
 * [state_tsc, state_tsc + WIRE_TSC_AHEAD_S s at tsc_hz], so the guest's clock never
 * goes back from the state it stopped in and a peer cannot move it far ahead. */
uint64_t wire_activate_tsc(uint64_t sent, uint64_t state_tsc, uint64_t tsc_hz);

#endif
