#ifndef NESTOR_VM_H
#define NESTOR_VM_H
#include "kernel/vcpu.h"
#include "kernel/boot_info.h"

/* kernel/vm.c: the VM objects. */
int vm_create(struct vm *vm, const struct vm_config *cfg, unsigned id, const struct boot_info *bi);
void vm_print_exit_table(struct vm *vm);
unsigned vms_alive(void);            /* VMs created and not yet ended */

/* kernel/run_loop.c: create every VM of the configuration, run them on the
 * physical CPUs until all have ended, print their exit tables.  Returns the
 * number of VMs that failed to start. */
int vms_run(const struct nestor_config *cfg, const struct boot_info *bi);
#endif
