/* X25519 (RFC 7748): the Montgomery ladder over GF(p), p = 2^255 - 19.
 *
 * A field element is five limbs of 51 bits, value = f[0] + f[1] 2^51 + ... + f[4] 2^204, so a
 * product of two limbs fits a 64x64->128 multiply with room for the sums. 2^255 = 19 (mod p):
 * a product's part at 2^255 and above comes back into the low limbs times 19.
 *
 * Bounds: "reduced" limbs are below 2^51 + 2^13 (what fe_mul, fe_sq and fe_mul_small leave);
 * fe_add of two reduced elements and fe_sub of a reduced one from a reduced one stay below
 * 2^53, and the multiplications take nothing larger: 38 times a limb fits 64 bits, five
 * products of up to 2^112 fit 128, and the top column's carry (fe_reduce) times 19 fits 64.
 *
 * Constant time: no branch and no memory index depends on the scalar or on a field value; the
 * ladder's swaps are masks, inversion is a fixed chain of squarings and multiplications. */
#include "tls/x25519.h"

typedef uint64_t fe[5];
typedef unsigned __int128 u128;

#define MASK51 ((1ULL << 51) - 1)
/* (486662 - 2) / 4: the curve's constant in the ladder's doubling (RFC 7748, section 5) */
#define A24 121665

static uint64_t load64_le(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void store64_le(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

/* RFC 7748, section 5: the top bit is masked; a value >= p is kept as it is, it reduces in
 * the arithmetic like any other. */
static void fe_frombytes(fe h, const uint8_t b[X25519_LEN])
{
	uint64_t w0 = load64_le(b), w1 = load64_le(b + 8), w2 = load64_le(b + 16),
		 w3 = load64_le(b + 24);

	h[0] = w0 & MASK51;
	h[1] = (w0 >> 51 | w1 << 13) & MASK51;
	h[2] = (w1 >> 38 | w2 << 26) & MASK51;
	h[3] = (w2 >> 25 | w3 << 39) & MASK51;
	h[4] = (w3 >> 12) & MASK51;
}

/* Carries each limb's excess into the next, the top one's back into h[0] times 19. */
static void fe_carry(fe h)
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		c = h[i] >> 51;
		h[i] &= MASK51;
		h[i + 1] += c;
	}
	c = h[4] >> 51;
	h[4] &= MASK51;
	h[0] += 19 * c;
}

/* The unique value below p, little-endian. */
static void fe_tobytes(uint8_t b[X25519_LEN], const fe f)
{
	fe h = { f[0], f[1], f[2], f[3], f[4] };
	uint64_t q;

	/* Twice: then h[1..4] < 2^51, h[0] < 2^51 + 19, so h < 2^255 + 19 < 2p. */
	fe_carry(h);
	fe_carry(h);
	/* q = 1 if h >= p, that is if h + 19 reaches 2^255; then h - p = h + 19 - 2^255. */
	q = (h[0] + 19) >> 51;
	for (int i = 1; i < 5; i++)
		q = (h[i] + q) >> 51;
	h[0] += 19 * q;
	for (int i = 0; i < 4; i++) {
		h[i + 1] += h[i] >> 51;
		h[i] &= MASK51;
	}
	h[4] &= MASK51; /* drops the 2^255 */
	store64_le(b, h[0] | h[1] << 51);
	store64_le(b + 8, h[1] >> 13 | h[2] << 38);
	store64_le(b + 16, h[2] >> 26 | h[3] << 25);
	store64_le(b + 24, h[3] >> 39 | h[4] << 12);
}

static void fe_add(fe h, const fe f, const fe g)
{
	for (int i = 0; i < 5; i++)
		h[i] = f[i] + g[i];
}

/* f - g + 2p, limb by limb, so no limb goes below zero for a reduced g. */
static void fe_sub(fe h, const fe f, const fe g)
{
	h[0] = f[0] + 2 * (MASK51 - 18) - g[0];
	for (int i = 1; i < 5; i++)
		h[i] = f[i] + 2 * MASK51 - g[i];
}

