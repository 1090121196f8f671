/* Monitor command handlers for VMs (hv/mon_vm.c), listed in hv/mon_cmds.c's table. */
#ifndef TERN_MON_VM_H
#define TERN_MON_VM_H

int cmd_info_modules(int argc, char **argv);
int cmd_info_vms(int argc, char **argv);
int cmd_vm_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_cont(int argc, char **argv);
int cmd_kill(int argc, char **argv);

#endif
