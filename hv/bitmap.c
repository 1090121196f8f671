#include "hv/bitmap.h"

uint64_t bitmap_count(const uint64_t *b, uint64_t n)
{
	uint64_t c = 0;

	/* no libgcc here (its popcount helper), and counting is not on a hot path */
	for (uint64_t w = 0; w < n / 64; w++)
		for (uint64_t x = b[w]; x; x &= x - 1)
			c++;
	for (uint64_t i = n / 64 * 64; i < n; i++)
		c += bitmap_test(b, i);
	return c;
}

bool bitmap_next_run(const uint64_t *b, uint64_t n, uint64_t *from, uint64_t *start,
		     uint64_t *end)
{
	uint64_t i = *from;

	/* skip clear words quickly: dirty sets are usually sparse */
	while (i < n && !bitmap_test(b, i)) {
		if (i % 64 == 0 && !b[i / 64])
			i += 64;
		else
			i++;
	}
	if (i >= n)
		return false;
	*start = i;
	while (i < n && bitmap_test(b, i))
		i++;
	*end = i;
	*from = i;
	return true;
}
