/*
 * vmcs_fields: every VMCS field of the SDM, as one table (SDM vol. 3D
 * appendix B "Field Encoding in VMCS"; encoding format in vol. 3C 25.11.2
 * "VMREAD, VMWRITE, and Encodings of VMCS Fields").
 *
 * A VMCS is opaque memory: software names a field by a 32-bit encoding
 * and the CPU finds it.  The encoding itself says what kind of field it is:
 *
 *    bit  0      access type: 0 = full, 1 = high (bits 63:32 of a 64-bit
 *                field, accessed as a 32-bit value; only for 64-bit fields)
 *    bits 9:1    index (distinguishes fields of the same width and type)
 *    bits 11:10  type: 0 control, 1 VM-exit information (read-only),
 *                2 guest state, 3 host state
 *    bit  12     reserved (0)
 *    bits 14:13  width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
 *    bits 31:15  reserved (0)
 *
 * VMCS_FIELD_LIST below is the single source of truth: one row per field,
 * sorted by encoding, giving its name, encoding, width and type as the SDM
 * tables list them (tests/unit/test_vmcs_fields.c checks that they agree
 * with the bits of the encoding), whether it is a candidate for VMCS
 * shadowing, and which capability makes it exist.  From it we generate
 *
 *   - the encodings:       VMCS_GUEST_CR0 = 0x6800, ...
 *   - dense indexes:       VMCS_IDX_GUEST_CR0, 0 .. VMCS_FIELD_COUNT - 1
 *                          (the index of a field in the sorted table)
 *   - the table itself:    vmcs_field_table[] in vmx/vmcs_fields.c
 *
 * A 64-bit field has one row (its "full" encoding); its "high" encoding
 * (full | 1) is accepted by vmcs_field_find() and names the same row (see
 * vmcs_enc_is_high()).
 *
 * Shadowing candidates (vol. 3C 25.10 "VMCS types", VMREAD/VMWRITE
 * bitmaps): any field *may* be shadowed; a candidate is one that an L1
 * hypervisor reads or writes on (nearly) every exit and whose new value
 * L0 only needs at the next VM entry - RIP, RSP, RFLAGS, CRs, the exit
 * information, event injection.  Fields that change what L0 must do right
 * away (execution controls, EPTP, bitmaps, host state) are not.  The set
 * follows what KVM shadows, for the same reasons.
 *
 * Fields deliberately not listed (not in the SDM proper): the TDX-only
 * "shared EPTP" (0x203C), and APIC-timer virtualization and guest/host
 * IA32_SPEC_CTRL fields that appear only in the ISE (0x000A, 0x204E,
 * 0x282E, 0x2830, 0x2C1A).
 *
 * Also here: the VM-instruction error numbers (vol. 3C 31.4) and the basic
 * exit reasons (vol. 3D appendix C), with names for diagnostics.
 *
 * Section numbers in this file are those of the 2022-and-later SDM (VMCS
 * chapter 25, VMX instruction reference chapter 31); older editions number
 * the same sections 24.11.2 and 30.4.  vmx/vmx_check.h uses the older
 * numbering of the VM-entry chapter (26), as the project's brief does.
 *
 * Pure code over plain data.  Tested in tests/unit/test_vmcs_fields.c.
 */
#ifndef NESTOR_VMX_VMCS_FIELDS_H
#define NESTOR_VMX_VMCS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmx/vmx_caps.h"

/* ---- decoding an encoding (25.11.2) ---- */

enum vmcs_width {               /* bits 14:13 of the encoding */
	VMCS_ENC_W16 = 0, VMCS_ENC_W64 = 1, VMCS_ENC_W32 = 2, VMCS_ENC_WNAT = 3,
};

enum vmcs_type {                /* bits 11:10 of the encoding */
	VMCS_TYPE_CONTROL = 0,
	VMCS_TYPE_EXIT_INFO = 1,   /* read-only VM-exit information */
	VMCS_TYPE_GUEST = 2,
	VMCS_TYPE_HOST = 3,
};

/* Field width in the table: the number of bits, or NATURAL (64 on Intel 64). */
#define VMCS_WIDTH_16       16
#define VMCS_WIDTH_32       32
#define VMCS_WIDTH_64       64
#define VMCS_WIDTH_NATURAL  0

static inline bool vmcs_enc_is_high(uint32_t enc)   { return enc & 1u; }
static inline unsigned vmcs_enc_index(uint32_t enc) { return (enc >> 1) & 0x1ffu; }
static inline unsigned vmcs_enc_type(uint32_t enc)  { return (enc >> 10) & 3u; }
static inline unsigned vmcs_enc_width(uint32_t enc) { return (enc >> 13) & 3u; }
/* Bits that must be 0 in every valid encoding: 12 and 31:15. */
static inline bool vmcs_enc_reserved_ok(uint32_t enc) { return (enc & 0xffff9000u) == 0; }

