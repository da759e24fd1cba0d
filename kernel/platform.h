/* The guest-visible platform: port I/O devices, MMIO, MSRs, hypercalls. */
#ifndef NESTOR_PLATFORM_H
#define NESTOR_PLATFORM_H
#include <stdint.h>
#include <stdbool.h>
#include "kernel/vcpu.h"

uint32_t pio_read(struct vcpu *v, uint16_t port, unsigned size);
void pio_write(struct vcpu *v, uint16_t port, unsigned size, uint32_t val);
/* One line: the VM's accesses to ports with no device, by class (PIT, CMOS...). */
void pio_report_unassigned(const struct vm *vm);
bool io_string(struct vcpu *v, const struct vm_exit *e);   /* INS/OUTS, REP */
bool mmio_exit(struct vcpu *v, const struct vm_exit *e);   /* NPF: emulate or end the VM */
int msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);  /* -1: #GP */
/* MSRs the guest owns outright: the backends let it access them without
 * an exit (their guest values live in the VMCB/VMCS or are switched per
 * vCPU). */
extern const uint32_t guest_owned_msrs[];
extern const unsigned guest_owned_msrs_count;
int msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
long hypercall(struct vcpu *v, uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3);
#endif
