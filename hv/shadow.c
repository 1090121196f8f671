#include "hv/cmdline.h"
#include "hv/lib/string.h"
#include "hv/pmm.h"
#include "hv/shadow.h"

static uint64_t region, region_size;
static struct shadow_extent ext[SHADOW_MAX_EXTENTS]; /* base 0: slot free */

uint64_t shadow_init(const char *cmdline)
{
	char val[24];
	uint64_t mib = SHADOW_DEFAULT_MIB;

	if (cmdline_get(cmdline, "shadow", val, sizeof(val)) && !parse_u64(val, &mib))
		mib = SHADOW_DEFAULT_MIB;
	/* Never more than half of what is free: guests need memory too. */
	while (mib && mib * MIB > pmm_stats().free / 2)
		mib /= 2;
	if (!mib)
		return 0;
	region = pmm_alloc_aligned(mib * MIB / PAGE_SIZE, 512);
	region_size = region ? mib * MIB : 0;
	return region_size;
}

/* First fit: slide past every extent in the way until the range is clear. */
bool shadow_alloc(uint64_t size, int owner, struct shadow_extent *out)
{
	uint64_t at = region;
	bool moved = true;
	int slot = -1;

	size = ALIGN_UP(size, PAGE_SIZE);
	if (!region || !size)
		return false;
	while (moved) {
		if (size > region + region_size - at)
			return false;
		moved = false;
		for (int k = 0; k < SHADOW_MAX_EXTENTS; k++) {
			if (ext[k].base && ext[k].base < at + size && at < ext[k].base + ext[k].size) {
				at = ext[k].base + ext[k].size;
				moved = true;
			}
		}
	}
	for (int k = 0; k < SHADOW_MAX_EXTENTS && slot < 0; k++)
		if (!ext[k].base)
			slot = k;
	if (slot < 0)
		return false;
	ext[slot] = (struct shadow_extent){ at, size, owner };
	memset((void *)(uintptr_t)at, 0, size);
	*out = ext[slot];
	return true;
}

void shadow_free(struct shadow_extent *x)
{
	for (int k = 0; k < SHADOW_MAX_EXTENTS; k++)
		if (x->base && ext[k].base == x->base)
			ext[k] = (struct shadow_extent){ 0 };
	*x = (struct shadow_extent){ 0 };
}

struct shadow_stats shadow_stats(void)
{
	struct shadow_stats s = { region, region_size, 0 };

	for (int k = 0; k < SHADOW_MAX_EXTENTS; k++)
		s.used += ext[k].size;
	return s;
}

const struct shadow_extent *shadow_extent_at(unsigned i)
{
	return i < SHADOW_MAX_EXTENTS && ext[i].base ? &ext[i] : NULL;
}
