/* Which virtualization backend runs the guests: chosen once from CPUID. */
#ifndef NESTOR_BACKEND_H
#define NESTOR_BACKEND_H
#include <stdbool.h>
#include "kernel/vcpu.h"

/* SVM with NPT on AMD; VMX with EPT, VPID and unrestricted guest on Intel.
 * Sets vcpu_ops; false when this CPU offers neither. */
bool backend_choose(void);

/* Nested VMX without the CPU's VMCS shadowing (config `vmcs_shadow = off`),
 * to measure what shadowing saves (vmx/nested/nvmx.c). */
extern bool nvmx_shadowing_off;
#endif
