/* The guest command line is "<image-name> key=value key=value ..." (words separated
 * by spaces); tern and QEMU -kernel -append both pass it like that, GRUB 2 without
 * the image name. */
#include "guests/lib/guest.h"

const char *mb_cmdline(const struct mb_info *mbi)
{
	if (!(mbi->flags & MB_INFO_CMDLINE) || !mbi->cmdline)
		return "";
	return (const char *)(uintptr_t)mbi->cmdline;
}

const char *cmdline_args(const char *cmdline)
{
	const char *s = cmdline;

	while (*s == ' ')
		s++;
	while (*s && *s != ' ') {
		/* GRUB 2 leaves the image name out: then the first word is an argument */
		if (*s == '=')
			return cmdline;
		s++;
	}
	return s;
}

uint32_t mb_ram_top(const struct mb_info *mbi)
{
	EXPECT(mbi->flags & MB_INFO_MEM);
	return 1024 * 1024 + mbi->mem_upper * 1024;
}

/* Finds "key=" at the start of a word; returns the value and its end. */
static const char *find_value(const char *s, const char *key, const char **end)
{
	size_t klen = strlen(key);

	while (*s) {
		while (*s == ' ')
			s++;
		const char *word = s;

		while (*s && *s != ' ')
			s++;
		if ((size_t)(s - word) > klen && !strncmp(word, key, klen) && word[klen] == '=') {
			*end = s;
			return word + klen + 1;
		}
	}
	return NULL;
}

bool arg_str(const char *args, const char *key, char *val, size_t size)
{
	const char *end, *v = find_value(args, key, &end);
	size_t n;

	if (!v)
		return false;
	n = MIN((size_t)(end - v), size - 1);
	memcpy(val, v, n);
	val[n] = 0;
	return true;
}

static int digit(char c, unsigned base)
{
	int d = c >= '0' && c <= '9' ? c - '0'
		: c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10
		: 99;

	return d < (int)base ? d : -1;
}

bool parse_u32(const char *s, const char *end, uint32_t *val)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (!end)
		end = s + strlen(s);
	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (s == end)
		return false;
	for (; s < end; s++) {
		int d = digit(*s, base);

		if (d < 0)
			return false;
		v = v * base + d;
		if (v > UINT32_MAX)
			return false;
	}
	*val = v;
	return true;
}

uint32_t arg_u32(const char *args, const char *key, uint32_t def)
{
	const char *end, *v = find_value(args, key, &end);
	uint32_t n;

	if (!v)
		return def;
	if (!parse_u32(v, end, &n)) {
		printf("FAIL bad number in %s=%.*s\n", key, (int)(end - v), v);
		exit(EXIT_FAIL);
	}
	return n;
}
