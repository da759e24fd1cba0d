/*
 * vmx_check: the checks a CPU makes before it enters a guest (SDM vol. 3C
 * chapter "VM Entries": 26.2 checks on VMX controls and host-state area,
 * 26.3.1 checks on the guest-state area), as a table over plain data.
 *
 * Two users:
 *   - the L1 backend checks its own vmcs01 before the first VMLAUNCH and
 *     prints the failing check by name and SDM section, instead of the
 *     CPU's bare "VM-instruction error 7";
 *   - nested VMX checks L1's vmcs12 when L1 executes VMLAUNCH/VMRESUME
 *     and answers as the CPU would: vmx_check_verdict() maps the first
 *     failure to VMfailValid(7) for a control field, VMfailValid(8) for a
 *     host-state field, or a VM-entry failure exit (reason 33, bit 31 set)
 *     with the exit qualification of 26.8 for a guest-state field.
 *
 * Section numbers: this file and vmx/vmx_check.c follow the SDM editions
 * whose VMX chapters are 24 (VMCS) .. 26 (VM entries); newer editions
 * (2022 on) shift those chapters by one (VM entries is chapter 27) but keep
 * the subsection structure, so "26.3.1.2" is "27.3.1.2" and "24.6.1" is
 * "25.6.1" there.  The subsection titles are quoted in vmx/vmx_check.c so
 * that either edition can be searched; table numbers are not cited because
 * they differ more between editions.
 *
 * Order: the table lists the control checks (26.2.1), then host (26.2.2-4),
 * then guest (26.3.1.1-6).  The SDM lets a CPU check controls and host
 * state "in any order" but all of them before any guest-state check, so
 * "the first failure in table order" gives an architecturally valid
 * answer.  vmx_check_entry() runs *every* check (it does not stop at the
 * first failure), which is what a student debugging a VMCS wants.
 *
 * The image: struct vmcs_image (vmx/vmcs_fields.h) holds every field by
 * dense index.  Values wider than a field are truncated to its width when
 * read, so garbage in the upper bits of an image does not matter.
 *
 * Assumptions and what is NOT implemented (each would need state this
 * pure function does not have, or is a feature Nestor does not offer):
 *   - The logical processor executing VMLAUNCH is in 64-bit mode (IA-32e),
 *     outside SMM, and supports Intel 64: the 26.2.4 rule "host
 *     address-space size must be 1" is checked; the rules for a VMM
 *     running outside IA-32e mode are not (so "SS selector non-zero when
 *     host address-space size is 0", RIP bits 63:32 and CR4.PCIDE for a
 *     32-bit host are not checked: they can only matter when the
 *     address-space-size check already failed).
 *   - Nothing that needs memory: the VTPR/TPR-threshold rule (virtual-APIC
 *     page byte 0x80), the VMCS link pointer's target (revision ID and
 *     shadow-VMCS indicator), PDPTEs read from guest memory when EPT is off
 *     (26.3.1.6 without EPT), the MSR-load lists themselves (26.4: the
 *     caller reports exit reason 34 with qualification = the 1-based index
 *     of the bad entry), and the executive-VMCS pointer (SMM).
 *   - Model-specific register contents: reserved bits of
 *     IA32_PERF_GLOBAL_CTRL (depend on CPUID leaf 0xA), IA32_RTIT_CTL,
 *     IA32_LBR_CTL; the CET checks (S_CET, SSP, ISST fields, EPTP bit 7 is
 *     treated as reserved); FRED state; the enclave-interruption bit 4 of
 *     the interruptibility state (SGX); bit 16 (RTM) of the pending debug
 *     exceptions is accepted without its extra conditions; LAM bits in CR3.
 *   - Controls Nestor does not use: HLAT, IPI virtualization, PASID,
 *     guest-paging verification, SPP beyond "requires EPT" and its table
 *     pointer, UINV loading, SMM entry ("entry to SMM" and "deactivate
 *     dual-monitor treatment" are required to be 0, as for any VM entry
 *     from outside SMM).
 *   - Canonical means "bits 63:47 equal" (48-bit linear addresses), or
 *     63:56 when the relevant CR4.LA57 (host CR4 for host fields, guest CR4
 *     for guest fields) is 1.  A CPU with 5-level paging accepts 57-bit
 *     canonical addresses even with LA57 = 0: this checker is stricter.
 *   - Implementation-specific rule the SDM allows either way: blocking by
 *     STI is required to be 0 when injecting an NMI (as Bochs does); when
 *     it fails the exit qualification is 3, as the SDM prescribes for that
 *     case.
 *
 * Pure code over plain data.  Tested in tests/unit/test_vmx_check.c,
 * fuzzed in tests/fuzz/fuzz_vmx_check.c.
 */
