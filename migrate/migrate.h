/* Live migration between tern hosts, in the six stages of the seed design:
 * initialization, reservation, iterative copy, stop-and-copy, commitment, activation.
 * Until the target confirms commitment the source owns the VM: any failure before it
 * resumes the VM on the source and the target throws its partial copy away. */
#ifndef TERN_MIGRATE_H
#define TERN_MIGRATE_H

#include "hv/types.h"

#define MIGRATE_PORT 4444
#define MIGRATE_MAX_ROUNDS 30
#define MIGRATE_DOWNTIME_MS 300   /* default limit, as QEMU */
#define MIGRATE_STALL_MS 15000    /* no progress this long: the peer is gone */
/* At most this much of a turn of tern's loop goes to moving pages, so the host's guests
 * keep their turn: sealing or opening a whole window of TLS records in one turn, a 100 Hz
 * ticker beside the migration missed 31 ticks in the second of its crossing (19 with this,
 * most of them the handshake's). */
#define MIGRATE_SLICE_US 1000

enum mig_stage {
	MIG_NONE,
	MIG_INIT,      /* connecting */
	MIG_RESERVE,   /* the target is checking it can host the VM */
	MIG_ITERATE,   /* rounds of dirty pages while the VM runs */
	MIG_STOPCOPY,  /* VM paused: last pages, state, digest */
	MIG_COMMIT,    /* waiting for the target to confirm a complete, checked image */
	MIG_ACTIVATE,  /* the target owns the VM and starts it */
	MIG_DONE,
	MIG_FAILED,
};

const char *mig_stage_name(enum mig_stage s);

/* Starts listening for incoming migrations (migrate-port= on the command line). */
void migrate_init(const char *cmdline);
/* Advances both directions; called from tern's loop. */
void migrate_poll(void);

/* The source side (migrate/send.c). */
/* load_check: the VM's load (% of a CPU) for a policy's migration, which the target
 * refuses if it would overload it; 0 for an operator's. */
int mig_send_start(const char *vm, uint32_t ip, uint16_t port, uint32_t load_check, char *err,
		   size_t err_size);
void mig_send_poll(void);
int mig_send_cancel(const char *vm, char *err, size_t err_size);
/* Whether a migration from this host is under way (from `migrate` until it completes or
 * fails); its VM is held meanwhile (hv/vm.h, struct vm_owner: vm->owner is set). */
bool mig_send_busy(void);
/* The target side (migrate/recv.c). */
int mig_recv_listen(uint16_t port);
void mig_recv_poll(void);
/* Whether a VM is on its way in: reserved here, not yet activated (a connection that has
 * not reserved does not count, so a stranger who only connects changes nothing that
 * peers hear). A host takes up to MIG_IN_MAX at once, from different hosts: a slow peer,
 * or a stranger who only connects, holds one slot, not the host. */
#define MIG_IN_MAX 4
bool mig_recv_busy(void);

int cmd_migrate(int argc, char **argv);
int cmd_migrate_cancel(int argc, char **argv);
int cmd_migrate_set_parameter(int argc, char **argv);
int cmd_info_migrate(int argc, char **argv);
/* `info net`: the NIC's lines (net/net.c), then whether a cluster key is set. */
int cmd_info_net_cluster(int argc, char **argv);

#endif
