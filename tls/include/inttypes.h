/* Everest's kremlin headers include <inttypes.h> for the fixed-width types; its PRI macros
 * serve only their debugging macros, which the x25519 code tern builds never expands. */
#include <stdint.h>
