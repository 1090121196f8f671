/* Parsing `vm start` arguments: pure, tested hosted.
 *   vm start <image> [mem=MiB] [name=NAME] [mod=IMAGE ...] [initrd=IMAGE]
 *            [cpu=N] [-- guest command line] */
#ifndef TERN_VM_ARGS_H
#define TERN_VM_ARGS_H

#include "hv/vm.h"

#define VM_DEFAULT_MEM_MIB 16
#define VM_MAX_MEM_MIB 65536
#define VM_CPU_LIMIT 4096 /* cpu= above any host's CPU count: refused while parsing */

/* Fills a from argv (the words after "vm start"); the guest command line is joined into
 * cmdline_buf. Returns 0, or -E_INVAL with a message in err. */
int vm_parse_start(int argc, char **argv, struct vm_start_args *a, char *cmdline_buf,
		   size_t cmdline_size, char *err, size_t err_size);
/* A VM name: 1..31 of [A-Za-z0-9_.-], not all digits (those are ids). */
bool vm_name_valid(const char *name);

#endif
