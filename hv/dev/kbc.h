/* A minimal i8042 keyboard controller (0x60 data, 0x64 status/command) with no keyboard
 * or mouse behind it, and System Control Port A (0x92): what guests use at boot when
 * the FADT says there is no 8042 — the reset line, the A20 gate, and the handful of
 * controller commands firmware and kernels send before they find nothing attached.
 *
 * The controller answers commands at once: the input buffer is always empty, and a
 * reply waits in the output buffer (status bit 0) until read from 0x60. It raises no
 * interrupt: with no keyboard there is no data to signal, and boot code polls. A20 is
 * a latch read back as written: tern never masks address line 20. */
#ifndef TERN_DEV_KBC_H
#define TERN_DEV_KBC_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define KBC_DATA 0x60
#define KBC_CMD 0x64 /* write: command; read: status */
#define KBC_PORT_A 0x92

/* Status register */
#define KBC_STS_OBF (1u << 0)  /* a byte waits at 0x60 */
#define KBC_STS_IBF (1u << 1)  /* never: commands are taken at once */
#define KBC_STS_SYS (1u << 2)  /* the command byte's system flag */
#define KBC_STS_CMD (1u << 3)  /* the last write went to 0x64 */
#define KBC_STS_UNINHIBITED (1u << 4) /* keyboard not inhibited by the key lock */

/* Command byte (controller RAM byte 0) */
#define KBC_CB_INT (1u << 0)
#define KBC_CB_INT2 (1u << 1)
#define KBC_CB_SYS (1u << 2)
#define KBC_CB_KBD_OFF (1u << 4)
#define KBC_CB_AUX_OFF (1u << 5)
#define KBC_CB_XLATE (1u << 6)

/* Output port */
#define KBC_OUT_RESET (1u << 0) /* CPU reset line, active low */
#define KBC_OUT_A20 (1u << 1)

/* Port 0x92 */
#define KBC_PA_FAST_RESET (1u << 0) /* a 0 -> 1 write resets */
#define KBC_PA_A20 (1u << 1)

struct kbc_state {
	uint8_t ram[32];   /* controller RAM; byte 0 is the command byte */
	uint8_t outport;   /* output port */
	uint8_t obuf;      /* the output buffer */
	uint8_t obf;       /* 0/1: obuf not yet read */
	uint8_t last_cmd;  /* 0/1: the last write went to 0x64 (status bit 3) */
	uint8_t pending;   /* a command waiting for its data byte at 0x60, or 0 */
	uint8_t port_a;    /* port 0x92: fast reset and A20 */
};

struct kbc {
	struct kbc_state s;
	/* runtime */
	struct dev_log *log;
	void (*reset)(void *ctx);
	void *ctx;
};

extern const struct vms_desc kbc_vms; /* record "kbc" */

/* The state a BIOS leaves: command byte 0x45 (keyboard interrupt, system flag,
 * translation), A20 enabled on both gates, nothing to read. */
void kbc_init(struct kbc *k, struct dev_log *log, void (*reset)(void *ctx), void *ctx);

/* Byte accesses to 0x60, 0x64 and 0x92; other sizes read all ones, write nothing and
 * are logged once. */
void kbc_read(struct kbc *k, uint16_t port, unsigned size, uint32_t *value);
void kbc_write(struct kbc *k, uint16_t port, unsigned size, uint32_t value);

#endif
