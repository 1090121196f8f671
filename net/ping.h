/* ICMP echo, shared by the ping command and discovery's round-trip probes. */
#ifndef TERN_NET_PING_H
#define TERN_NET_PING_H

#include "hv/types.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"

/* lwIP hands a raw PCB the whole IPv4 packet after checking its IP header, but before
 * anything looked at the ICMP part. Reads the echo header after the IP header with
 * bounds checks into h; true when it is an echo reply carrying identifier id (host
 * order). */
bool net_echo_reply(const struct pbuf *p, u16_t id, struct icmp_echo_hdr *h);

#endif
