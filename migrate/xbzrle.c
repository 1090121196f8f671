#include "hv/error.h"
#include "hv/lib/string.h"
#include "migrate/xbzrle.h"

/* --- varints: 7 bits a byte, low first, the top bit says another follows --- */

static size_t put_varint(uint8_t *p, uint32_t v)
{
	if (v < 0x80) {
		p[0] = (uint8_t)v;
		return 1;
	}
	p[0] = (uint8_t)(v | 0x80);
	p[1] = (uint8_t)(v >> 7);
	return 2;
}

/* Reads a varint at *pos; false when truncated, longer than 2 bytes or not minimal
 * (one value, one encoding: a delta has a single form the fuzzer can round-trip). */
static bool get_varint(const uint8_t *d, size_t len, size_t *pos, uint32_t *v)
{
	if (*pos >= len)
		return false;
	*v = d[*pos] & 0x7f;
	if (!(d[(*pos)++] & 0x80))
		return true;
	if (*pos >= len || d[*pos] & 0x80 || !d[*pos])
		return false;
	*v |= (uint32_t)d[(*pos)++] << 7;
	return true;
}

/* --- encoding --- */

/* The first offset at or after i where old and new differ (XBZ_PAGE: none); whole
 * 8-byte words first, as most of a sparsely written page is unchanged. */
static size_t next_diff(const uint8_t *old, const uint8_t *new, size_t i)
{
	uint64_t a, b;

	while (i < XBZ_PAGE && i % 8 && old[i] == new[i])
		i++;
	while (i + 8 <= XBZ_PAGE) {
		__builtin_memcpy(&a, old + i, 8);
		__builtin_memcpy(&b, new + i, 8);
		if (a != b)
			break;
		i += 8;
	}
	while (i < XBZ_PAGE && old[i] == new[i])
		i++;
	return i;
}

/* The end of the changed stretch starting at i: it runs on over unchanged gaps shorter
 * than XBZ_MIN_GAP, and ends before a longer one (or at the page's end). */
static size_t run_end(const uint8_t *old, const uint8_t *new, size_t i)
{
	size_t same = 0, end = i;

	for (; i < XBZ_PAGE && same < XBZ_MIN_GAP; i++) {
		if (old[i] == new[i]) {
			same++;
		} else {
			same = 0;
			end = i + 1;
		}
	}
	return end;
}

int xbz_encode(const uint8_t *old, const uint8_t *new, uint8_t *out, size_t max)
{
	size_t pos = 0, n = 0;

	for (;;) {
		size_t start = next_diff(old, new, pos), end;
		uint8_t hdr[4];
		size_t h;

		if (start == XBZ_PAGE)
			return (int)n;
		end = run_end(old, new, start);
		h = put_varint(hdr, (uint32_t)(start - pos));
		h += put_varint(hdr + h, (uint32_t)(end - start));
		if (n + h + (end - start) > max)
			return XBZ_NO_GAIN;
		memcpy(out + n, hdr, h);
		memcpy(out + n + h, new + start, end - start);
		n += h + (end - start);
		pos = end;
	}
}

/* --- decoding --- */

/* One pass over the delta: with apply false it only checks, so a bad delta is refused
 * before the page is touched. */
static int walk(uint8_t *page, const uint8_t *d, size_t len, bool apply)
{
	size_t i = 0, pos = 0;

	while (i < len) {
		uint32_t skip, n;

		if (!get_varint(d, len, &i, &skip) || !get_varint(d, len, &i, &n))
			return -E_FORMAT;
		if (n == 0 || skip > XBZ_PAGE - pos || n > XBZ_PAGE - pos - skip || n > len - i)
			return -E_FORMAT;
		pos += skip;
		if (apply)
			memcpy(page + pos, d + i, n);
		pos += n;
		i += n;
	}
	return 0;
}

int xbz_decode(uint8_t *page, const uint8_t *delta, size_t len)
{
	int e = walk(page, delta, len, false);

	return e ? e : walk(page, delta, len, true);
}
