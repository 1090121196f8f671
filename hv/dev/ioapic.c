/* The I/O APIC (82093AA datasheet, 290566-001; sections cited as "DS"). */
#include <stdarg.h>
#include "hv/dev/ioapic.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

#define IOAPIC_VERSION 0x11u
#define IOAPIC_VER_VALUE ((IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION) /* DS 3.2.2 */
#define REDIR_LO_WMASK 0x1afffull /* vector, mode, dest mode, polarity, trigger, mask */
#define REDIR_HI_WMASK 0xff000000ull
#define REDIR_RSVD (~(REDIR_LO_WMASK | REDIR_HI_WMASK << 32 | IOAPIC_DELIVS | IOAPIC_REMOTE_IRR))
#define REDIR_MAX 0xff0000000001ffffull

enum { W_ACCESS, W_REGISTER, W_READONLY, W_MODE, W_NOWHERE };

static bool asserted(const struct ioapic *io, unsigned pin)
{
	bool high = io->s.pin_level >> pin & 1;

	return high ^ !!(io->s.redir[pin] & IOAPIC_POLARITY_LOW);
}

static unsigned redir_mode(uint64_t e)
{
	return (e >> IOAPIC_MODE_SHIFT) & 7;
}

/* Remote IRR and sending while asserted apply to fixed and lowest priority entries
 * that are level-triggered; SMI, NMI, INIT and ExtINT are edges (DS 3.2.4). */
static bool is_level(uint64_t e)
{
	unsigned mode = redir_mode(e);

	return (e & IOAPIC_LEVEL) && (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST);
}

/* Sends pin's message; true when an APIC took it. */
static bool send(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->s.redir[pin];
	struct apic_msg m = {
		.vector = e & IOAPIC_VECTOR,
		.mode = redir_mode(e),
		.level = is_level(e),
		.logical = !!(e & IOAPIC_LOGICAL),
		.shorthand = APIC_SH_NONE,
		.dest = e >> IOAPIC_DEST_SHIFT,
	};

	if (m.mode == 3 || m.mode == 6) {
		dev_warn(io->log, W_MODE, "ioapic: pin %u: reserved delivery mode %u", pin, m.mode);
		return false;
	}
	if (io->ops && io->ops->deliver && io->ops->deliver(io->ops->ctx, &m))
		return true;
	dev_warn(io->log, W_NOWHERE, "ioapic: pin %u: no APIC at %s destination 0x%x", pin,
		 m.logical ? "logical" : "physical", m.dest);
	return false;
}

/* A level entry sends while its pin is asserted, once per EOI. */
static void level_check(struct ioapic *io, unsigned pin)
{
	uint64_t *e = &io->s.redir[pin];

	if (!is_level(*e) || (*e & (IOAPIC_MASKED | IOAPIC_REMOTE_IRR)) || !asserted(io, pin))
		return;
	if (send(io, pin))
		*e |= IOAPIC_REMOTE_IRR;
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	bool was;

	if (pin >= IOAPIC_PINS)
		return;
	was = asserted(io, pin);
	io->s.pin_level = (io->s.pin_level & ~(1u << pin)) | (uint32_t)level << pin;
	if (is_level(io->s.redir[pin]))
		level_check(io, pin);
	else if (!was && asserted(io, pin) && !(io->s.redir[pin] & IOAPIC_MASKED))
		send(io, pin); /* an edge on a masked pin is lost (DS 3.2.4, mask bit) */
}

void ioapic_irq_line(void *ctx, unsigned pin, bool level)
{
	ioapic_set_irq(ctx, pin, level);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *e = &io->s.redir[pin];
		if (!(*e & IOAPIC_REMOTE_IRR) || (*e & IOAPIC_VECTOR) != vector)
			continue;
		*e &= ~IOAPIC_REMOTE_IRR;
		level_check(io, pin);
	}
}

/* One half of an entry: the writable bits from the guest, the status bits kept. */
static void write_redir(struct ioapic *io, unsigned pin, bool high, uint32_t v)
{
	uint64_t *e = &io->s.redir[pin];

	if (high) {
		*e = (*e & ~(REDIR_HI_WMASK << 32)) | ((uint64_t)v & REDIR_HI_WMASK) << 32;
		return;
	}
	*e = (*e & ~REDIR_LO_WMASK) | (v & REDIR_LO_WMASK);
	if (!is_level(*e))
		*e &= ~IOAPIC_REMOTE_IRR; /* remote IRR is undefined for edges: drop it */
	level_check(io, pin); /* unmasked while asserted: sent now */
}

