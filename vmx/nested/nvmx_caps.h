/*
 * nvmx_caps: the VMX capabilities Nestor advertises to a nested L1 — its
 * IA32_VMX_* MSRs (SDM appendix A) — derived from the real CPU's.  Only
 * what Nestor emulates is offered: controls it passes through or
 * translates in the vmcs02 merge, EPT with what the EPT12 composer
 * handles, VPID and the INVEPT/INVVPID types vmx_insn implements.  The
 * must-be-one bits stay the CPU's (L1's controls become vmcs02's).
 *
 * Pure; tested in tests/unit/test_nvmx_caps.c.
 */
#ifndef NESTOR_VMX_NESTED_NVMX_CAPS_H
#define NESTOR_VMX_NESTED_NVMX_CAPS_H
#include <stdint.h>
#include "vmx/vmx_caps.h"

/* Fill *adv from the host's capabilities. */
void nvmx_advertise(const struct vmx_caps *hw, struct vmx_caps *adv);

/* The value of a VMX capability MSR (0x480-0x491) for L1, or -1 if the
 * MSR is not one L1's CPU has (e.g. the TRUE MSRs without BASIC bit 55). */
int nvmx_cap_msr(const struct vmx_caps *adv, uint32_t msr, uint64_t *val);
#endif
