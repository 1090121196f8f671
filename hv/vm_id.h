/* VM ids: 1, 2, ... VM_ID_MAX, then 1 again, never one a VM still holds. Every
 * reservation an incoming migration makes takes one, so a peer that reserves and aborts
 * in a loop walks through them; they must never wrap into an id a live VM (or one still
 * listed as ended) has. Pure, tested hosted. */
#ifndef TERN_VM_ID_H
#define TERN_VM_ID_H

#include "hv/types.h"

#define VM_ID_MAX 0x7fffffff

/* The first id from *next on that held(id, ctx) says no VM has, wrapping after
 * VM_ID_MAX to 1; *next then follows it. The caller holds fewer than VM_ID_MAX ids, so
 * one is always free. */
int vm_id_take(int *next, bool (*held)(int id, void *ctx), void *ctx);

#endif
