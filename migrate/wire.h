/* The migration stream between two tern hosts: framed, versioned, checked messages.
 * Every frame: a 16-byte header, then `len` bytes of payload.
 *   magic "TRNM" | version u16 | type u16 | len u32 | check u32 (FNV-1a of payload)
 * All integers little-endian. Encoding and decoding are pure (tested hosted and fuzzed);
 * the decoder checks every field a peer controls before anything uses it. */
#ifndef TERN_MIGRATE_WIRE_H
#define TERN_MIGRATE_WIRE_H

#include "hv/types.h"
#include "hv/vcpu_state.h"

#define WIRE_VERSION 3 /* 2: the memory digest is a sum of per-page terms; 3: whole vCPU */
#define WIRE_HDR 16
#define WIRE_NAME 32
#define WIRE_REASON 120
#define WIRE_PAGE 4096
#define WIRE_MAX_PAYLOAD (WIRE_PAGE + 64)
#define WIRE_MAX_MEM (64ull << 30)

enum wire_type {
	MSG_HELLO = 1,     /* source: the VM to host */
	MSG_RESERVED = 2,  /* target: yes (with its VM id) or no (with a reason) */
	MSG_PAGE = 3,      /* source: one page, or a zero-page marker */
	MSG_ROUND = 4,     /* source: a round of the iterative copy ended */
	MSG_STATE = 5,     /* source: vCPU and device state, memory digest (VM paused) */
	MSG_COMMIT = 6,    /* target: the image is complete and checked (or not) */
	MSG_ACTIVATE = 7,  /* source: the target owns the VM now: run it */
	MSG_ACTIVATED = 8, /* target: it runs */
	MSG_ABORT = 9,     /* either: give up, with a reason */
	MSG_TYPE_MAX = 9,
};

#define FEAT_EPT (1u << 0)
#define FEAT_UNRESTRICTED (1u << 1)
#define FEAT_FULL_DIGEST (1u << 2) /* both fold the whole RAM into the digest at the pause */
/* A policy's migration: the target judges it by the policy's balance rule
 * (migrate/policy.h policy_judge) from the source's announcement, its own load and the
 * VM's (hello.load), and refuses it when the move would not even the load. An
 * operator's migrations do not ask. */
#define FEAT_LOAD_CHECK (1u << 3)
#define FEAT_ALL (FEAT_EPT | FEAT_UNRESTRICTED | FEAT_FULL_DIGEST | FEAT_LOAD_CHECK)
#define WIRE_MAX_LOAD 10000 /* % of one CPU, as hosts announce it */
#define DEV_UART (1u << 0)
#define DEV_EXIT_PORT (1u << 1)

struct wire_uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint16_t len;           /* unfinished output line */
	char line[160];
	uint16_t rx_len;        /* typed input not yet read */
	uint8_t rx[256];
};

struct msg {
	enum wire_type type;
	union {
		struct {
			uint64_t mem_size;
			uint32_t page_size, vcpus, features, devices;
			uint32_t load; /* % of a CPU the VM kept runnable at the source */
			char name[WIRE_NAME], image[WIRE_NAME];
		} hello;
		struct {
			uint32_t ok, vm_id;
			char reason[WIRE_REASON];
		} reserved, commit;
		struct {
			uint64_t gpa;
			bool zero;
			const uint8_t *data; /* WIRE_PAGE bytes inside the decoded buffer */
		} page;
		struct {
			uint32_t round, pages;
		} round;
		struct {
			struct vcpu_state cpu;
			struct wire_uart uart;
			uint64_t digest;
		} state;
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
/* Folds a STATE message's contents (all but its digest field) into h. */
uint64_t wire_digest_state(uint64_t h, const struct msg *state);

#endif
