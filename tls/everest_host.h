/* What Everest's kremlin headers ask of their host (kremlin/internal/target.h), for the x25519
 * code tern builds from mbedTLS's 3rdparty/everest; given to those files with -include.
 *
 * The one check that code makes (KRML_CHECK_SIZE, on constant sizes) never fails, so its
 * report is no report and its exit a trap: nothing of the C library is needed. kremlin's
 * clock serves F*'s own programs; x25519 never reads it. */
#ifndef TERN_TLS_EVEREST_HOST_H
#define TERN_TLS_EVEREST_HOST_H

#define KRML_HOST_PRINTF(...) ((void)0)
#define KRML_HOST_EPRINTF(...) ((void)0)
#define KRML_HOST_EXIT(code) __builtin_trap()
#define KRML_HOST_TIME krml_time_unused

#endif
