/* GCC's freestanding <limits.h> defines every limit itself once told there is no libc one to
 * chain to (else it #include_next's a <limits.h> that a freestanding build does not have). */
#define _LIBC_LIMITS_H_
#include_next <limits.h>
