/*
 * msr_rules: which values a guest may write into an MSR that Nestor keeps
 * for it (kernel/msr.c holds the table and the vCPU state).  Pure, so the
 * host unit tests check the architectural rules (tests/unit/test_msr_rules.c).
 */
#ifndef NESTOR_KERNEL_MSR_RULES_H
#define NESTOR_KERNEL_MSR_RULES_H

#include <stdbool.h>
#include <stdint.h>

/* DEBUGCTL (0x1d9).  AMD: LBR bit 0, BTF bit 1, PB0-PB3 bits 2-5, the rest
 * reserved (APM vol. 2 13.1.1.6).  Intel IA32_DEBUGCTL: LBR, BTF, TR, BTS,
 * BTINT, BTS_OFF_OS, BTS_OFF_USR, FREEZE_LBRS_ON_PMI, FREEZE_PERFMON_ON_PMI,
 * FREEZE_WHILE_SMM, RTM_DEBUG (SDM vol. 3 17.4.1; bit 13, uncore PMI, is
 * not offered).  A write with another bit set raises #GP. */
#define DEBUGCTL_AMD_VALID   0x3full
#define DEBUGCTL_INTEL_VALID 0xdfc3ull

/* May the guest write val into DEBUGCTL on this vendor's CPU? */
bool msr_debugctl_write_ok(bool intel, uint64_t val);

#endif
