/* Basic types shared by every part of tern; freestanding headers only. */
#ifndef TERN_TYPES_H
#define TERN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ULL
#define PAGE_SHIFT 12
#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
/* x / d rounded up, without the overflow of (x + d - 1) / d near the type's top */
#define DIV_UP(x, d) ((x) / (d) + ((x) % (d) != 0))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define __packed __attribute__((packed))
#define __noreturn __attribute__((noreturn))
#define __printf(f, a) __attribute__((format(printf, f, a)))

/* Host-physical and guest-physical addresses are different things; wrapping them in
 * distinct structs makes mixing them a compile error (style.md, rule 6). */
typedef struct { uint64_t v; } hpa_t;
typedef struct { uint64_t v; } gpa_t;

static inline hpa_t hpa(uint64_t v) { return (hpa_t){ v }; }
static inline gpa_t gpa(uint64_t v) { return (gpa_t){ v }; }

#endif
