#ifndef NESTOR_VM_H
#define NESTOR_VM_H
#include "kernel/vcpu.h"
#include "kernel/boot_info.h"

/* Create every VM of the configuration, run them on the physical CPUs
 * until all have ended, print their exit tables.  Returns the number of
 * VMs that failed to start. */
int vms_run(const struct nestor_config *cfg, const struct boot_info *bi);
#endif
