#include <stdarg.h>
#include "hv/console.h"
#include "hv/lib/fmt.h"
#include "hv/panic.h"
#include "hv/x86.h"

__noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	cli();
	va_start(ap, fmt);
	fmt_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	console_break_lock();
	kprintf("\n*** tern panic at %s:%d: %s\n*** tern halted.\n", file, line, msg);
	cpu_halt_forever();
}
