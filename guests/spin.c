/* Burns CPU forever with interrupts off, printing "spin: <n>" every every=N loop
 * iterations: something for tern to preempt, schedule and migrate. The line count lives
 * in guest memory so a moved guest carries on counting where it was. */
#include "guests/lib/guest.h"

/* Two instructions an iteration (dec, jnz): about one line a second at 100 MIPS. */
#define DEFAULT_EVERY 50000000u

static volatile uint32_t lines;

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	uint32_t every = arg_u32(cmdline_args(mb_cmdline(mbi)), "every", DEFAULT_EVERY);

	EXPECT(every > 0);
	printf("spin: every=%u\n", every);
	for (;;) {
		for (uint32_t i = every; i; i--)
			asm volatile("" : : : "memory"); /* keep the loop, but empty */
		printf("spin: %u\n", ++lines);
	}
}
