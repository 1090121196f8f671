/* Apart from string.c because hosted tests take the C library's string functions,
 * and glibc before 2.38 has no strlcpy. */
#include "hv/lib/string.h"

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}
