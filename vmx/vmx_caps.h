/*
 * vmx_caps: the VMX capability MSRs as plain data (SDM vol. 3D appendix A,
 * "VMX Capability Reporting Facility").
 *
 * The thin hardware layer reads the MSRs once (rdmsr) and fills this
 * struct; everything that decides things (vmx/vmcs_fields.c: does a field
 * exist?  vmx/vmx_check.c: is this VMCS enterable?) reads only the struct.
 * For nested VMX the same struct describes what Nestor *advertises* to L1,
 * so vmcs12 is checked against L1's view of the CPU, not the real one.
 *
 *   basic        IA32_VMX_BASIC (0x480): revision ID in bits 30:0, bit 55
 *                says the TRUE_* MSRs exist, bit 56 relaxes the
 *                error-code rule of event injection (A.1)
 *   pinbased     IA32_VMX_[TRUE_]PINBASED_CTLS   (0x481 / 0x48D)
 *   procbased    IA32_VMX_[TRUE_]PROCBASED_CTLS  (0x482 / 0x48E)
 *   exit         IA32_VMX_[TRUE_]EXIT_CTLS       (0x483 / 0x48F)
 *   entry        IA32_VMX_[TRUE_]ENTRY_CTLS      (0x484 / 0x490)
 *   misc         IA32_VMX_MISC (0x485, A.6)
 *   cr0_fixed0/1 IA32_VMX_CR0_FIXED0/1 (0x486/0x487, A.7)
 *   cr4_fixed0/1 IA32_VMX_CR4_FIXED0/1 (0x488/0x489, A.8)
 *   procbased2   IA32_VMX_PROCBASED_CTLS2 (0x48B)
 *   ept_vpid     IA32_VMX_EPT_VPID_CAP (0x48C, A.10)
 *   vmfunc       IA32_VMX_VMFUNC (0x491, A.11): allowed-1 bits only
 *   procbased3   IA32_VMX_PROCBASED_CTLS3 (0x492): allowed-1 bits only
 *   exit2        IA32_VMX_EXIT_CTLS2 (0x493): allowed-1 bits only
 *
 * The caller has already picked the TRUE_* variants when BASIC bit 55 is 1
 * (and says so in true_ctls).  procbased3 and exit2 are an addition to the
 * original brief: without them the tertiary and secondary-exit controls
 * could not be checked.  Zero means "no such MSR" (nothing allowed).
 *
 * A 32-bit control MSR holds two masks (A.3): bits 31:0 are the
 * allowed-0 settings (a 1 there means the control must be 1) and bits
 * 63:32 the allowed-1 settings (a 0 there means the control must be 0).
 */
#ifndef NESTOR_VMX_VMX_CAPS_H
#define NESTOR_VMX_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

struct vmx_caps {
	uint64_t basic, pinbased, procbased, procbased2, exit, entry, misc;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t ept_vpid, vmfunc;
	bool true_ctls;
	uint64_t procbased3, exit2;
};

/* IA32_VMX_BASIC (A.1) */
#define VMX_BASIC_REVISION(b)      ((uint32_t)((b) & 0x7fffffffu))
#define VMX_BASIC_TRUE_CTLS        (1ull << 55)
#define VMX_BASIC_NO_ERRCODE_CHECK (1ull << 56) /* any HW exception may push one */

/* IA32_VMX_MISC (A.6) */
#define VMX_MISC_ACT_HLT           (1ull << 6)
#define VMX_MISC_ACT_SHUTDOWN      (1ull << 7)
#define VMX_MISC_ACT_WAIT_SIPI     (1ull << 8)
#define VMX_MISC_CR3_TARGETS(m)    ((unsigned)(((m) >> 16) & 0x1ff))
#define VMX_MISC_ZERO_LEN_INJECT   (1ull << 30) /* instruction length 0 allowed */

/* IA32_VMX_EPT_VPID_CAP (A.10) */
#define VMX_EPT_EXEC_ONLY          (1ull << 0)
#define VMX_EPT_WALK_4             (1ull << 6)
#define VMX_EPT_WALK_5             (1ull << 7)
#define VMX_EPT_MT_UC              (1ull << 8)
#define VMX_EPT_MT_WB              (1ull << 14)
#define VMX_EPT_2M                 (1ull << 16)
#define VMX_EPT_1G                 (1ull << 17)
#define VMX_EPT_INVEPT             (1ull << 20)
#define VMX_EPT_AD                 (1ull << 21)
#define VMX_EPT_INVEPT_SINGLE      (1ull << 25)
#define VMX_EPT_INVEPT_ALL         (1ull << 26)
#define VMX_VPID_INVVPID           (1ull << 32)
#define VMX_VPID_INVVPID_ADDR      (1ull << 40) /* individual-address (type 0) */
#define VMX_VPID_INVVPID_SINGLE    (1ull << 41) /* single-context (type 1) */
#define VMX_VPID_INVVPID_ALL       (1ull << 42) /* all-context (type 2) */

/* The allowed-1 mask of a 32-bit control MSR. */
static inline uint32_t vmx_ctl_allowed1(uint64_t cap_msr)
{
	return (uint32_t)(cap_msr >> 32);
}

/* The must-be-1 (allowed-0) mask of a 32-bit control MSR. */
static inline uint32_t vmx_ctl_required1(uint64_t cap_msr)
{
	return (uint32_t)cap_msr;
}

/* May this control word be used?  (SDM 26.2.1: "reserved bits" rule) */
static inline bool vmx_ctl_ok(uint64_t cap_msr, uint32_t value)
{
	return (value & vmx_ctl_required1(cap_msr)) == vmx_ctl_required1(cap_msr) &&
	       (value & ~vmx_ctl_allowed1(cap_msr)) == 0;
}

/*
 * The nearest legal control word: the bits we want that the CPU allows,
 * plus the bits it insists on.  vmx_ctl_ok(cap, vmx_ctl_adjust(cap, w))
 * holds whenever the MSR is consistent (required1 within allowed1).
 */
static inline uint32_t vmx_ctl_adjust(uint64_t cap_msr, uint32_t want)
{
	return (want & vmx_ctl_allowed1(cap_msr)) | vmx_ctl_required1(cap_msr);
}

#endif
