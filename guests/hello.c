/* The smallest guest: proves loading, the Multiboot hand-over, serial and exit. */
#include "guests/lib/guest.h"

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	printf("hello from tern guest\n");
	EXPECT(magic == MB_BOOT_MAGIC);
	printf("cmdline: %s\n", mb_cmdline(mbi));
	printf("PASS\n");
	exit(EXIT_PASS);
}
