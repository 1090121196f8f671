/* The guest runtime: what every test guest gets from guests/lib (like Jailhouse's
 * inmates library). The devices used are the ones tern offers every VM: a 16550 at
 * COM1 and an exit port at 0xF4 (QEMU: isa-debug-exit), so guests also run in QEMU. */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include "hv/types.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "guests/lib/io.h"
#include "guests/lib/multiboot.h"

#define COM1 0x3F8
#define EXIT_PORT 0xF4

/* Exit statuses shared by all guests */
#define EXIT_PASS 0
#define EXIT_FAIL 1
#define EXIT_EXCEPTION 3

/* Each guest defines this; crt0 calls it with the boot loader's EAX and EBX. */
void guest_main(uint32_t magic, struct mb_info *mbi);
/* A guest with a 64-bit part defines this too; enter_long_mode() calls it. */
void guest_main64(void *arg);

void serial_putc(char c);
void serial_puts(const char *s);
/* Reads a line (up to \n or \r, which are dropped) by polling, echoing nothing; keeps
 * the first size - 1 characters of a longer line. Returns the length kept. */
size_t serial_getline(char *buf, size_t size);
int printf(const char *fmt, ...) __printf(1, 2);
int vprintf(const char *fmt, va_list ap);

/* Writes status to the exit port; if nothing ends the VM there, halts forever. */
__noreturn void exit(int status);

/* Prints "FAIL <file>:<line>: <cond>" and exits with status 1. */
#define EXPECT(cond)                                                             \
	do {                                                                     \
		if (!(cond))                                                     \
			expect_failed(__FILE__, __LINE__, #cond);                \
	} while (0)
__noreturn void expect_failed(const char *file, int line, const char *cond);

/* Command line: "<image-name> key=value key=value ...". */
const char *mb_cmdline(const struct mb_info *mbi); /* "" when there is none */
const char *cmdline_args(const char *cmdline);     /* skips the image name, if any */
/* Copies the value of key into val; returns false when key is absent. */
bool arg_str(const char *args, const char *key, char *val, size_t size);
/* A number, decimal or 0x hex; a malformed one is a FAIL (exit 1), not a default. */
uint32_t arg_u32(const char *args, const char *key, uint32_t def);
/* Parses a decimal or 0x hex number ending at end (or NUL); false if malformed. */
bool parse_u32(const char *s, const char *end, uint32_t *val);

/* Top of RAM from mem_upper (RAM is contiguous from 1 MiB up to there). */
uint32_t mb_ram_top(const struct mb_info *mbi);

/* Symbols from guest.ld */
extern char _start[], _data[], _end[];

#endif
