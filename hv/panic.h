/* panic: only for tern's own broken invariants, never for guest, network or console input. */
#ifndef TERN_PANIC_H
#define TERN_PANIC_H

#include "hv/types.h"

__noreturn void panic_at(const char *file, int line, const char *fmt, ...) __printf(3, 4);
#define panic(...) panic_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
