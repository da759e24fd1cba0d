/*
 * Interrupts for vCPUs: the virtual LAPIC of each vCPU
 * (drivers/platform/vlapic.c) wired to the run loop — timer expiry,
 * delivery through the backend's event injection, HLT wake-up, IPIs
 * between vCPUs and INIT-SIPI start-up of APs.
 */
#ifndef NESTOR_VINTR_H
#define NESTOR_VINTR_H
#include <stdint.h>
#include <stdbool.h>

struct vcpu;
struct vm;

void vintr_vcpu_init(struct vcpu *v);      /* power-on LAPIC state */
/* Before entering the guest (owner pCPU): INIT/SIPI requests, the timer,
 * and injecting the highest pending interrupt if the guest can take it. */
void vintr_before_entry(struct vcpu *v);
bool vintr_runnable(struct vcpu *v);        /* not halted / waiting for SIPI */
uint64_t vintr_next_deadline(struct vcpu *v); /* TSC of its next timer event */
void vintr_kick(struct vcpu *v);            /* make its pCPU look again */
/* Guest accesses routed here (exits.c, mmio.c, msr.c). */
int vintr_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val); /* -1: not the APIC page */
int vintr_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val, bool *handled);
int vintr_msr_write(struct vcpu *v, uint32_t msr, uint64_t val, bool *handled);
/* An interrupt message from a device (IOAPIC) to the VM's LAPICs. */
void vintr_deliver(struct vm *vm, uint32_t dest, bool logical, uint8_t mode, uint8_t vector, bool level);
#endif
