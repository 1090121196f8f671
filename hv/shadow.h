/* The shadow region: host memory reserved at boot (shadow=<MiB>) for every
 * dirty-tracking structure, mapped into no guest. Handed out in page-aligned extents,
 * one per tracked VM; nothing is ever written outside it on a VM's behalf. */
#ifndef TERN_SHADOW_H
#define TERN_SHADOW_H

#include "hv/types.h"

#define SHADOW_DEFAULT_MIB 64
#define SHADOW_MAX_EXTENTS 16

struct shadow_extent {
	uint64_t base;   /* host-physical, page aligned; 0 when none */
	uint64_t size;
	int owner;       /* VM id */
};

/* Reserves the region; returns the size reserved (0 when none could be). */
uint64_t shadow_init(const char *cmdline);
/* An extent of at least size bytes, zeroed; false when the region lacks the room. */
bool shadow_alloc(uint64_t size, int owner, struct shadow_extent *out);
void shadow_free(struct shadow_extent *x);

struct shadow_stats {
	uint64_t base, size, used;
};
struct shadow_stats shadow_stats(void);
/* For info shadow: extent i in use, or NULL. */
const struct shadow_extent *shadow_extent_at(unsigned i);

#endif
