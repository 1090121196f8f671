#include "hv/lib/string.h"

/* A machine word a step (8 bytes in tern, 4 in the 32-bit test guests that share this
 * file), then the tail a byte at a time: a 128 MiB guest's RAM is zeroed and its kernel
 * copied in an eighth of the steps a byte loop takes (an emulator counts each one). */
#ifdef __x86_64__
#define REP_MOVS_WORD "rep movsq"
#define REP_STOS_WORD "rep stosq"
#else
#define REP_MOVS_WORD "rep movsl"
#define REP_STOS_WORD "rep stosl"
#endif

void *memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;
	size_t w = n / sizeof(long), r = n % sizeof(long);

	asm volatile(REP_MOVS_WORD : "+D"(dst), "+S"(src), "+c"(w) : : "memory");
	asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(r) : : "memory");
	return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *ret = dst;
	unsigned long v = ~0ul / 0xff * (unsigned char)c; /* the byte in every byte */
	size_t w = n / sizeof(long), r = n % sizeof(long);

	asm volatile(REP_STOS_WORD : "+D"(dst), "+c"(w) : "a"(v) : "memory");
	asm volatile("rep stosb" : "+D"(dst), "+c"(r) : "a"(v) : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}
