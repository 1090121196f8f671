/* tern's command line: space-separated words, each `key=value` or a bare `key`.
 * Later words win over earlier ones with the same key. Pure; tested hosted. */
#ifndef TERN_CMDLINE_H
#define TERN_CMDLINE_H

#include "hv/types.h"

/* Copies the value of `key` into val (terminated, truncated to size-1) and returns true
 * when present; a bare `key` gives "". */
bool cmdline_get(const char *cmdline, const char *key, char *val, size_t size);

/* Copies cmdline to out (terminated, truncated to size-1) with the value of every
 * `key=` word replaced by "...": for printing a command line that holds a secret. */
void cmdline_redact(char *out, size_t size, const char *cmdline, const char *key);

/* Parses an unsigned number: decimal, or hex with 0x. Rejects junk and overflow. */
bool parse_u64(const char *s, uint64_t *out);

#endif
