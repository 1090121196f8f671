#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv/lib/fmt.h"
#include "tests/unit/stubs.h"

char stub_output[65536];
static size_t stub_len;

void stub_output_reset(void)
{
	stub_len = 0;
	stub_output[0] = 0;
}

static void put(char c, void *ctx)
{
	(void)ctx;
	if (stub_len + 1 < sizeof(stub_output)) {
		stub_output[stub_len++] = c;
		stub_output[stub_len] = 0;
	}
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vformat(put, NULL, fmt, ap);
	va_end(ap);
	return n;
}

void time_delay_us(uint64_t us)
{
	(void)us;
}

uint64_t time_now_us(void)
{
	return 0;
}

void mon_guest_line(int vm_id, const char *text)
{
	kprintf("[vm%d] %s\n", vm_id, text);
}

/* tern's own broken invariants end the test run, loudly. */
void panic_at(const char *file, int line, const char *fmt, ...)
{
	fprintf(stderr, "panic at %s:%d\n", file, line);
	abort();
}
