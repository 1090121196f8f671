/* tern's network: finds the NIC, runs lwIP on it from tern's loop, and serves the
 * monitor's network commands. */
#ifndef TERN_NET_H
#define TERN_NET_H

#include "hv/types.h"

/* TCP port on which every tern host serves netperf. */
#define NET_NETPERF_PORT 5001

/* Reads ip=, gw=, mac= from the command line, finds and starts the NIC. Without a NIC,
 * or with bad words, it says so and tern runs on without network. */
void net_init(const char *cmdline);
/* Services the NIC and lwIP's timers; called from tern's loop, never blocks. */
void net_poll(void);
/* A frame arrived within the last few milliseconds: traffic is flowing, so the loop
 * should poll again at once rather than sleep. */
bool net_active(void);
/* Whether the stack is up with an address (for ping, netperf). Prints why not. */
bool net_ready(void);
/* Whether a NIC was found and lwIP runs on it (quietly: for listeners at boot). */
bool net_has_nic(void);
/* One turn of tern's loop for long commands (ping, netperf): the network, then a guest
 * slice, so guests keep running while the monitor waits. */
void net_wait_step(void);

/* A netperf transfer to another tern host, the same measurement as the monitor's
 * command (the migration engine uses it to learn the link's speed). */
#define NETPERF_MAX_MIB 1024
struct netperf_result {
	uint64_t bytes;      /* data sent (without the header) */
	uint64_t acked;      /* data the peer acknowledged, when it failed */
	uint64_t ms;         /* from connection set-up to the peer's confirmation */
	uint64_t kb_per_s;   /* 10^3 bytes a second */
	const char *error;   /* why it failed, or NULL */
};
/* Runs the transfer, serving the network and guests meanwhile; bounded: a peer silent
 * for 10 s ends it. Returns 0, or a negative error with res->error saying why. */
int netperf_run(uint32_t ip, uint32_t mib, struct netperf_result *res);

int cmd_info_net(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_netperf(int argc, char **argv);
/* The netperf server (net/netperf.c), started by net_init. */
int netperf_listen(void);

#endif
