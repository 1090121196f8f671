/* Host discovery on the LAN (migrate/discovery.c); the announcement codec and the peer
 * table are in migrate/announce.h. */
#ifndef TERN_MIGRATE_DISCOVERY_H
#define TERN_MIGRATE_DISCOVERY_H

#include "migrate/announce.h"

void discovery_init(uint16_t migrate_port);
/* Announces every ANNOUNCE_PERIOD_MS and forgets silent peers; from tern's loop. */
void discovery_poll(void);
/* What the last migration (or probe) to ip measured. */
void discovery_note_link(uint32_t ip, uint64_t bytes_per_s);
const struct peer *discovery_peers(void);
/* Announces this host at once: a policy does before it asks a peer to take a VM, so
 * that the peer judges the request from the load the choice was made with. */
void discovery_announce_now(void);
/* What this host announced last (all zero before the first). */
const struct announce *discovery_self(void);

int cmd_info_hosts(int argc, char **argv);

#endif
