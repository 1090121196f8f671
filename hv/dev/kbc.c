/* The i8042 without devices, and port 0x92 (Intel PIIX3/PIIX4 and ICH datasheets, Port
 * 92h; the IBM PS/2 keyboard controller's command set). */
#include "hv/dev/kbc.h"
#include "hv/lib/fmt.h"

#define CB_BIOS (KBC_CB_INT | KBC_CB_SYS | KBC_CB_XLATE)
/* Idle keyboard and aux clock/data lines read high, the reset line is released, A20 on. */
#define OUT_DEFAULT (0xcc | KBC_OUT_RESET | KBC_OUT_A20)
#define PA_BITS (KBC_PA_FAST_RESET | KBC_PA_A20)

/* Commands that take a data byte at 0x60 */
#define CMD_WRITE_RAM 0x60 /* 0x60-0x7f: RAM byte (cmd - 0x60) */
#define CMD_WRITE_OUTPORT 0xd1

enum { W_SIZE, W_CMD, W_NO_KBD, W_A20, W_PORT_A };

void kbc_init(struct kbc *k, struct dev_log *log, void (*reset)(void *ctx), void *ctx)
{
	*k = (struct kbc){ .log = log, .reset = reset, .ctx = ctx };
	k->s.ram[0] = CB_BIOS;
	k->s.outport = OUT_DEFAULT;
	k->s.port_a = KBC_PA_A20;
}

static void reply(struct kbc *k, uint8_t v)
{
	k->s.obuf = v;
	k->s.obf = 1;
}

static void do_reset(struct kbc *k)
{
	if (k->reset)
		k->reset(k->ctx);
}

static void a20_off_warning(struct kbc *k, const char *where)
{
	dev_warn(k->log, W_A20, "kbc: A20 disabled through %s; tern does not mask address line 20",
		 where);
}

/* --- controller commands (written to 0x64) --- */

static void read_ram(struct kbc *k, uint8_t cmd)
{
	reply(k, k->s.ram[cmd & 0x1f]);
}

static void await_data(struct kbc *k, uint8_t cmd)
{
	k->s.pending = cmd;
}

static void aux_off(struct kbc *k, uint8_t cmd)
{
	k->s.ram[0] |= KBC_CB_AUX_OFF;
}

static void aux_on(struct kbc *k, uint8_t cmd)
{
	k->s.ram[0] &= (uint8_t)~KBC_CB_AUX_OFF;
}

static void kbd_off(struct kbc *k, uint8_t cmd)
{
	k->s.ram[0] |= KBC_CB_KBD_OFF;
}

static void kbd_on(struct kbc *k, uint8_t cmd)
{
	k->s.ram[0] &= (uint8_t)~KBC_CB_KBD_OFF;
}

static void self_test(struct kbc *k, uint8_t cmd)
{
	reply(k, 0x55); /* passed */
}

static void kbd_test(struct kbc *k, uint8_t cmd)
{
	reply(k, 0x00); /* no clock or data line stuck */
}

static void read_outport(struct kbc *k, uint8_t cmd)
{
	reply(k, k->s.outport);
}

/* 0xF0-0xFF pulse output port bits 0-3 low for 6 us where the command's bit is 0; only
 * bit 0, the reset line, is wired to anything. 0xFE is the usual reset. */
static void pulse(struct kbc *k, uint8_t cmd)
{
	if (!(cmd & KBC_OUT_RESET))
		do_reset(k);
}

static const struct {
	uint8_t first, last;
	void (*run)(struct kbc *k, uint8_t cmd);
} commands[] = {
	{ 0x20, 0x3f, read_ram },
	{ CMD_WRITE_RAM, 0x7f, await_data },
	{ 0xa7, 0xa7, aux_off },
	{ 0xa8, 0xa8, aux_on },
	{ 0xaa, 0xaa, self_test },
	{ 0xab, 0xab, kbd_test },
	{ 0xad, 0xad, kbd_off },
	{ 0xae, 0xae, kbd_on },
	{ 0xd0, 0xd0, read_outport },
	{ CMD_WRITE_OUTPORT, CMD_WRITE_OUTPORT, await_data },
	{ 0xf0, 0xff, pulse },
};

static void command(struct kbc *k, uint8_t cmd)
{
	k->s.pending = 0; /* a new command replaces one still waiting for its data */
	for (unsigned i = 0; i < ARRAY_SIZE(commands); i++) {
		if (cmd >= commands[i].first && cmd <= commands[i].last) {
			commands[i].run(k, cmd);
			return;
		}
	}
	dev_warn(k->log, W_CMD, "kbc: controller command 0x%x not modelled, ignored", cmd);
}