#ifndef NESTOR_VMX_VMX_CHECK_H
#define NESTOR_VMX_VMX_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmx/vmcs_fields.h"
#include "vmx/vmx_caps.h"

enum vmx_check_class {
	VMX_CHECK_CONTROL = 0,  /* 26.2.1: VMfailValid, error 7 */
	VMX_CHECK_HOST = 1,     /* 26.2.2-4: VMfailValid, error 8 */
	VMX_CHECK_GUEST = 2,    /* 26.3.1: VM-entry failure, exit reason 33 */
};

/* One id per table row, in evaluation order. */
enum vmx_check_id {
	/* 26.2.1.1 VM-execution control fields */
	VMX_CHK_PIN_CTLS,
	VMX_CHK_PROC_CTLS,
	VMX_CHK_PROC2_CTLS,
	VMX_CHK_PROC3_CTLS,
	VMX_CHK_CR3_TARGET_COUNT,
	VMX_CHK_IO_BITMAP_A,
	VMX_CHK_IO_BITMAP_B,
	VMX_CHK_MSR_BITMAP,
	VMX_CHK_VIRTUAL_APIC_ADDR,
	VMX_CHK_TPR_THRESHOLD,
	VMX_CHK_NO_TPR_SHADOW_APICV,
	VMX_CHK_VNMI_NEEDS_NMI_EXITING,
	VMX_CHK_NMI_WINDOW_NEEDS_VNMI,
	VMX_CHK_APIC_ACCESS_ADDR,
	VMX_CHK_X2APIC_VS_APIC_ACCESS,
	VMX_CHK_VID_NEEDS_EXTINT_EXITING,
	VMX_CHK_POSTED_INTR_DEPS,
	VMX_CHK_POSTED_INTR_VECTOR,
	VMX_CHK_POSTED_INTR_DESC,
	VMX_CHK_VPID_NONZERO,
	VMX_CHK_EPTP_MEMTYPE,
	VMX_CHK_EPTP_WALK,
	VMX_CHK_EPTP_AD,
	VMX_CHK_EPTP_RESERVED,
	VMX_CHK_PML_NEEDS_EPT,
	VMX_CHK_PML_ADDR,
	VMX_CHK_UG_NEEDS_EPT,
	VMX_CHK_EPT_DEPENDENTS,
	VMX_CHK_SPPTP,
	VMX_CHK_VMFUNC_CTLS,
	VMX_CHK_EPTP_LIST,
	VMX_CHK_VMREAD_BITMAP,
	VMX_CHK_VMWRITE_BITMAP,
	VMX_CHK_VE_INFO_ADDR,
	/* 26.2.1.2 VM-exit control fields */
	VMX_CHK_EXIT_CTLS,
	VMX_CHK_EXIT2_CTLS,
	VMX_CHK_EXIT_SAVE_PREEMPT,
	VMX_CHK_EXIT_MSR_STORE,
	VMX_CHK_EXIT_MSR_LOAD,
	/* 26.2.1.3 VM-entry control fields */
	VMX_CHK_ENTRY_CTLS,
	VMX_CHK_ENTRY_INTR_TYPE,
	VMX_CHK_ENTRY_INTR_VECTOR,
	VMX_CHK_ENTRY_INTR_ERRCODE_BIT,
	VMX_CHK_ENTRY_INTR_RESERVED,
	VMX_CHK_ENTRY_EXC_ERRCODE,
	VMX_CHK_ENTRY_INSTR_LEN,
	VMX_CHK_ENTRY_MSR_LOAD,
	VMX_CHK_ENTRY_SMM,
	/* 26.2.2 host control registers and MSRs */
	VMX_CHK_HOST_CR0,
	VMX_CHK_HOST_CR4,
	VMX_CHK_HOST_CR3,
	VMX_CHK_HOST_SYSENTER,
	VMX_CHK_HOST_PAT,
	VMX_CHK_HOST_EFER_RESERVED,
	VMX_CHK_HOST_EFER_LMA_LME,
	VMX_CHK_HOST_PKRS,
	/* 26.2.3 host segment and descriptor-table registers */
	VMX_CHK_HOST_SEL_RPL_TI,
	VMX_CHK_HOST_CS_NONZERO,
	VMX_CHK_HOST_TR_NONZERO,
	VMX_CHK_HOST_BASES,
	/* 26.2.4 address-space size */
	VMX_CHK_HOST_ADDR_SPACE,
	VMX_CHK_HOST_CR4_PAE,
	VMX_CHK_HOST_RIP,
	/* 26.3.1.1 guest control registers, debug registers and MSRs */
	VMX_CHK_GUEST_CR0,
	VMX_CHK_GUEST_CR0_PG_PE,
	VMX_CHK_GUEST_CR4,
	VMX_CHK_GUEST_CR4_CET_WP,
	VMX_CHK_GUEST_DEBUGCTL,
	VMX_CHK_GUEST_IA32E_PG_PAE,
	VMX_CHK_GUEST_PCIDE,
	VMX_CHK_GUEST_CR3,
	VMX_CHK_GUEST_DR7,
	VMX_CHK_GUEST_SYSENTER,
	VMX_CHK_GUEST_PAT,
	VMX_CHK_GUEST_EFER_RESERVED,
	VMX_CHK_GUEST_EFER_LMA,
	VMX_CHK_GUEST_EFER_LME,
	VMX_CHK_GUEST_BNDCFGS,
	VMX_CHK_GUEST_PKRS,
	/* 26.3.1.2 guest segment registers */
	VMX_CHK_GUEST_TR_TI,
	VMX_CHK_GUEST_LDTR_TI,
	VMX_CHK_GUEST_SS_RPL,
	VMX_CHK_GUEST_V86_BASE,
	VMX_CHK_GUEST_V86_LIMIT,
	VMX_CHK_GUEST_V86_AR,
	VMX_CHK_GUEST_BASE_CANONICAL,
	VMX_CHK_GUEST_BASE_HIGH,
	VMX_CHK_GUEST_CS_TYPE,
	VMX_CHK_GUEST_SS_TYPE,
	VMX_CHK_GUEST_DATA_TYPE,
	VMX_CHK_GUEST_SEG_S,
	VMX_CHK_GUEST_CS_DPL,
	VMX_CHK_GUEST_SS_DPL,
	VMX_CHK_GUEST_DATA_DPL,
	VMX_CHK_GUEST_SEG_P,
	VMX_CHK_GUEST_SEG_RESERVED,
	VMX_CHK_GUEST_CS_L_D,
	VMX_CHK_GUEST_SEG_LIMIT_G,
	VMX_CHK_GUEST_TR_TYPE,
	VMX_CHK_GUEST_TR_AR,
	VMX_CHK_GUEST_TR_LIMIT_G,
	VMX_CHK_GUEST_LDTR_AR,
	VMX_CHK_GUEST_LDTR_LIMIT_G,
	/* 26.3.1.3 GDTR and IDTR */
	VMX_CHK_GUEST_DTR_BASE,
	VMX_CHK_GUEST_DTR_LIMIT,
	/* 26.3.1.4 RIP and RFLAGS */
	VMX_CHK_GUEST_RIP_HIGH,
	VMX_CHK_GUEST_RIP_CANONICAL,
	VMX_CHK_GUEST_RFLAGS_RESERVED,
	VMX_CHK_GUEST_RFLAGS_VM,
	VMX_CHK_GUEST_RFLAGS_IF,
	/* 26.3.1.5 non-register state */
	VMX_CHK_GUEST_ACTIVITY,
	VMX_CHK_GUEST_ACTIVITY_HLT_DPL,
	VMX_CHK_GUEST_ACTIVITY_BLOCKING,
	VMX_CHK_GUEST_ACTIVITY_EVENT,
	VMX_CHK_GUEST_INTR_RESERVED,
	VMX_CHK_GUEST_INTR_STI_MOVSS,
	VMX_CHK_GUEST_INTR_STI_IF,
	VMX_CHK_GUEST_INTR_EXTINT,
	VMX_CHK_GUEST_INTR_NMI_MOVSS,
	VMX_CHK_GUEST_INTR_NMI_STI,
	VMX_CHK_GUEST_INTR_SMI,
	VMX_CHK_GUEST_INTR_VNMI,
	VMX_CHK_GUEST_PENDING_DBG_RESERVED,
	VMX_CHK_GUEST_PENDING_DBG_BS,
	VMX_CHK_GUEST_LINK_POINTER,
	/* 26.3.1.6 PDPTEs */
	VMX_CHK_GUEST_PDPTE,
	VMX_CHECK_COUNT
};

