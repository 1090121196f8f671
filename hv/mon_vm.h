/* Monitor command handlers for VMs (hv/mon_vm.c), listed in hv/mon_cmds.c's table. */
#ifndef TERN_MON_VM_H
#define TERN_MON_VM_H

#include "hv/types.h"

struct vm;

/* Whether the operator may pause, resume, end or track the VM; false after saying what
 * holds it instead (a migration: hv/vm.h, struct vm_owner). */
bool mon_vm_free(const struct vm *vm);
/* The VM a one-argument command names; NULL after printing the usage or that it is
 * not there. */
struct vm *mon_vm_target(int argc, char **argv, const char *cmd);

int cmd_info_modules(int argc, char **argv);
int cmd_info_vms(int argc, char **argv);
int cmd_info_apic(int argc, char **argv);
int cmd_info_registers(int argc, char **argv); /* hv/mon_regs.c */
int cmd_vm_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_cont(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_vm_send(int argc, char **argv);
int cmd_console(int argc, char **argv);
/* hv/mon_dirty.c */
int cmd_dirty_start(int argc, char **argv);
int cmd_dirty_stop(int argc, char **argv);
int cmd_dirty_sync(int argc, char **argv);
int cmd_dirty_dump(int argc, char **argv);
int cmd_info_dirty(int argc, char **argv);
int cmd_info_shadow(int argc, char **argv);

#endif
