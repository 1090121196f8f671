/* lwIP includes <stdlib.h> for atoi (netif_find) only; net/sys_arch.c has it. */
#ifndef TERN_LWIP_STDLIB_H
#define TERN_LWIP_STDLIB_H
int atoi(const char *s);
#endif
