#include "hv/monitor.h"
#include "hv/vdev.h"
#include "hv/vm.h"

static void log_unhandled(struct vm *vm, uint16_t port, bool in)
{
	uint8_t bit = (uint8_t)(1u << (port % 8));

	if (!vm->ports_logged || (vm->ports_logged[port / 8] & bit))
		return;
	vm->ports_logged[port / 8] |= bit;
	mon_event("vm%d: %s of unhandled I/O port 0x%x (%s; reported once)", vm->id,
		  in ? "read" : "write", port, in ? "reads as all ones" : "write dropped");
}

bool vdev_io(struct vm *vm, uint16_t port, unsigned size, bool in, uint32_t *val)
{
	if (port >= VUART_BASE && port < VUART_BASE + 8) {
		/* The UART's registers are bytes; a wider access touches the first only. */
		if (in)
			*val = vuart_read(&vm->uart, port - VUART_BASE);
		else
			vuart_write(&vm->uart, port - VUART_BASE, (uint8_t)*val, vm->id);
		return true;
	}
	if (port == VDEV_EXIT_PORT) {
		if (in) {
			*val = 0xffffffffu;
			return true;
		}
		vm_exit_status(vm, size == 4 ? *val : *val & ((1u << (8 * size)) - 1));
		return false;
	}
	log_unhandled(vm, port, in);
	if (in)
		*val = 0xffffffffu;
	return true;
}
