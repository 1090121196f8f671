/* Parsing the network words of tern's command line and the monitor's arguments. Pure;
 * tested hosted. Addresses are in host order (10.0.0.1 is 0x0a000001). */
#ifndef TERN_NET_ADDR_H
#define TERN_NET_ADDR_H

#include "hv/types.h"

/* Exactly four decimal parts 0..255, no leading zeros beyond "0" itself. */
bool net_parse_ip4(const char *s, uint32_t *ip);
/* "A.B.C.D/N", N 0..32; a bare address gets /24. */
bool net_parse_cidr(const char *s, uint32_t *ip, unsigned *prefix);
/* "aa:bb:cc:dd:ee:ff", hex digits, unicast (bit 0 of the first byte clear). */
bool net_parse_mac(const char *s, uint8_t mac[6]);
uint32_t net_prefix_mask(unsigned prefix);
/* "A.B.C.D" into buf (16 bytes hold any). */
void net_format_ip4(char *buf, size_t n, uint32_t ip);

#endif