/* The table width (16/32/64/NATURAL) an encoding's bits 14:13 denote. */
static inline unsigned vmcs_enc_table_width(uint32_t enc)
{
	static const unsigned char w[4] = {
		VMCS_WIDTH_16, VMCS_WIDTH_64, VMCS_WIDTH_32, VMCS_WIDTH_NATURAL
	};
	return w[vmcs_enc_width(enc)];
}

/* ---- what makes a field exist (appendix B footnotes, chapter 25) ---- */

enum vmcs_feature {
	VMCS_FEAT_ALWAYS = 0,
	VMCS_FEAT_VPID,          /* secondary  5: enable VPID */
	VMCS_FEAT_POSTED_INTR,   /* pin        7: process posted interrupts */
	VMCS_FEAT_EPT_VE,        /* secondary 18: EPT-violation #VE */
	VMCS_FEAT_HLAT,          /* tertiary   1: enable HLAT */
	VMCS_FEAT_IPI_VIRT,      /* tertiary   4: IPI virtualization */
	VMCS_FEAT_VID,           /* secondary  9: virtual-interrupt delivery */
	VMCS_FEAT_PML,           /* secondary 17: enable PML */
	VMCS_FEAT_UINTR,         /* CPUID user interrupts (no VMX cap bit) */
	VMCS_FEAT_MSR_BITMAPS,   /* primary   28: use MSR bitmaps */
	VMCS_FEAT_TPR_SHADOW,    /* primary   21: use TPR shadow */
	VMCS_FEAT_APIC_ACCESS,   /* secondary  0: virtualize APIC accesses */
	VMCS_FEAT_VMFUNC,        /* secondary 13: enable VM functions */
	VMCS_FEAT_EPT,           /* secondary  1: enable EPT */
	VMCS_FEAT_EPTP_SWITCH,   /* VMFUNC     0: EPTP switching */
	VMCS_FEAT_SHADOW_VMCS,   /* secondary 14: VMCS shadowing */
	VMCS_FEAT_XSAVES,        /* secondary 20: enable XSAVES/XRSTORS */
	VMCS_FEAT_ENCLS,         /* secondary 15: enable ENCLS exiting */
	VMCS_FEAT_SPP,           /* secondary 23: sub-page write permissions */
	VMCS_FEAT_TSC_SCALING,   /* secondary 25: use TSC scaling */
	VMCS_FEAT_TERTIARY,      /* primary   17: activate tertiary controls */
	VMCS_FEAT_ENCLV,         /* secondary 28: enable ENCLV exiting */
	VMCS_FEAT_PASID,         /* secondary 21: PASID translation */
	VMCS_FEAT_PCONFIG,       /* secondary 27: enable PCONFIG */
	VMCS_FEAT_EXIT2,         /* exit      31: activate secondary controls */
	VMCS_FEAT_SPEC_CTRL,     /* tertiary   7: virtualize IA32_SPEC_CTRL */
	VMCS_FEAT_FRED,          /* entry     23: load FRED state */
	VMCS_FEAT_MSRLIST,       /* CPUID RDMSRLIST/WRMSRLIST (no VMX cap bit) */
	VMCS_FEAT_PAT,           /* entry 14 load PAT, exit 18/19 save/load PAT */
	VMCS_FEAT_EFER,          /* entry 15 load EFER, exit 20/21 save/load EFER */
	VMCS_FEAT_PERF_GLOBAL,   /* entry 13, exit 12 load IA32_PERF_GLOBAL_CTRL */
	VMCS_FEAT_BNDCFGS,       /* entry 16 load, exit 23 clear IA32_BNDCFGS */
	VMCS_FEAT_RTIT,          /* entry 18 load, exit 25 clear IA32_RTIT_CTL */
	VMCS_FEAT_LBR,           /* entry 21 load, exit 26 clear IA32_LBR_CTL */
	VMCS_FEAT_PKRS,          /* entry 22 load, exit 29 load PKRS */
	VMCS_FEAT_CET,           /* entry 20 load, exit 28 load CET state */
	VMCS_FEAT_PLE,           /* secondary 10: PAUSE-loop exiting */
	VMCS_FEAT_INSTR_TIMEOUT, /* secondary 31: instruction timeout */
	VMCS_FEAT_PREEMPT,       /* pin        6: activate VMX-preemption timer */
	VMCS_FEAT__COUNT
};

/*
 * The field list.  X(name, encoding, width, type, shadow candidate, feature)
 * Sorted by encoding (the test checks it).
 */