struct vmx_check_ctx;   /* private to vmx/vmx_check.c */

/* What a failing check reports: the field and value it found wrong. */
struct vmx_check_bad {
	uint32_t field;         /* VMCS encoding */
	uint64_t value;
};

struct vmx_check {
	uint16_t id;            /* enum vmx_check_id == index in the table */
	uint8_t cls;            /* enum vmx_check_class */
	uint8_t exit_qual;      /* GUEST class: exit qualification (0, 2, 3, 4) */
	const char *sdm_ref;    /* "26.3.1.1" */
	const char *name;       /* "guest CR0 fixed bits" */
	/* true if the check passes; on failure fills *bad */
	bool (*fn)(const struct vmx_check_ctx *c, struct vmx_check_bad *bad);
};

extern const struct vmx_check vmx_check_table[VMX_CHECK_COUNT];

struct vmx_check_failure {
	uint16_t id;            /* enum vmx_check_id */
	uint8_t cls;            /* enum vmx_check_class */
	uint8_t exit_qual;
	const char *sdm_ref;
	const char *name;
	uint32_t field;         /* the VMCS field involved (encoding) */
	uint64_t value;         /* its value in the image */
};

/*
 * Run every check on img.  Writes the first max_fails failures, in table
 * order, to fails[] (fails may be NULL when max_fails is 0) and returns the
 * total number of failing checks (which may exceed max_fails).
 * maxphyaddr is the physical-address width (CPUID 0x80000008 EAX[7:0]).
 */
