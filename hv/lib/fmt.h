/* printf-style formatting for tern and, later, lwIP; pure, so it is tested hosted. */
#ifndef TERN_FMT_H
#define TERN_FMT_H

#include <stdarg.h>
#include "hv/types.h"

typedef void (*fmt_put_fn)(char c, void *ctx);

/* Formats to a sink, one character at a time; returns the number of characters.
 * Supports %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ', width, precision
 * (also '*'), and the length modifiers hh h l ll z. */
int fmt_vformat(fmt_put_fn put, void *ctx, const char *fmt, va_list ap);

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

#endif