/* The five 128-bit column sums of a product, carried down to reduced limbs. The top column
 * has no wrapped products (r[4] < 5 * 2^106 + a carry), so its carry is below 2^58. */
static void fe_reduce(fe h, u128 r[5])
{
	uint64_t c;

	for (int i = 0; i < 4; i++) {
		r[i + 1] += (uint64_t)(r[i] >> 51);
		h[i] = (uint64_t)r[i] & MASK51;
	}
	c = (uint64_t)(r[4] >> 51);
	h[4] = (uint64_t)r[4] & MASK51;
	h[0] += 19 * c;
	h[1] += h[0] >> 51;
	h[0] &= MASK51;
}

/* Column k gathers f[i] g[j] with i + j = k, and 19 f[i] g[j] with i + j = k + 5. */
static void fe_mul(fe h, const fe f, const fe g)
{
	uint64_t g19[5];
	u128 r[5];

	for (int i = 1; i < 5; i++)
		g19[i] = 19 * g[i];
	r[0] = (u128)f[0] * g[0] + (u128)f[1] * g19[4] + (u128)f[2] * g19[3] +
	       (u128)f[3] * g19[2] + (u128)f[4] * g19[1];
	r[1] = (u128)f[0] * g[1] + (u128)f[1] * g[0] + (u128)f[2] * g19[4] +
	       (u128)f[3] * g19[3] + (u128)f[4] * g19[2];
	r[2] = (u128)f[0] * g[2] + (u128)f[1] * g[1] + (u128)f[2] * g[0] +
	       (u128)f[3] * g19[4] + (u128)f[4] * g19[3];
	r[3] = (u128)f[0] * g[3] + (u128)f[1] * g[2] + (u128)f[2] * g[1] +
	       (u128)f[3] * g[0] + (u128)f[4] * g19[4];
	r[4] = (u128)f[0] * g[4] + (u128)f[1] * g[3] + (u128)f[2] * g[2] +
	       (u128)f[3] * g[1] + (u128)f[4] * g[0];
	fe_reduce(h, r);
}

/* fe_mul(h, f, f) with each cross product counted once, doubled. */
static void fe_sq(fe h, const fe f)
{
	uint64_t d0 = 2 * f[0], d1 = 2 * f[1], f38_3 = 38 * f[3], f38_4 = 38 * f[4];
	u128 r[5];

	r[0] = (u128)f[0] * f[0] + (u128)f[1] * f38_4 + (u128)f[2] * f38_3;
	r[1] = (u128)d0 * f[1] + (u128)f[2] * f38_4 + (u128)f[3] * (19 * f[3]);
	r[2] = (u128)d0 * f[2] + (u128)f[1] * f[1] + (u128)f[3] * f38_4;
	r[3] = (u128)d0 * f[3] + (u128)d1 * f[2] + (u128)f[4] * (19 * f[4]);
	r[4] = (u128)d0 * f[4] + (u128)d1 * f[3] + (u128)f[2] * f[2];
	fe_reduce(h, r);
}

