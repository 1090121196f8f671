#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "net/addr.h"

static bool parse_dec(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9' && n < 4) {
		v = v * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	if (n == 0 || n > 3 || v > max || (n > 1 && **p == '0'))
		return false;
	*p = s;
	*out = v;
	return true;
}

static bool parse_ip4_prefix(const char **p, uint32_t *ip)
{
	uint32_t v = 0;
	unsigned part;

	for (int i = 0; i < 4; i++) {
		if (i && *(*p)++ != '.')
			return false;
		if (!parse_dec(p, 255, &part))
			return false;
		v = v << 8 | part;
	}
	*ip = v;
	return true;
}

bool net_parse_ip4(const char *s, uint32_t *ip)
{
	return s && parse_ip4_prefix(&s, ip) && *s == 0;
}

bool net_parse_cidr(const char *s, uint32_t *ip, unsigned *prefix)
{
	if (!s || !parse_ip4_prefix(&s, ip))
		return false;
	*prefix = 24;
	if (*s == 0)
		return true;
	if (*s++ != '/' || !parse_dec(&s, 32, prefix))
		return false;
	return *s == 0;
}

bool net_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	if (!s)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);

		if (lo < 0 || s[2] != (i < 5 ? ':' : 0))
			return false;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 3;
	}
	if (m[0] & 1)
		return false; /* multicast: not an address a NIC may have */
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return true;
}

uint32_t net_prefix_mask(unsigned prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

void net_format_ip4(char *buf, size_t n, uint32_t ip)
{
	fmt_snprintf(buf, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		     ip & 0xff);
}
