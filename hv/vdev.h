/* Port I/O from guests: the devices a VM has, and what happens elsewhere. */
#ifndef TERN_VDEV_H
#define TERN_VDEV_H

#include "hv/types.h"

#define VDEV_EXIT_PORT 0xf4 /* as QEMU's isa-debug-exit */

struct vm;

/* Handles one IN or OUT of size 1, 2 or 4. Returns false when the VM stopped running. */
bool vdev_io(struct vm *vm, uint16_t port, unsigned size, bool in, uint32_t *val);

#endif
