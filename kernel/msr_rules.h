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

/* IA32_MISC_ENABLE (0x1a0, SDM vol. 4 table 2-2), Intel only: AMD CPUs lack
 * it and raise #GP.  Linux's verify_cpu reads it with a plain RDMSR on any
 * GenuineIntel family-6 model >= 0xd CPU, before it has an IDT, to clear
 * XD Bit Disable (bit 34); early_init_intel reads Fast-Strings Enable
 * (bit 0).  The vCPU resets with fast strings on and BTS (bit 11) and PEBS
 * (bit 12) reported unavailable; Performance Monitoring Available (bit 7),
 * Enhanced SpeedStep (16), MONITOR FSM (18), Limit CPUID Maxval (22),
 * xTPR disable (23) and XD disable (34) read 0.  Only fast strings may be
 * changed: Nestor does not emulate what the others switch, so a write that
 * changes any other bit raises #GP, as on a CPU without that feature. */
#define MISC_ENABLE_FAST_STRING     (1ull << 0)
#define MISC_ENABLE_BTS_UNAVAIL     (1ull << 11)
#define MISC_ENABLE_PEBS_UNAVAIL    (1ull << 12)
#define MISC_ENABLE_RESET  (MISC_ENABLE_FAST_STRING | MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL)
#define MISC_ENABLE_WRITABLE MISC_ENABLE_FAST_STRING

/* May the guest write val into IA32_MISC_ENABLE that now reads cur? */
bool msr_misc_enable_write_ok(uint64_t cur, uint64_t val);

#endif
