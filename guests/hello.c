/* The smallest guest: proves loading, the Multiboot hand-over, serial and exit, and
 * shows the CPU model a guest sees. */
#include "guests/lib/guest.h"

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	uint32_t r[4];
	char sig[13];

	printf("hello from tern guest\n");
	EXPECT(magic == MB_BOOT_MAGIC);
	printf("cmdline: %s\n", mb_cmdline(mbi));
	cpuid(1, &r[0], &r[1], &r[2], &r[3]);
	printf("cpuid: hypervisor=%s vmx=%s\n", r[2] & (1u << 31) ? "yes" : "no",
	       r[2] & (1u << 5) ? "yes" : "no");
	cpuid(0x40000000, &r[0], &r[1], &r[2], &r[3]);
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	sig[12] = 0;
	for (int i = 0; i < 12; i++) /* another hypervisor's signature may hold NULs */
		if (sig[i] < 0x20 || sig[i] > 0x7e)
			sig[i] = '.';
	printf("cpuid: signature=%s\n", sig);
	printf("PASS\n");
	exit(EXIT_PASS);
}
