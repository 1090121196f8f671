/* The C string functions tern uses; hosted tests get the host's, the freestanding
 * build gets hv/lib/string.c. Same names so GCC's builtin calls resolve too. */
#ifndef TERN_STRING_H
#define TERN_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);

/* Copies at most size-1 characters and always terminates; returns strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t size);

/* The value of a hexadecimal digit, either case; -1 for any other character. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
