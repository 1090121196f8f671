#include "hv/cmdline.h"
#include "hv/lib/string.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool cmdline_get(const char *cmdline, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);
	bool found = false;
	const char *p = cmdline;

	while (*p) {
		while (is_space(*p))
			p++;
		const char *w = p;
		while (*p && !is_space(*p))
			p++;
		size_t wlen = (size_t)(p - w);
		if (wlen < klen || strncmp(w, key, klen) != 0)
			continue;
		if (wlen == klen) {
			found = true;
			if (size)
				val[0] = 0;
		} else if (w[klen] == '=') {
			size_t n = wlen - klen - 1;
			found = true;
			if (size) {
				if (n >= size)
					n = size - 1;
				memcpy(val, w + klen + 1, n);
				val[n] = 0;
			}
		}
	}
	return found;
}

static void put(char *out, size_t size, size_t *at, const char *s, size_t n)
{
	while (n-- && *at + 1 < size)
		out[(*at)++] = *s++;
}

void cmdline_redact(char *out, size_t size, const char *cmdline, const char *key)
{
	size_t klen = strlen(key), at = 0;
	const char *p = cmdline;

	if (!size)
		return;
	while (*p) {
		const char *w = p;
		size_t wlen;

		while (*p && !is_space(*p))
			p++;
		wlen = (size_t)(p - w);
		if (wlen > klen && strncmp(w, key, klen) == 0 && w[klen] == '=') {
			put(out, size, &at, w, klen + 1);
			put(out, size, &at, "...", 3);
		} else {
			put(out, size, &at, w, wlen);
		}
		for (w = p; is_space(*p); p++)
			;
		put(out, size, &at, w, (size_t)(p - w));
	}
	out[at] = 0;
}

bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (!s || !*s)
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return false;
	}
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}