/* --- the data port --- */

/* Writing 0 to the reset bit asserts reset; the line is released once it is done. */
static void write_outport(struct kbc *k, uint8_t v)
{
	k->s.outport = v | KBC_OUT_RESET;
	if (!(v & KBC_OUT_A20))
		a20_off_warning(k, "the 8042 output port");
	if (!(v & KBC_OUT_RESET))
		do_reset(k);
}

static void data(struct kbc *k, uint8_t v)
{
	uint8_t cmd = k->s.pending;

	k->s.pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd <= CMD_WRITE_RAM + 0x1f)
		k->s.ram[cmd - CMD_WRITE_RAM] = v;
	else if (cmd == CMD_WRITE_OUTPORT)
		write_outport(k, v);
	else
		dev_warn(k->log, W_NO_KBD, "kbc: byte 0x%x for the keyboard dropped: there is none",
			 v);
}

/* --- port 0x92 --- */

/* Bit 0 resets on a 0 -> 1 write (ICH: INIT_NOW); bits 7-2 are reserved. */
static void port_a_write(struct kbc *k, uint8_t v)
{
	uint8_t old = k->s.port_a;

	if (v & ~PA_BITS)
		dev_warn(k->log, W_PORT_A, "kbc: reserved bits 0x%x written to port 0x92",
			 v & ~PA_BITS);
	k->s.port_a = v & PA_BITS;
	if (!(v & KBC_PA_A20))
		a20_off_warning(k, "port 0x92");
	if ((v & KBC_PA_FAST_RESET) && !(old & KBC_PA_FAST_RESET))
		do_reset(k);
}

/* --- accesses --- */

static bool bad_access(struct kbc *k, uint16_t port, unsigned size, const char *what)
{
	if (size == 1 && (port == KBC_DATA || port == KBC_CMD || port == KBC_PORT_A))
		return false;
	dev_warn(k->log, W_SIZE, "kbc: %u-byte %s at port 0x%x ignored", size, what, port);
	return true;
}

static uint8_t status(const struct kbc *k)
{
	return (uint8_t)((k->s.obf ? KBC_STS_OBF : 0) | (k->s.ram[0] & KBC_CB_SYS) |
			 (k->s.last_cmd ? KBC_STS_CMD : 0) | KBC_STS_UNINHIBITED);
}

void kbc_read(struct kbc *k, uint16_t port, unsigned size, uint32_t *value)
{
	if (bad_access(k, port, size, "read")) {
		*value = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
		return;
	}
	if (port == KBC_CMD) {
		*value = status(k);
	} else if (port == KBC_PORT_A) {
		*value = k->s.port_a;
	} else {
		*value = k->s.obuf; /* read again when empty, the last byte (no new data) */
		k->s.obf = 0;
	}
}

void kbc_write(struct kbc *k, uint16_t port, unsigned size, uint32_t value)
{
	uint8_t v = (uint8_t)value;

	if (bad_access(k, port, size, "write"))
		return;
	if (port == KBC_PORT_A) {
		port_a_write(k, v);
	} else if (port == KBC_CMD) {
		k->s.last_cmd = 1;
		command(k, v);
	} else {
		k->s.last_cmd = 0;
		data(k, v);
	}
}

/* --- the record --- */

static bool check(const void *rec, char *err, size_t n)
{
	const struct kbc_state *s = rec;
	uint8_t p = s->pending;

	if (p && !(p >= CMD_WRITE_RAM && p <= CMD_WRITE_RAM + 0x1f) && p != CMD_WRITE_OUTPORT) {
		fmt_snprintf(err, n, "kbc: pending = 0x%x is no command awaiting data", p);
		return false;
	}
	if (!(s->outport & KBC_OUT_RESET)) {
		fmt_snprintf(err, n, "kbc: outport = 0x%x holds the CPU in reset", s->outport);
		return false;
	}
	return true;
}

static const struct vms_field fields[] = {
	VMS_BYTES(struct kbc_state, ram),
	VMS_FIELD(struct kbc_state, outport, VMS_MAX8),
	VMS_FIELD(struct kbc_state, obuf, VMS_MAX8),
	VMS_FIELD(struct kbc_state, obf, 1),
	VMS_FIELD(struct kbc_state, last_cmd, 1),
	VMS_FIELD(struct kbc_state, pending, CMD_WRITE_OUTPORT),
	VMS_FIELD(struct kbc_state, port_a, PA_BITS),
};

const struct vms_desc kbc_vms = { "kbc", 1, sizeof(struct kbc_state), fields,
				  ARRAY_SIZE(fields), check };
