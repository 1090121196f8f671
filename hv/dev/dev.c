#include <stdarg.h>
#include "hv/dev/dev.h"
#include "hv/lib/fmt.h"

void dev_warn(struct dev_log *l, unsigned kind, const char *fmt, ...)
{
	char line[160];
	va_list ap;

	if (!l || !l->emit || kind >= 32 || (l->said & (1u << kind)))
		return;
	l->said |= 1u << kind;
	va_start(ap, fmt);
	fmt_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l->emit(l->ctx, line);
}
