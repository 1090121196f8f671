/* lwIP's compiler and platform port for tern: freestanding, little-endian x86-64,
 * diagnostics to tern's console, assertions into panic (they mean lwIP's own state is
 * broken, never that a packet was bad: lwIP checks those itself). */
#ifndef TERN_LWIP_CC_H
#define TERN_LWIP_CC_H

#include <stddef.h>
#include <stdint.h>

/* No inttypes.h or ctype.h in a freestanding build: lwIP then takes these from us. */
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_LIMITS_H 1 /* gcc's limits.h wants the C library's */
#define INT_MAX __INT_MAX__
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "lu"

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_ERR_T int

int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void panic_at(const char *file, int line, const char *fmt, ...);

/* LWIP_PLATFORM_DIAG(x) gets a parenthesized printf argument list. */
#define LWIP_PLATFORM_DIAG(x) \
	do {                  \
		kprintf x;    \
	} while (0)
#define LWIP_PLATFORM_ASSERT(x) panic_at(__FILE__, __LINE__, "lwip: %s", x)

#endif
