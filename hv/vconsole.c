#include "hv/monitor.h"
#include "hv/vconsole.h"

void vcon_flush(struct vconsole *c, int vm_id)
{
	if (!c->len)
		return;
	c->line[c->len] = 0;
	mon_guest_line(vm_id, c->line);
	c->len = 0;
}

void vcon_put(struct vconsole *c, uint8_t byte, int vm_id)
{
	if (byte == '\n') {
		c->line[c->len] = 0;
		mon_guest_line(vm_id, c->line); /* an empty line still shows */
		c->len = 0;
		return;
	}
	if (byte == '\r')
		return;
	c->line[c->len++] = byte >= 0x20 && byte < 0x7f ? (char)byte : '?';
	if (c->len == VCON_LINE_MAX)
		vcon_flush(c, vm_id);
}
