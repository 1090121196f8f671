/* Bitmaps of pages, 64 bits a word. Pure; tested hosted. */
#ifndef TERN_BITMAP_H
#define TERN_BITMAP_H

#include "hv/types.h"

#define BITMAP_WORDS(n) (((n) + 63) / 64)

static inline bool bitmap_test(const uint64_t *b, uint64_t i)
{
	return b[i / 64] & (1ull << (i % 64));
}

/* Sets bit i; returns whether it was already set. */
static inline bool bitmap_test_set(uint64_t *b, uint64_t i)
{
	bool was = bitmap_test(b, i);

	b[i / 64] |= 1ull << (i % 64);
	return was;
}

static inline void bitmap_clear(uint64_t *b, uint64_t i)
{
	b[i / 64] &= ~(1ull << (i % 64));
}

uint64_t bitmap_count(const uint64_t *b, uint64_t n);
/* Finds the next run of set bits at or after *from: returns false when none is left,
 * else sets [*start, *end) and moves *from past it. */
bool bitmap_next_run(const uint64_t *b, uint64_t n, uint64_t *from, uint64_t *start,
		     uint64_t *end);

#endif
