/* Dirty-page tracking of a VM: which guest pages were written since the last look.
 * Bitmaps and logs live in the shadow region; the backend (wp, pml or ad mode) feeds
 * dirty_mark(). A round ends with dirty_sync(): the bitmap being filled becomes the
 * last completed round and tracking is re-armed for the pages it holds. */
#ifndef TERN_DIRTY_H
#define TERN_DIRTY_H

#include "hv/shadow.h"
#include "hv/types.h"

enum dirty_mode { DIRTY_OFF, DIRTY_WP, DIRTY_PML, DIRTY_AD };

#define DIRTY_PML_PAGES 8 /* VM_VCPUS_MAX (hv/vm.h) */

struct dirty {
	enum dirty_mode mode;
	bool sample;           /* a short measuring window: any other user preempts it */
	uint64_t npages;
	struct shadow_extent ext;
	uint64_t *bitmap[2];   /* [cur] fills; [cur ^ 1] is the last completed round */
	uint32_t *log[2];      /* pages in the order first written, for each bitmap */
	uint64_t log_len[2];
	int cur;
	uint64_t pml;          /* PML buffers (host-physical), inside ext: a page for each
				* vCPU, DIRTY_PML_PAGES */
	uint8_t *stage;        /* room for a copy of every page, inside ext; NULL in a sample */
	/* figures, cheap to read: a policy polls them */
	uint64_t rounds;
	uint64_t last_pages;   /* pages in the last completed round */
	uint64_t last_round_us;
	uint64_t round_start_us;
	uint64_t exits;        /* VM exits caused by tracking */
};

struct vm;

int dirty_start(struct vm *vm, enum dirty_mode mode, char *err, size_t err_size);
/* A short measuring window (d->sample) that any other user preempts: no staging room,
 * so a VM as big as the shadow region can still be sampled. */
int dirty_start_sample(struct vm *vm, enum dirty_mode mode, char *err, size_t err_size);
void dirty_stop(struct vm *vm);
/* Ends the round; returns the number of pages it dirtied. */
uint64_t dirty_sync(struct vm *vm);
/* Pages dirtied in the round under way so far (collects what the CPU recorded). */
uint64_t dirty_pending(struct vm *vm);
/* Of the pages dirtied in the round under way (as dirty_pending() last collected them),
 * those the last completed round holds too: pages written in both. */
uint64_t dirty_overlap(const struct vm *vm);
/* The same count, moving those pages to the front of the round's log: for a sample,
 * whose log order nothing else reads, so that after dirty_sync() the first n pages of
 * the last completed round are the ones written in the two rounds before. */
uint64_t dirty_overlap_front(struct vm *vm);
/* Of the first n pages of the last completed round's log, those the round under way
 * holds too. */
uint64_t dirty_overlap_of(const struct vm *vm, uint64_t n);
/* Pages per second in the last completed round. */
uint64_t dirty_rate(const struct dirty *d);
/* Shadow bytes tracking a VM of npages needs. */
uint64_t dirty_shadow_need(uint64_t npages);

/* For backends: page pfn was written. */
static inline void dirty_mark(struct dirty *d, uint64_t pfn)
{
	uint64_t *b = d->bitmap[d->cur];
	uint64_t bit = 1ull << (pfn % 64);

	if (pfn >= d->npages || (b[pfn / 64] & bit))
		return;
	b[pfn / 64] |= bit;
	d->log[d->cur][d->log_len[d->cur]++] = (uint32_t)pfn;
}

const char *dirty_mode_name(enum dirty_mode m);
bool dirty_mode_parse(const char *s, enum dirty_mode *m);

#endif
