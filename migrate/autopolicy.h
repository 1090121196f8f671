/* The seed design's monitoring system inside tern: cheap measurements always on, and
 * a policy (off by default) that moves a VM when the host stays overloaded. The choice
 * itself is pure (migrate/policy.c); this file measures, asks and acts. */
#ifndef TERN_MIGRATE_AUTOPOLICY_H
#define TERN_MIGRATE_AUTOPOLICY_H

#include "hv/types.h"
#include "migrate/policy.h"

/* Once a second, from tern's loop. */
void autopolicy_tick(void);
/* The model's inputs for moving VM vm_id to ip, from what this host measured: the VM's
 * last sample (dirty rate and zero pages; its working set is taken as the whole RAM,
 * see model_wss()), the link to ip (the goodput of the last migration to it, or a
 * netperf probe) and its round trip, and the migration parameters. Whether all were
 * measured; what was not is left 0. */
bool autopolicy_model_in(int vm_id, uint32_t ip, struct precopy_in *in);
/* A migration to ip completed: the target acknowledged acked_bytes of pages and markers
 * in the ms of its iterative copy. Notes the link's speed in the model's unit. */
void autopolicy_migrated(uint32_t ip, uint64_t acked_bytes, uint64_t ms);
/* ... and the VM, at home on CPU home, dirtied copy_rate pages/s in round 1 (the whole
 * RAM read and sent: the longest window, the one the model's total hangs on) where the
 * policy had sampled `sampled` pages/s (0: never): the share the model expects of the
 * next VM there to migrate (`info policy`: copy-dirty-pct). */
void autopolicy_copied(uint32_t home, uint64_t sampled, uint64_t copy_rate);
/* What this host announces of itself for the balance rule: its load over load-window,
 * load-high, balance-margin and capacity. */
void autopolicy_end(struct policy_end *e);
/* For a policy's incoming migration from src_ip of a VM making vm_pct of load: whether
 * this host refuses it (then why, in words). It judges with policy_judge, the function
 * the source chose with, from the source's announcement and its own figures, so it
 * refuses for load only when the loads changed in between, and then says so. */
bool autopolicy_refuses(uint32_t src_ip, uint32_t vm_pct, char *why, size_t why_size);
/* A VM arrived on this host (its cooldown starts). */
void autopolicy_arrived(int vm_id);

int cmd_policy(int argc, char **argv);
int cmd_policy_set(int argc, char **argv);
int cmd_info_policy(int argc, char **argv);

#endif
