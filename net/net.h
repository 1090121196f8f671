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
 * should not sleep longer than a frame's round trip. */
bool net_active(void);
/* Frames received and sent so far: a loop turn that changed it moved traffic. */
uint64_t net_frames(void);
/* Whether the stack is up with an address (for ping, netperf). Prints why not. */
bool net_ready(void);
/* Whether a NIC was found and lwIP runs on it (quietly: for listeners at boot). */
bool net_has_nic(void);
/* The monitor's long commands (ping, netperf) hold the console while they run and are
 * driven from net_poll: tern's loop never waits on a peer. */
void ping_poll(void);
void netperf_cmd_poll(void);

/* A netperf transfer to another tern host, the same measurement as the monitor's
 * command (the policy uses it to learn a link's speed). */
#define NETPERF_MAX_MIB 1024
#define NETPERF_RUNNING 1
struct netperf_result {
	uint64_t bytes;      /* data sent (without the header) */
	uint64_t acked;      /* data the peer acknowledged, when it failed */
	uint64_t ms;         /* from connection set-up to the peer's confirmation */
	uint64_t kb_per_s;   /* 10^3 bytes a second */
	const char *error;   /* why it failed, or NULL */
};
struct tcp_pcb;
/* One transfer's state; lwIP's callbacks hold its address, so it must stay put (static)
 * from netperf_start until netperf_poll said it ended or netperf_cancel. */
struct netperf {
	struct tcp_pcb *pcb;    /* NULL once let go (or freed by lwIP) */
	uint64_t total, queued; /* data bytes to send, handed to lwIP so far */
	uint64_t acked;         /* bytes the peer acknowledged (with the header) */
	bool active, hdr_sent, connected, done;
	const char *error;      /* set once; ends the transfer */
	uint32_t reply_got;
	uint64_t start_ms, end_ms, progress_ms;
};
/* Connects and begins sending mib MiB; returns 0, or a negative error with np->error
 * saying why (nothing then to poll or cancel). */
int netperf_start(struct netperf *np, uint32_t ip, uint32_t mib);
/* Never waits: NETPERF_RUNNING while the transfer goes on; then, once, 0 with res's
 * figures or a negative error with res->error (a peer silent for 10 s ends it). */
int netperf_poll(struct netperf *np, struct netperf_result *res);
/* Ends a transfer now (its poll then reports why); harmless on one that ended. */
void netperf_cancel(struct netperf *np, const char *why);

int cmd_info_net(int argc, char **argv);
int cmd_ping(int argc, char **argv);
int cmd_netperf(int argc, char **argv);
/* The netperf server (net/netperf.c), started by net_init. */
int netperf_listen(void);

#endif