static uint32_t read_reg(struct ioapic *io)
{
	uint8_t r = io->s.regsel;

	if (r >= IOAPIC_REG_REDIR && r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
		uint64_t e = io->s.redir[(r - IOAPIC_REG_REDIR) / 2];
		return r & 1 ? e >> 32 : (uint32_t)e;
	}
	switch (r) {
	case IOAPIC_REG_ID:
		return (uint32_t)io->s.id << 24;
	case IOAPIC_REG_VER:
		return IOAPIC_VER_VALUE;
	case IOAPIC_REG_ARB:
		return (uint32_t)io->s.arb << 24;
	default:
		dev_warn(io->log, W_REGISTER, "ioapic: read of register 0x%x, which is absent", r);
		return 0;
	}
}

static void write_reg(struct ioapic *io, uint32_t v)
{
	uint8_t r = io->s.regsel;

	if (r >= IOAPIC_REG_REDIR && r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
		write_redir(io, (r - IOAPIC_REG_REDIR) / 2, r & 1, v);
	} else if (r == IOAPIC_REG_ID) {
		io->s.id = (v >> 24) & 0xf;
		io->s.arb = io->s.id; /* DS 3.2.3: the ID write loads the arbitration ID */
	} else if (r == IOAPIC_REG_VER || r == IOAPIC_REG_ARB) {
		dev_warn(io->log, W_READONLY, "ioapic: write to read-only register 0x%x", r);
	} else {
		dev_warn(io->log, W_REGISTER, "ioapic: write to register 0x%x, which is absent", r);
	}
}

static bool access_ok(struct ioapic *io, uint32_t offset, unsigned size)
{
	if (size == 4 && (offset == IOAPIC_IOREGSEL || offset == IOAPIC_IOWIN ||
			  offset == IOAPIC_EOI))
		return true;
	dev_warn(io->log, W_ACCESS, "ioapic: %u-byte access at 0x%x ignored", size, offset);
	return false;
}

uint32_t ioapic_read(struct ioapic *io, uint32_t offset, unsigned size)
{
	if (!access_ok(io, offset, size))
		return 0;
	switch (offset) {
	case IOAPIC_IOREGSEL:
		return io->s.regsel;
	case IOAPIC_IOWIN:
		return read_reg(io);
	default:
		return 0; /* EOI is write-only */
	}
}

void ioapic_write(struct ioapic *io, uint32_t offset, unsigned size, uint32_t value)
{
	if (!access_ok(io, offset, size))
		return;
	switch (offset) {
	case IOAPIC_IOREGSEL:
		io->s.regsel = value & 0xff;
		break;
	case IOAPIC_IOWIN:
		write_reg(io, value);
		break;
	default:
		ioapic_eoi(io, value & 0xff);
		break;
	}
}

void ioapic_init(struct ioapic *io, const struct ioapic_ops *ops, struct dev_log *log)
{
	memset(io, 0, sizeof(*io));
	io->ops = ops;
	io->log = log;
	io->s.id = io->s.arb = IOAPIC_DEFAULT_ID;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->s.redir[pin] = IOAPIC_MASKED;
}

void ioapic_restore(struct ioapic *io)
{
	/* Messages are events, not levels: an entry that was owed one had sent it (and
	 * holds remote IRR) before the record was taken. */
	(void)io;
}

static bool ioapic_check(const void *rec, char *err, size_t n)
{
	const struct ioapic_state *s = rec;

	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = s->redir[pin];
		if (e & (REDIR_RSVD | IOAPIC_DELIVS)) {
			fmt_snprintf(err, n, "ioapic: redir[%u] = 0x%llx has reserved bits", pin,
				     (unsigned long long)e);
			return false;
		}
		if ((e & IOAPIC_REMOTE_IRR) && !is_level(e)) {
			fmt_snprintf(err, n, "ioapic: redir[%u] has remote IRR but is not level",
				     pin);
			return false;
		}
	}
	return true;
}

static const struct vms_field ioapic_fields[] = {
	VMS_ARRAY(struct ioapic_state, redir, REDIR_MAX),
	VMS_FIELD(struct ioapic_state, pin_level, (1u << IOAPIC_PINS) - 1),
	VMS_FIELD(struct ioapic_state, regsel, VMS_MAX8),
	VMS_FIELD(struct ioapic_state, id, 0xf),
	VMS_FIELD(struct ioapic_state, arb, 0xf),
};

const struct vms_desc ioapic_vms = {
	"ioapic", 1, sizeof(struct ioapic_state), ioapic_fields, ARRAY_SIZE(ioapic_fields),
	ioapic_check,
};
