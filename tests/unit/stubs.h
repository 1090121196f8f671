/* Hosted stand-ins for the few hardware-facing functions the pure code calls. */
#ifndef TERN_TEST_STUBS_H
#define TERN_TEST_STUBS_H

#include <stddef.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

/* Everything kprintf printed since the last stub_output_reset(). */
extern char stub_output[65536];
void stub_output_reset(void);

#endif
