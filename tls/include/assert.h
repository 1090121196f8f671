/* mbedTLS includes <assert.h>; tern has no abort(), and mbedTLS's own checks return errors. Only
 * mbedTLS's objects and tls/ see this directory. */
#ifndef TERN_TLS_ASSERT_H
#define TERN_TLS_ASSERT_H
#define assert(x) ((void)0)
#define static_assert _Static_assert
#endif
