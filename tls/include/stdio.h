/* Everest's kremlin headers include <stdio.h> for the printf and exit of their debugging and
 * abort macros, which the x25519 code tern builds never expands, and name FILE in typedefs
 * nothing uses: an incomplete type is all they need. */
#ifndef TERN_TLS_STDIO_H
#define TERN_TLS_STDIO_H
typedef struct tern_no_file FILE;
#endif
