/* lwIP's configuration for tern: no OS (NO_SYS=1, raw API, polled from tern's loop),
 * IPv4 only, sized for bulk TCP between tern hosts (migration streams). lwIP's own
 * defaults (lwip/opt.h) cover everything not named here. */
#ifndef TERN_LWIPOPTS_H
#define TERN_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0 /* one CPU, no interrupt handlers touch lwIP */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ICMP 1
#define LWIP_RAW 1 /* ICMP echo: ping's, and discovery's round-trip probes */
#define LWIP_UDP 1 /* DHCP */
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_SINGLE_NETIF 1
#define LWIP_RAND() net_rand()

/* Memory: lwIP's heap and pools are static arrays in tern's image. */
#define MEM_ALIGNMENT 8
#define MEM_SIZE (1024 * 1024)
#define MEMP_NUM_PBUF 64
#define MEMP_NUM_TCP_PCB 8
#define MEMP_NUM_TCP_PCB_LISTEN 4
#define MEMP_NUM_RAW_PCB 2
#define PBUF_POOL_SIZE 512
#define PBUF_POOL_BUFSIZE 1536

/* Bulk TCP: a window that keeps ~44 full segments in flight (no window scaling needed
 * below 64 KiB), and a send buffer to match so tcp_write seldom has to wait. */
#define TCP_MSS 1460
#define TCP_WND (44 * TCP_MSS)
#define TCP_SND_BUF (44 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
/* Segments come from one pool for every connection: room for three full queues, so a
 * connection to a peer that vanished, retransmitting for minutes, cannot starve the
 * next one. */
#define MEMP_NUM_TCP_SEG (3 * TCP_SND_QUEUELEN)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 0

#define LWIP_CHKSUM_ALGORITHM 3 /* 32 bits at a time */

#define ARP_TABLE_SIZE 16
#define ARP_QUEUEING 1
#define ETH_PAD_SIZE 0

#define LWIP_NETIF_HOSTNAME 0
#define LWIP_NETIF_API 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0

#ifndef __ASSEMBLER__
unsigned int net_rand(void);
#endif

#endif