int vmx_check_entry(const struct vmcs_image *img, const struct vmx_caps *caps,
		    unsigned maxphyaddr, struct vmx_check_failure *fails,
		    unsigned max_fails);

/* Run one check; true if it passes, else fills *fail (if not NULL). */
bool vmx_check_one(unsigned id, const struct vmcs_image *img,
		   const struct vmx_caps *caps, unsigned maxphyaddr,
		   struct vmx_check_failure *fail);

/*
 * The architectural answer to a VMLAUNCH/VMRESUME of this VMCS, from the
 * failures vmx_check_entry() reported (n is its return value; only
 * fails[0] is used).  Packed as:
 *   bits 31:30  kind: VMX_VERDICT_ENTER, _FAIL_VALID or _ENTRY_FAIL_EXIT
 *   bits 23:16  exit qualification (kind ENTRY_FAIL_EXIT)
 *   bits 15:0   VM-instruction error (kind FAIL_VALID) or basic exit
 *               reason (kind ENTRY_FAIL_EXIT: 33)
 * VMX_VERDICT_OK (0) means all checks passed: the entry may proceed (to
 * MSR loading, which can still fail with exit reason 34).
 */
uint32_t vmx_check_verdict(const struct vmx_check_failure *fails, int n);

#define VMX_VERDICT_OK               0u
#define VMX_VERDICT_ENTER            0u
#define VMX_VERDICT_FAIL_VALID       1u
#define VMX_VERDICT_ENTRY_FAIL_EXIT  2u

static inline unsigned vmx_verdict_kind(uint32_t v)   { return v >> 30; }
static inline unsigned vmx_verdict_error(uint32_t v)  { return v & 0xffffu; }
static inline unsigned vmx_verdict_reason(uint32_t v) { return v & 0xffffu; }
static inline unsigned vmx_verdict_qual(uint32_t v)   { return (v >> 16) & 0xffu; }

/* Names for diagnostics: "control", "host", "guest". */
const char *vmx_check_class_name(unsigned cls);

#endif
