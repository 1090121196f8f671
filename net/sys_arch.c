/* What lwIP needs from the platform with NO_SYS=1: the time in milliseconds (from the
 * TSC), random numbers (ports, ISNs, DHCP xids), and atoi for netif_find. */
#include "hv/time.h"
#include "hv/x86.h"
#include "lwip/sys.h"

u32_t sys_now(void)
{
	return (u32_t)time_now_ms();
}

/* xorshift64, seeded from the TSC on first use: not cryptographic, but ISNs and
 * ephemeral ports differ between hosts and boots, which is what TCP needs here. */
unsigned int net_rand(void)
{
	static uint64_t s;

	if (!s)
		s = rdtsc() | 1;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (unsigned int)(s >> 16);
}

int atoi(const char *p)
{
	int v = 0, neg = *p == '-';

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9' && v < 100000000)
		v = v * 10 + (*p++ - '0');
	return neg ? -v : v;
}