/* n squarings in a row */
static void fe_sqn(fe h, const fe f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

static void fe_mul_small(fe h, const fe f, uint32_t n)
{
	u128 r[5];

	for (int i = 0; i < 5; i++)
		r[i] = (u128)f[i] * n;
	fe_reduce(h, r);
}

/* h = z^(p-2) = 1/z (Fermat; 0 for z = 0). p - 2 = 2^255 - 21 is 250 ones then 01011 in
 * binary: z^(2^250-1) is built from z^(2^k-1) for doubling k, then shifted up 5 bits and
 * multiplied by z^11. 254 squarings and 11 multiplications, the same for every z. */
static void fe_invert(fe h, const fe z)
{
	fe z2, z9, z11, t5, t10, t20, t50, t100, t;

	fe_sq(z2, z);
	fe_sqn(t, z2, 2);
	fe_mul(z9, t, z);
	fe_mul(z11, z9, z2);
	fe_sq(t, z11);
	fe_mul(t5, t, z9); /* 2^5 - 1 */
	fe_sqn(t, t5, 5);
	fe_mul(t10, t, t5); /* 2^10 - 1 */
	fe_sqn(t, t10, 10);
	fe_mul(t20, t, t10);
	fe_sqn(t, t20, 20);
	fe_mul(t, t, t20); /* 2^40 - 1 */
	fe_sqn(t, t, 10);
	fe_mul(t50, t, t10);
	fe_sqn(t, t50, 50);
	fe_mul(t100, t, t50);
	fe_sqn(t, t100, 100);
	fe_mul(t, t, t100); /* 2^200 - 1 */
	fe_sqn(t, t, 50);
	fe_mul(t, t, t50); /* 2^250 - 1 */
	fe_sqn(t, t, 5);
	fe_mul(h, t, z11);
}

/* Swaps f and g if swap is 1, leaves them if 0, with the same instructions either way. The
 * empty asm hides the mask's origin so the compiler cannot turn it back into a branch. */
static void fe_cswap(fe f, fe g, uint64_t swap)
{
	uint64_t mask = 0 - swap;

	__asm__("" : "+r"(mask));
	for (int i = 0; i < 5; i++) {
		uint64_t x = mask & (f[i] ^ g[i]);

		f[i] ^= x;
		g[i] ^= x;
	}
}

void x25519(uint8_t out[X25519_LEN], const uint8_t k[X25519_LEN], const uint8_t u[X25519_LEN])
{
	uint8_t s[X25519_LEN];
	fe x1, x2 = { 1 }, z2 = { 0 }, x3, z3 = { 1 };
	fe a, aa, b, bb, e, c, d, da, cb;
	uint64_t swap = 0;

	/* Clamped (RFC 7748, section 5): a multiple of the cofactor 8, with bit 254 its top. */
	for (int i = 0; i < X25519_LEN; i++)
		s[i] = k[i];
	s[0] &= 248;
	s[31] = (s[31] & 127) | 64;
	fe_frombytes(x1, u);
	for (int i = 0; i < 5; i++)
		x3[i] = x1[i];

	/* The ladder: (x2:z2) = n u and (x3:z3) = (n + 1) u for n the scalar's bits so far. */
	for (int t = 254; t >= 0; t--) {
		uint64_t bit = (s[t >> 3] >> (t & 7)) & 1;

		swap ^= bit;
		fe_cswap(x2, x3, swap);
		fe_cswap(z2, z3, swap);
		swap = bit;

		fe_add(a, x2, z2);
		fe_sq(aa, a);
		fe_sub(b, x2, z2);
		fe_sq(bb, b);
		fe_sub(e, aa, bb);
		fe_add(c, x3, z3);
		fe_sub(d, x3, z3);
		fe_mul(da, d, a);
		fe_mul(cb, c, b);
		fe_add(x3, da, cb);
		fe_sq(x3, x3);
		fe_sub(z3, da, cb);
		fe_sq(z3, z3);
		fe_mul(z3, z3, x1);
		fe_mul(x2, aa, bb);
		fe_mul_small(z2, e, A24);
		fe_add(z2, z2, aa);
		fe_mul(z2, z2, e);
	}
	fe_cswap(x2, x3, swap);
	fe_cswap(z2, z3, swap);

	fe_invert(z2, z2);
	fe_mul(x2, x2, z2);
	fe_tobytes(out, x2);

	/* The clamped scalar stays on the stack otherwise; the limbs of x2, z2 and the rest
	 * are its image and are as secret, but wiping them all costs more than it protects. */
	for (int i = 0; i < X25519_LEN; i++)
		((volatile uint8_t *)s)[i] = 0;
}

void x25519_base(uint8_t out[X25519_LEN], const uint8_t k[X25519_LEN])
{
	static const uint8_t nine[X25519_LEN] = { 9 };

	x25519(out, k, nine);
}