#define VMCS_FIELD_LIST(X)                                                              \
	/* 16-bit control fields (B.1.1) */                                             \
	X(VPID,                     0x0000, 16,  CONTROL,   0, VPID)                    \
	X(POSTED_INTR_NV,           0x0002, 16,  CONTROL,   0, POSTED_INTR)             \
	X(EPTP_INDEX,               0x0004, 16,  CONTROL,   0, EPT_VE)                  \
	X(HLAT_PREFIX_SIZE,         0x0006, 16,  CONTROL,   0, HLAT)                    \
	X(LAST_PID_PTR_INDEX,       0x0008, 16,  CONTROL,   0, IPI_VIRT)                \
	/* 16-bit guest-state fields (B.1.2) */                                         \
	X(GUEST_ES_SELECTOR,        0x0800, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_CS_SELECTOR,        0x0802, 16,  GUEST,     1, ALWAYS)                  \
	X(GUEST_SS_SELECTOR,        0x0804, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_DS_SELECTOR,        0x0806, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_FS_SELECTOR,        0x0808, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_GS_SELECTOR,        0x080a, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_LDTR_SELECTOR,      0x080c, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_TR_SELECTOR,        0x080e, 16,  GUEST,     0, ALWAYS)                  \
	X(GUEST_INTR_STATUS,        0x0810, 16,  GUEST,     1, VID)                     \
	X(GUEST_PML_INDEX,          0x0812, 16,  GUEST,     1, PML)                     \
	X(GUEST_UINV,               0x0814, 16,  GUEST,     0, UINTR)                   \
	/* 16-bit host-state fields (B.1.3) */                                          \
	X(HOST_ES_SELECTOR,         0x0c00, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_CS_SELECTOR,         0x0c02, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_SS_SELECTOR,         0x0c04, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_DS_SELECTOR,         0x0c06, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_FS_SELECTOR,         0x0c08, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_GS_SELECTOR,         0x0c0a, 16,  HOST,      0, ALWAYS)                  \
	X(HOST_TR_SELECTOR,         0x0c0c, 16,  HOST,      0, ALWAYS)                  \
	/* 64-bit control fields (B.2.1) */                                             \
	X(IO_BITMAP_A,              0x2000, 64,  CONTROL,   0, ALWAYS)                  \
	X(IO_BITMAP_B,              0x2002, 64,  CONTROL,   0, ALWAYS)                  \
	X(MSR_BITMAP,               0x2004, 64,  CONTROL,   0, MSR_BITMAPS)             \
	X(EXIT_MSR_STORE_ADDR,      0x2006, 64,  CONTROL,   0, ALWAYS)                  \
	X(EXIT_MSR_LOAD_ADDR,       0x2008, 64,  CONTROL,   0, ALWAYS)                  \
	X(ENTRY_MSR_LOAD_ADDR,      0x200a, 64,  CONTROL,   0, ALWAYS)                  \
	X(EXECUTIVE_VMCS_PTR,       0x200c, 64,  CONTROL,   0, ALWAYS)                  \
	X(PML_ADDRESS,              0x200e, 64,  CONTROL,   0, PML)                     \
	X(TSC_OFFSET,               0x2010, 64,  CONTROL,   0, ALWAYS)                  \
	X(VIRTUAL_APIC_ADDR,        0x2012, 64,  CONTROL,   0, TPR_SHADOW)              \
	X(APIC_ACCESS_ADDR,         0x2014, 64,  CONTROL,   0, APIC_ACCESS)             \
	X(POSTED_INTR_DESC_ADDR,    0x2016, 64,  CONTROL,   0, POSTED_INTR)             \
	X(VMFUNC_CONTROLS,          0x2018, 64,  CONTROL,   0, VMFUNC)                  \
	X(EPT_POINTER,              0x201a, 64,  CONTROL,   0, EPT)                     \
	X(EOI_EXIT_BITMAP0,         0x201c, 64,  CONTROL,   0, VID)                     \
	X(EOI_EXIT_BITMAP1,         0x201e, 64,  CONTROL,   0, VID)                     \
	X(EOI_EXIT_BITMAP2,         0x2020, 64,  CONTROL,   0, VID)                     \
	X(EOI_EXIT_BITMAP3,         0x2022, 64,  CONTROL,   0, VID)                     \
	X(EPTP_LIST_ADDR,           0x2024, 64,  CONTROL,   0, EPTP_SWITCH)             \
	X(VMREAD_BITMAP,            0x2026, 64,  CONTROL,   0, SHADOW_VMCS)             \
	X(VMWRITE_BITMAP,           0x2028, 64,  CONTROL,   0, SHADOW_VMCS)             \
	X(VE_INFO_ADDR,             0x202a, 64,  CONTROL,   0, EPT_VE)                  \
	X(XSS_EXIT_BITMAP,          0x202c, 64,  CONTROL,   0, XSAVES)                  \
	X(ENCLS_EXIT_BITMAP,        0x202e, 64,  CONTROL,   0, ENCLS)                   \
	X(SPPTP,                    0x2030, 64,  CONTROL,   0, SPP)                     \
	X(TSC_MULTIPLIER,           0x2032, 64,  CONTROL,   0, TSC_SCALING)             \
	X(TERTIARY_CONTROLS,        0x2034, 64,  CONTROL,   0, TERTIARY)                \
	X(ENCLV_EXIT_BITMAP,        0x2036, 64,  CONTROL,   0, ENCLV)                   \
	X(LOW_PASID_DIR_ADDR,       0x2038, 64,  CONTROL,   0, PASID)                   \
	X(HIGH_PASID_DIR_ADDR,      0x203a, 64,  CONTROL,   0, PASID)                   \
	X(PCONFIG_EXIT_BITMAP,      0x203e, 64,  CONTROL,   0, PCONFIG)                 \
	X(HLATP,                    0x2040, 64,  CONTROL,   0, HLAT)                    \
	X(PID_PTR_TABLE_ADDR,       0x2042, 64,  CONTROL,   0, IPI_VIRT)                \
	X(SECONDARY_EXIT_CONTROLS,  0x2044, 64,  CONTROL,   0, EXIT2)                   \
	X(SPEC_CTRL_MASK,           0x204a, 64,  CONTROL,   0, SPEC_CTRL)               \
	X(SPEC_CTRL_SHADOW,         0x204c, 64,  CONTROL,   0, SPEC_CTRL)               \
	X(INJECTED_EVENT_DATA,      0x2052, 64,  CONTROL,   0, FRED)                    \
	/* 64-bit read-only data fields (B.2.2) */                                      \
	X(GUEST_PHYSICAL_ADDRESS,   0x2400, 64,  EXIT_INFO, 1, EPT)                     \
	X(MSR_DATA,                 0x2402, 64,  EXIT_INFO, 0, MSRLIST)                 \
	X(ORIGINAL_EVENT_DATA,      0x2404, 64,  EXIT_INFO, 0, FRED)                    \
	/* 64-bit guest-state fields (B.2.3) */                                         \
	X(VMCS_LINK_POINTER,        0x2800, 64,  GUEST,     0, ALWAYS)                  \
	X(GUEST_IA32_DEBUGCTL,      0x2802, 64,  GUEST,     0, ALWAYS)                  \
	X(GUEST_IA32_PAT,           0x2804, 64,  GUEST,     0, PAT)                     \
	X(GUEST_IA32_EFER,          0x2806, 64,  GUEST,     0, EFER)                    \
	X(GUEST_IA32_PERF_GLOBAL_CTRL, 0x2808, 64, GUEST,   0, PERF_GLOBAL)             \
	X(GUEST_PDPTE0,             0x280a, 64,  GUEST,     0, EPT)                     \
	X(GUEST_PDPTE1,             0x280c, 64,  GUEST,     0, EPT)                     \
	X(GUEST_PDPTE2,             0x280e, 64,  GUEST,     0, EPT)                     \
	X(GUEST_PDPTE3,             0x2810, 64,  GUEST,     0, EPT)                     \
	X(GUEST_IA32_BNDCFGS,       0x2812, 64,  GUEST,     0, BNDCFGS)                 \
	X(GUEST_IA32_RTIT_CTL,      0x2814, 64,  GUEST,     0, RTIT)                    \
	X(GUEST_IA32_LBR_CTL,       0x2816, 64,  GUEST,     0, LBR)                     \
	X(GUEST_IA32_PKRS,          0x2818, 64,  GUEST,     0, PKRS)                    \
	X(GUEST_IA32_FRED_CONFIG,   0x281a, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_RSP1,     0x281c, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_RSP2,     0x281e, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_RSP3,     0x2820, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_STKLVLS,  0x2822, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_SSP1,     0x2824, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_SSP2,     0x2826, 64,  GUEST,     0, FRED)                    \
	X(GUEST_IA32_FRED_SSP3,     0x2828, 64,  GUEST,     0, FRED)                    \
	/* 64-bit host-state fields (B.2.4) */                                          \
	X(HOST_IA32_PAT,            0x2c00, 64,  HOST,      0, PAT)                     \
	X(HOST_IA32_EFER,           0x2c02, 64,  HOST,      0, EFER)                    \
	X(HOST_IA32_PERF_GLOBAL_CTRL, 0x2c04, 64, HOST,     0, PERF_GLOBAL)             \
	X(HOST_IA32_PKRS,           0x2c06, 64,  HOST,      0, PKRS)                    \
	X(HOST_IA32_FRED_CONFIG,    0x2c08, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_RSP1,      0x2c0a, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_RSP2,      0x2c0c, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_RSP3,      0x2c0e, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_STKLVLS,   0x2c10, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_SSP1,      0x2c12, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_SSP2,      0x2c14, 64,  HOST,      0, FRED)                    \
	X(HOST_IA32_FRED_SSP3,      0x2c16, 64,  HOST,      0, FRED)                    \
	/* 32-bit control fields (B.3.1) */                                             \
	X(PIN_BASED_CONTROLS,       0x4000, 32,  CONTROL,   0, ALWAYS)                  \
	X(PROC_BASED_CONTROLS,      0x4002, 32,  CONTROL,   1, ALWAYS)                  \
	X(EXCEPTION_BITMAP,         0x4004, 32,  CONTROL,   1, ALWAYS)                  \
	X(PF_ERROR_CODE_MASK,       0x4006, 32,  CONTROL,   0, ALWAYS)                  \
	X(PF_ERROR_CODE_MATCH,      0x4008, 32,  CONTROL,   0, ALWAYS)                  \
	X(CR3_TARGET_COUNT,         0x400a, 32,  CONTROL,   0, ALWAYS)                  \
	X(EXIT_CONTROLS,            0x400c, 32,  CONTROL,   0, ALWAYS)                  \
	X(EXIT_MSR_STORE_COUNT,     0x400e, 32,  CONTROL,   0, ALWAYS)                  \
	X(EXIT_MSR_LOAD_COUNT,      0x4010, 32,  CONTROL,   0, ALWAYS)                  \
	X(ENTRY_CONTROLS,           0x4012, 32,  CONTROL,   0, ALWAYS)                  \
	X(ENTRY_MSR_LOAD_COUNT,     0x4014, 32,  CONTROL,   0, ALWAYS)                  \
	X(ENTRY_INTR_INFO,          0x4016, 32,  CONTROL,   1, ALWAYS)                  \
	X(ENTRY_EXCEPTION_ERROR_CODE, 0x4018, 32, CONTROL,  1, ALWAYS)                  \
	X(ENTRY_INSTRUCTION_LEN,    0x401a, 32,  CONTROL,   1, ALWAYS)                  \
	X(TPR_THRESHOLD,            0x401c, 32,  CONTROL,   1, TPR_SHADOW)              \
	X(SECONDARY_CONTROLS,       0x401e, 32,  CONTROL,   0, ALWAYS)                  \
	X(PLE_GAP,                  0x4020, 32,  CONTROL,   0, PLE)                     \
	X(PLE_WINDOW,               0x4022, 32,  CONTROL,   0, PLE)                     \
	X(INSTRUCTION_TIMEOUT,      0x4024, 32,  CONTROL,   0, INSTR_TIMEOUT)           \
	/* 32-bit read-only data fields (B.3.2) */                                      \
	X(VM_INSTRUCTION_ERROR,     0x4400, 32,  EXIT_INFO, 0, ALWAYS)                  \
	X(EXIT_REASON,              0x4402, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(EXIT_INTR_INFO,           0x4404, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(EXIT_INTR_ERROR_CODE,     0x4406, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(IDT_VECTORING_INFO,       0x4408, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(IDT_VECTORING_ERROR_CODE, 0x440a, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(EXIT_INSTRUCTION_LEN,     0x440c, 32,  EXIT_INFO, 1, ALWAYS)                  \
	X(VMX_INSTRUCTION_INFO,     0x440e, 32,  EXIT_INFO, 1, ALWAYS)                  \
	/* 32-bit guest-state fields (B.3.3) */                                         \
	X(GUEST_ES_LIMIT,           0x4800, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_CS_LIMIT,           0x4802, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_SS_LIMIT,           0x4804, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_DS_LIMIT,           0x4806, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_FS_LIMIT,           0x4808, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_GS_LIMIT,           0x480a, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_LDTR_LIMIT,         0x480c, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_TR_LIMIT,           0x480e, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_GDTR_LIMIT,         0x4810, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_IDTR_LIMIT,         0x4812, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_ES_AR,              0x4814, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_CS_AR,              0x4816, 32,  GUEST,     1, ALWAYS)                  \
	X(GUEST_SS_AR,              0x4818, 32,  GUEST,     1, ALWAYS)                  \
	X(GUEST_DS_AR,              0x481a, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_FS_AR,              0x481c, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_GS_AR,              0x481e, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_LDTR_AR,            0x4820, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_TR_AR,              0x4822, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_INTERRUPTIBILITY,   0x4824, 32,  GUEST,     1, ALWAYS)                  \
	X(GUEST_ACTIVITY_STATE,     0x4826, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_SMBASE,             0x4828, 32,  GUEST,     0, ALWAYS)                  \
	X(GUEST_IA32_SYSENTER_CS,   0x482a, 32,  GUEST,     0, ALWAYS)                  \
	X(PREEMPTION_TIMER_VALUE,   0x482e, 32,  GUEST,     1, PREEMPT)                 \
	/* 32-bit host-state field (B.3.4) */                                           \
	X(HOST_IA32_SYSENTER_CS,    0x4c00, 32,  HOST,      0, ALWAYS)                  \
	/* natural-width control fields (B.4.1) */                                      \
	X(CR0_GUEST_HOST_MASK,      0x6000, NAT, CONTROL,   0, ALWAYS)                  \
	X(CR4_GUEST_HOST_MASK,      0x6002, NAT, CONTROL,   0, ALWAYS)                  \
	X(CR0_READ_SHADOW,          0x6004, NAT, CONTROL,   1, ALWAYS)                  \
	X(CR4_READ_SHADOW,          0x6006, NAT, CONTROL,   1, ALWAYS)                  \
	X(CR3_TARGET0,              0x6008, NAT, CONTROL,   0, ALWAYS)                  \
	X(CR3_TARGET1,              0x600a, NAT, CONTROL,   0, ALWAYS)                  \
	X(CR3_TARGET2,              0x600c, NAT, CONTROL,   0, ALWAYS)                  \
	X(CR3_TARGET3,              0x600e, NAT, CONTROL,   0, ALWAYS)                  \
	/* natural-width read-only data fields (B.4.2) */                               \
	X(EXIT_QUALIFICATION,       0x6400, NAT, EXIT_INFO, 1, ALWAYS)                  \
	X(IO_RCX,                   0x6402, NAT, EXIT_INFO, 0, ALWAYS)                  \
	X(IO_RSI,                   0x6404, NAT, EXIT_INFO, 0, ALWAYS)                  \
	X(IO_RDI,                   0x6406, NAT, EXIT_INFO, 0, ALWAYS)                  \
	X(IO_RIP,                   0x6408, NAT, EXIT_INFO, 0, ALWAYS)                  \
	X(GUEST_LINEAR_ADDRESS,     0x640a, NAT, EXIT_INFO, 1, ALWAYS)                  \
	/* natural-width guest-state fields (B.4.3) */                                  \
	X(GUEST_CR0,                0x6800, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_CR3,                0x6802, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_CR4,                0x6804, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_ES_BASE,            0x6806, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_CS_BASE,            0x6808, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_SS_BASE,            0x680a, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_DS_BASE,            0x680c, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_FS_BASE,            0x680e, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_GS_BASE,            0x6810, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_LDTR_BASE,          0x6812, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_TR_BASE,            0x6814, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_GDTR_BASE,          0x6816, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_IDTR_BASE,          0x6818, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_DR7,                0x681a, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_RSP,                0x681c, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_RIP,                0x681e, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_RFLAGS,             0x6820, NAT, GUEST,     1, ALWAYS)                  \
	X(GUEST_PENDING_DBG_EXCEPTIONS, 0x6822, NAT, GUEST, 0, ALWAYS)                  \
	X(GUEST_IA32_SYSENTER_ESP,  0x6824, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_IA32_SYSENTER_EIP,  0x6826, NAT, GUEST,     0, ALWAYS)                  \
	X(GUEST_IA32_S_CET,         0x6828, NAT, GUEST,     0, CET)                     \
	X(GUEST_SSP,                0x682a, NAT, GUEST,     0, CET)                     \
	X(GUEST_INTR_SSP_TABLE_ADDR, 0x682c, NAT, GUEST,    0, CET)                     \
	/* natural-width host-state fields (B.4.4) */                                   \
	X(HOST_CR0,                 0x6c00, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_CR3,                 0x6c02, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_CR4,                 0x6c04, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_FS_BASE,             0x6c06, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_GS_BASE,             0x6c08, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_TR_BASE,             0x6c0a, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_GDTR_BASE,           0x6c0c, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_IDTR_BASE,           0x6c0e, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_IA32_SYSENTER_ESP,   0x6c10, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_IA32_SYSENTER_EIP,   0x6c12, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_RSP,                 0x6c14, NAT, HOST,      1, ALWAYS)                  \
	X(HOST_RIP,                 0x6c16, NAT, HOST,      0, ALWAYS)                  \
	X(HOST_IA32_S_CET,          0x6c18, NAT, HOST,      0, CET)                     \
	X(HOST_SSP,                 0x6c1a, NAT, HOST,      0, CET)                     \
	X(HOST_INTR_SSP_TABLE_ADDR, 0x6c1c, NAT, HOST,      0, CET)

/* The encodings: VMCS_GUEST_CR0 = 0x6800, ... */
enum vmcs_encoding {
#define VMCS_X_ENC(name, enc, w, t, sh, feat) VMCS_##name = (enc),
	VMCS_FIELD_LIST(VMCS_X_ENC)
#undef VMCS_X_ENC
};

/* Dense indexes: VMCS_IDX_GUEST_CR0, ...; VMCS_FIELD_COUNT fields. */
enum vmcs_index {
#define VMCS_X_IDX(name, enc, w, t, sh, feat) VMCS_IDX_##name,
	VMCS_FIELD_LIST(VMCS_X_IDX)
#undef VMCS_X_IDX
	VMCS_FIELD_COUNT
};

struct vmcs_field {
	uint32_t encoding;
	const char *name;          /* "GUEST_CR0" */
	uint8_t width;             /* VMCS_WIDTH_16/32/64/NATURAL */
	uint8_t type;              /* enum vmcs_type */
	bool shadowable_candidate;
	uint32_t exists_if;        /* enum vmcs_feature */
};

extern const struct vmcs_field vmcs_field_table[VMCS_FIELD_COUNT];

/*
 * The row for an encoding (full, or the high half of a 64-bit field), or
 * NULL if there is no such field.  Binary search: at most 8 probes.
 */
const struct vmcs_field *vmcs_field_find(uint32_t encoding);

/* The dense index 0..VMCS_FIELD_COUNT-1 of an encoding, or -1. */
int vmcs_field_index(uint32_t encoding);
int vmcs_field_index_slow(uint32_t encoding);  /* the binary search, for tests */

/* Bits a field holds: 16, 32 or 64 (natural width is 64 on Intel 64). */
static inline unsigned vmcs_field_bits(const struct vmcs_field *f)
{
	return f->width == VMCS_WIDTH_NATURAL ? 64 : f->width;
}

/* Does the CPU described by caps implement this field? (its exists_if) */
bool vmcs_feature_present(const struct vmx_caps *caps, uint32_t feature);
static inline bool vmcs_field_exists(const struct vmcs_field *f, const struct vmx_caps *caps)
{
	return vmcs_feature_present(caps, f->exists_if);
}
const char *vmcs_feature_name(uint32_t feature);

/*
 * A VMCS as plain data: every field's value by dense index, truncated to
 * the field's width.  This is what the checker (vmx/vmx_check.h) reads and
 * what nested VMX keeps for L1's vmcs12.
 */
struct vmcs_image {
	uint64_t v[VMCS_FIELD_COUNT];
};

extern const uint8_t vmcs_index_by_enc[16][512];     /* dense index + 1, or 0 */
extern const uint64_t vmcs_width_mask[VMCS_FIELD_COUNT];

/* The dense index of an encoding (full, or the high half of a 64-bit
 * field), or -1: one table load (vmcs_fields.c). */
static inline int vmcs_index_of(uint32_t encoding)
{
	if (encoding & 0xffff9000u)   /* bit 12 and bits 31:15 are reserved (25.11.2) */
		return -1;
	unsigned i = vmcs_index_by_enc[((encoding >> 11) & 0xc) | ((encoding >> 10) & 3)][(encoding >> 1) & 0x1ff];
	/* the access-type bit 0 must be 0, or 1 for the high half of a 64-bit field */
	if (i == 0 || ((encoding & 1u) && vmcs_field_table[i - 1].width != VMCS_WIDTH_64))
		return -1;
	return (int)i - 1;
}

/* Value of a field (by encoding; the high half of a 64-bit field gives
 * bits 63:32), or 0 for an unknown encoding. */
static inline uint64_t vmcs_get(const struct vmcs_image *img, uint32_t encoding)
{
	int i = vmcs_index_of(encoding);
	if (i < 0)
		return 0;
	uint64_t v = img->v[i] & vmcs_width_mask[i];
	return (encoding & 1u) ? v >> 32 : v;
}

/* VMWRITE semantics: truncate to the width; a high-half encoding replaces
 * bits 63:32 only.  False (and nothing written) for an unknown encoding. */
static inline bool vmcs_set(struct vmcs_image *img, uint32_t encoding, uint64_t value)
{
	int i = vmcs_index_of(encoding);
	if (i < 0)
		return false;
	if (encoding & 1u)
		img->v[i] = (img->v[i] & 0xffffffffull) | ((value & 0xffffffffull) << 32);
	else
		img->v[i] = value & vmcs_width_mask[i];
	return true;
}

/* The same by field name, for hot paths (nested VMX's merge and exit):
 * the dense index is a compile-time constant, so there is no lookup.
 * VMCS_GET(img, GUEST_CR0) == vmcs_get(img, VMCS_GUEST_CR0). */
#define VMCS_GET(img, name) ((img)->v[VMCS_IDX_##name] & vmcs_width_mask[VMCS_IDX_##name])
#define VMCS_SET(img, name, value) \
	((void)((img)->v[VMCS_IDX_##name] = (uint64_t)(value) & vmcs_width_mask[VMCS_IDX_##name]))

/* ---- VM-instruction error numbers (vol. 3C 31.4, Table 31-1) ---- */

enum vmx_insn_error {
	VMXERR_VMCALL_IN_ROOT = 1,
	VMXERR_VMCLEAR_INVALID_ADDR = 2,
	VMXERR_VMCLEAR_VMXON_PTR = 3,
	VMXERR_VMLAUNCH_NONCLEAR = 4,
	VMXERR_VMRESUME_NONLAUNCHED = 5,
	VMXERR_VMRESUME_AFTER_VMXOFF = 6,
	VMXERR_ENTRY_INVALID_CONTROL = 7,
	VMXERR_ENTRY_INVALID_HOST = 8,
	VMXERR_VMPTRLD_INVALID_ADDR = 9,
	VMXERR_VMPTRLD_VMXON_PTR = 10,
	VMXERR_VMPTRLD_BAD_REVISION = 11,
	VMXERR_UNSUPPORTED_FIELD = 12,
	VMXERR_VMWRITE_READ_ONLY = 13,
	VMXERR_VMXON_IN_ROOT = 15,
	VMXERR_ENTRY_INVALID_EXEC_VMCS_PTR = 16,
	VMXERR_ENTRY_NONLAUNCHED_EXEC_VMCS = 17,
	VMXERR_ENTRY_EXEC_VMCS_NOT_VMXON = 18,
	VMXERR_VMCALL_NONCLEAR = 19,
	VMXERR_VMCALL_INVALID_EXIT_CONTROLS = 20,
	VMXERR_VMCALL_BAD_MSEG_REVISION = 22,
	VMXERR_VMXOFF_DUAL_MONITOR = 23,
	VMXERR_VMCALL_INVALID_SMM_FEATURES = 24,
	VMXERR_ENTRY_INVALID_EXEC_CONTROLS_IN_EXEC_VMCS = 25,
	VMXERR_ENTRY_MOV_SS_BLOCKING = 26,
	VMXERR_INVALID_INVEPT_INVVPID = 28,
	VMXERR__MAX = 28
};

/* "VM entry with invalid control field(s)", or NULL (0, reserved, > 28). */
const char *vmx_insn_error_name(uint32_t error);

/* ---- basic exit reasons (vol. 3D appendix C, Table C-1) ---- */

enum vmx_exit_reason {
	VMX_EXIT_EXCEPTION_NMI = 0,
	VMX_EXIT_EXTERNAL_INTERRUPT = 1,
	VMX_EXIT_TRIPLE_FAULT = 2,
	VMX_EXIT_INIT = 3,
	VMX_EXIT_SIPI = 4,
	VMX_EXIT_IO_SMI = 5,
	VMX_EXIT_OTHER_SMI = 6,
	VMX_EXIT_INTERRUPT_WINDOW = 7,
	VMX_EXIT_NMI_WINDOW = 8,
	VMX_EXIT_TASK_SWITCH = 9,
	VMX_EXIT_CPUID = 10,
	VMX_EXIT_GETSEC = 11,
	VMX_EXIT_HLT = 12,
	VMX_EXIT_INVD = 13,
	VMX_EXIT_INVLPG = 14,
	VMX_EXIT_RDPMC = 15,
	VMX_EXIT_RDTSC = 16,
	VMX_EXIT_RSM = 17,
	VMX_EXIT_VMCALL = 18,
	VMX_EXIT_VMCLEAR = 19,
	VMX_EXIT_VMLAUNCH = 20,
	VMX_EXIT_VMPTRLD = 21,
	VMX_EXIT_VMPTRST = 22,
	VMX_EXIT_VMREAD = 23,
	VMX_EXIT_VMRESUME = 24,
	VMX_EXIT_VMWRITE = 25,
	VMX_EXIT_VMXOFF = 26,
	VMX_EXIT_VMXON = 27,
	VMX_EXIT_CR_ACCESS = 28,
	VMX_EXIT_DR_ACCESS = 29,
	VMX_EXIT_IO = 30,
	VMX_EXIT_RDMSR = 31,
	VMX_EXIT_WRMSR = 32,
	VMX_EXIT_ENTRY_FAIL_GUEST = 33,
	VMX_EXIT_ENTRY_FAIL_MSR = 34,
	VMX_EXIT_MWAIT = 36,
	VMX_EXIT_MTF = 37,
	VMX_EXIT_MONITOR = 39,
	VMX_EXIT_PAUSE = 40,
	VMX_EXIT_ENTRY_FAIL_MCE = 41,
	VMX_EXIT_TPR_BELOW_THRESHOLD = 43,
	VMX_EXIT_APIC_ACCESS = 44,
	VMX_EXIT_VIRTUALIZED_EOI = 45,
	VMX_EXIT_GDTR_IDTR = 46,
	VMX_EXIT_LDTR_TR = 47,
	VMX_EXIT_EPT_VIOLATION = 48,
	VMX_EXIT_EPT_MISCONFIG = 49,
	VMX_EXIT_INVEPT = 50,
	VMX_EXIT_RDTSCP = 51,
	VMX_EXIT_PREEMPTION_TIMER = 52,
	VMX_EXIT_INVVPID = 53,
	VMX_EXIT_WBINVD = 54,
	VMX_EXIT_XSETBV = 55,
	VMX_EXIT_APIC_WRITE = 56,
	VMX_EXIT_RDRAND = 57,
	VMX_EXIT_INVPCID = 58,
	VMX_EXIT_VMFUNC = 59,
	VMX_EXIT_ENCLS = 60,
	VMX_EXIT_RDSEED = 61,
	VMX_EXIT_PML_FULL = 62,
	VMX_EXIT_XSAVES = 63,
	VMX_EXIT_XRSTORS = 64,
	VMX_EXIT_PCONFIG = 65,
	VMX_EXIT_SPP = 66,
	VMX_EXIT_UMWAIT = 67,
	VMX_EXIT_TPAUSE = 68,
	VMX_EXIT_LOADIWKEY = 69,
	VMX_EXIT_ENCLV = 70,
	VMX_EXIT_ENQCMD_PASID = 72,
	VMX_EXIT_ENQCMDS_PASID = 73,
	VMX_EXIT_BUS_LOCK = 74,
	VMX_EXIT_INSTRUCTION_TIMEOUT = 75,
	VMX_EXIT_SEAMCALL = 76,
	VMX_EXIT_TDCALL = 77,
	VMX_EXIT_RDMSRLIST = 78,
	VMX_EXIT_WRMSRLIST = 79,
	VMX_EXIT_URDMSR = 80,
	VMX_EXIT_UWRMSR = 81,
	VMX_EXIT__MAX = 81
};

/* Bit 31 of the exit-reason field: the exit is a VM-entry failure (27.8). */
#define VMX_EXIT_REASON_ENTRY_FAILURE (1u << 31)

/* "CPUID", or NULL for a reserved or unknown basic exit reason.  Bits
 * 31:16 of a full exit-reason field are ignored. */
const char *vmx_exit_reason_name(uint32_t reason);

#endif
