/* Delta encoding of a page against the copy last sent (XBZRLE-like, own format), pure:
 * tested hosted and fuzzed. A delta is a list of pairs, each
 *
 *   skip (varint)  len (varint)  len bytes
 *
 * "leave skip bytes as they are, then write these len bytes"; what follows the last
 * pair is unchanged. Varints are little-endian base 128, at most 2 bytes (a page is
 * 4096 bytes), minimal; len is at least 1. An empty delta: the page did not change. */
#ifndef TERN_MIGRATE_XBZRLE_H
#define TERN_MIGRATE_XBZRLE_H

#include "hv/types.h"

#define XBZ_PAGE 4096
/* An unchanged gap shorter than this inside a changed stretch is carried as literal
 * bytes: a new pair costs at least two bytes of varints. */
#define XBZ_MIN_GAP 3
#define XBZ_NO_GAIN (-1)

/* Encodes new against old (XBZ_PAGE bytes each) into out, at most max bytes. Returns
 * the delta's length, or XBZ_NO_GAIN when it would be longer than max (the page then
 * goes whole); it stops scanning as soon as it knows. */
int xbz_encode(const uint8_t *old, const uint8_t *new, uint8_t *out, size_t max);

/* Applies a delta of len bytes to page (XBZ_PAGE bytes) in place. Every varint, offset
 * and length is checked against the page and the delta before any byte is written:
 * a malformed delta returns -E_FORMAT and leaves the page as it was. Work is bounded
 * by len (every pair consumes at least 3 bytes of it). */
int xbz_decode(uint8_t *page, const uint8_t *delta, size_t len);

#endif
