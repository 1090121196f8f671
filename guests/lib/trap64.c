/* 64-bit IDT for guests' long-mode parts: every exception is unexpected there. */
#include "guests/lib/guest.h"
#include "guests/lib/segments.h"
#include "guests/lib/trap.h"

#define STUB_SIZE 16       /* entry64.S aligns each stub to this */
#define GATE_INTR64 0x8e00 /* present, DPL 0, 64-bit interrupt gate */

struct gate64 {
	uint16_t off_lo, sel, type, off_mid;
	uint32_t off_hi, reserved;
} __packed;

/* what the stub and the CPU pushed */
struct trap64_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern char trap64_stubs[];
void trap64_init(void);
__noreturn void trap64_handler(struct trap64_frame *f);

static struct gate64 idt[NR_EXCEPTIONS] __attribute__((aligned(16)));

void trap64_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed desc = { sizeof(idt) - 1, (uint64_t)idt };

	for (int v = 0; v < NR_EXCEPTIONS; v++) {
		uint64_t h = (uint64_t)trap64_stubs + v * STUB_SIZE;

		idt[v] = (struct gate64){ h & 0xffff, SEL_CODE64, GATE_INTR64, (h >> 16) & 0xffff,
					  h >> 32, 0 };
	}
	asm volatile("lidt %0" : : "m"(desc));
}

void trap64_handler(struct trap64_frame *f)
{
	unexpected_exception(f->vector, f->rip, f->error, read_cr2());
}
