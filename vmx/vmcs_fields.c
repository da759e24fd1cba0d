/*
 * vmcs_fields: the VMCS field table, field lookup, feature presence, and
 * the names of VM-instruction errors and exit reasons.  See
 * vmx/vmcs_fields.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmx/vmcs_fields.h"

/* Width tokens of VMCS_FIELD_LIST -> table widths. */
#define VMCS_W_16  VMCS_WIDTH_16
#define VMCS_W_32  VMCS_WIDTH_32
#define VMCS_W_64  VMCS_WIDTH_64
#define VMCS_W_NAT VMCS_WIDTH_NATURAL

const struct vmcs_field vmcs_field_table[VMCS_FIELD_COUNT] = {
#define VMCS_X_ROW(name, enc, w, t, sh, feat)                                  \
	[VMCS_IDX_##name] = { (enc), #name, VMCS_W_##w, VMCS_TYPE_##t, (sh) != 0, \
			      VMCS_FEAT_##feat },
	VMCS_FIELD_LIST(VMCS_X_ROW)
#undef VMCS_X_ROW
};

/* Encoding -> dense index + 1 (0: no such field), in O(1): bits 14:13
 * (width) and 11:10 (type) select one of 16 groups, bits 9:1 the index
 * within it (SDM 25.11.2).  Built by the compiler from the field list. */
#define VMCS_ENC_GROUP(enc) ((((enc) >> 11) & 0xc) | (((enc) >> 10) & 3))
const uint8_t vmcs_index_by_enc[16][512] = {
#define VMCS_X_MAP(name, enc, w, t, sh, feat) \
	[VMCS_ENC_GROUP(enc)][((enc) >> 1) & 0x1ff] = VMCS_IDX_##name + 1,
	VMCS_FIELD_LIST(VMCS_X_MAP)
#undef VMCS_X_MAP
};

/* Each field's width as a mask (the image keeps values truncated). */
const uint64_t vmcs_width_mask[VMCS_FIELD_COUNT] = {
#define VMCS_X_MASK(name, enc, w, t, sh, feat) \
	[VMCS_IDX_##name] = VMCS_W_##w == VMCS_WIDTH_16 ? 0xffffull : \
			    VMCS_W_##w == VMCS_WIDTH_32 ? 0xffffffffull : ~0ull,
	VMCS_FIELD_LIST(VMCS_X_MASK)
#undef VMCS_X_MASK
};
_Static_assert(VMCS_FIELD_COUNT < 0xff, "index + 1 fits a byte");

int vmcs_field_index(uint32_t encoding)
{
	return vmcs_index_of(encoding);
}

/* The binary search it replaced, kept as the reference the unit test
 * compares the index with. */
int vmcs_field_index_slow(uint32_t encoding)
{
	uint32_t full = encoding & ~1u;
	unsigned lo = 0, hi = VMCS_FIELD_COUNT;     /* the answer is in [lo, hi) */

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (vmcs_field_table[mid].encoding < full)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == VMCS_FIELD_COUNT || vmcs_field_table[lo].encoding != full)
		return -1;
	/* A high-half encoding (access type 1) exists only for 64-bit fields. */
	if ((encoding & 1u) && vmcs_field_table[lo].width != VMCS_WIDTH_64)
		return -1;
	return (int)lo;
}

const struct vmcs_field *vmcs_field_find(uint32_t encoding)
{
	int i = vmcs_field_index(encoding);
	return i < 0 ? NULL : &vmcs_field_table[i];
}


/*
 * Which capability bit makes each feature (and so its fields) exist.  A
 * feature is present if any of its conditions holds; a condition names a
 * capability MSR and a bit of its allowed-1 settings.
 */
enum cap_msr { CAP_NONE, CAP_PIN, CAP_PROC, CAP_PROC2, CAP_PROC3, CAP_EXIT, CAP_ENTRY,
	       CAP_EXIT2, CAP_VMFUNC };

struct feat_rule {
	const char *name;
	struct { uint8_t msr, bit; } any[3];
};

static const struct feat_rule feat_rules[VMCS_FEAT__COUNT] = {
	[VMCS_FEAT_ALWAYS]        = { "always", { { CAP_NONE, 0 } } },
	[VMCS_FEAT_VPID]          = { "VPID", { { CAP_PROC2, 5 } } },
	[VMCS_FEAT_POSTED_INTR]   = { "posted interrupts", { { CAP_PIN, 7 } } },
	[VMCS_FEAT_EPT_VE]        = { "EPT-violation #VE", { { CAP_PROC2, 18 } } },
	[VMCS_FEAT_HLAT]          = { "HLAT", { { CAP_PROC3, 1 } } },
	[VMCS_FEAT_IPI_VIRT]      = { "IPI virtualization", { { CAP_PROC3, 4 } } },
	[VMCS_FEAT_VID]           = { "virtual-interrupt delivery", { { CAP_PROC2, 9 } } },
	[VMCS_FEAT_PML]           = { "PML", { { CAP_PROC2, 17 } } },
	[VMCS_FEAT_UINTR]         = { "user interrupts (CPUID)", { { CAP_NONE, 1 } } },
	[VMCS_FEAT_MSR_BITMAPS]   = { "MSR bitmaps", { { CAP_PROC, 28 } } },
	[VMCS_FEAT_TPR_SHADOW]    = { "TPR shadow", { { CAP_PROC, 21 } } },
	[VMCS_FEAT_APIC_ACCESS]   = { "virtualize APIC accesses", { { CAP_PROC2, 0 } } },
	[VMCS_FEAT_VMFUNC]        = { "VM functions", { { CAP_PROC2, 13 } } },
	[VMCS_FEAT_EPT]           = { "EPT", { { CAP_PROC2, 1 } } },
	[VMCS_FEAT_EPTP_SWITCH]   = { "EPTP switching", { { CAP_VMFUNC, 0 } } },
	[VMCS_FEAT_SHADOW_VMCS]   = { "VMCS shadowing", { { CAP_PROC2, 14 } } },
	[VMCS_FEAT_XSAVES]        = { "XSAVES/XRSTORS", { { CAP_PROC2, 20 } } },
	[VMCS_FEAT_ENCLS]         = { "ENCLS exiting", { { CAP_PROC2, 15 } } },
	[VMCS_FEAT_SPP]           = { "sub-page write permissions", { { CAP_PROC2, 23 } } },
	[VMCS_FEAT_TSC_SCALING]   = { "TSC scaling", { { CAP_PROC2, 25 } } },
	[VMCS_FEAT_TERTIARY]      = { "tertiary controls", { { CAP_PROC, 17 } } },
	[VMCS_FEAT_ENCLV]         = { "ENCLV exiting", { { CAP_PROC2, 28 } } },
	[VMCS_FEAT_PASID]         = { "PASID translation", { { CAP_PROC2, 21 } } },
	[VMCS_FEAT_PCONFIG]       = { "PCONFIG", { { CAP_PROC2, 27 } } },
	[VMCS_FEAT_EXIT2]         = { "secondary exit controls", { { CAP_EXIT, 31 } } },
	[VMCS_FEAT_SPEC_CTRL]     = { "virtualize IA32_SPEC_CTRL", { { CAP_PROC3, 7 } } },
	[VMCS_FEAT_FRED]          = { "FRED", { { CAP_ENTRY, 23 } } },
	[VMCS_FEAT_MSRLIST]       = { "RDMSRLIST/WRMSRLIST (CPUID)", { { CAP_NONE, 1 } } },
	[VMCS_FEAT_PAT]           = { "IA32_PAT", { { CAP_ENTRY, 14 }, { CAP_EXIT, 18 }, { CAP_EXIT, 19 } } },
	[VMCS_FEAT_EFER]          = { "IA32_EFER", { { CAP_ENTRY, 15 }, { CAP_EXIT, 20 }, { CAP_EXIT, 21 } } },
	[VMCS_FEAT_PERF_GLOBAL]   = { "IA32_PERF_GLOBAL_CTRL", { { CAP_ENTRY, 13 }, { CAP_EXIT, 12 } } },
	[VMCS_FEAT_BNDCFGS]       = { "IA32_BNDCFGS", { { CAP_ENTRY, 16 }, { CAP_EXIT, 23 } } },
	[VMCS_FEAT_RTIT]          = { "IA32_RTIT_CTL", { { CAP_ENTRY, 18 }, { CAP_EXIT, 25 } } },
	[VMCS_FEAT_LBR]           = { "IA32_LBR_CTL", { { CAP_ENTRY, 21 }, { CAP_EXIT, 26 } } },
	[VMCS_FEAT_PKRS]          = { "IA32_PKRS", { { CAP_ENTRY, 22 }, { CAP_EXIT, 29 } } },
	[VMCS_FEAT_CET]           = { "CET state", { { CAP_ENTRY, 20 }, { CAP_EXIT, 28 } } },
	[VMCS_FEAT_PLE]           = { "PAUSE-loop exiting", { { CAP_PROC2, 10 } } },
	[VMCS_FEAT_INSTR_TIMEOUT] = { "instruction timeout", { { CAP_PROC2, 31 } } },
	[VMCS_FEAT_PREEMPT]       = { "VMX-preemption timer", { { CAP_PIN, 6 } } },
};

/* Is bit `bit` allowed to be 1 by capability MSR `msr`? */
static bool cap_allows(const struct vmx_caps *c, unsigned msr, unsigned bit)
{
	switch (msr) {
	case CAP_PIN:   return vmx_ctl_allowed1(c->pinbased) >> bit & 1;
	case CAP_PROC:  return vmx_ctl_allowed1(c->procbased) >> bit & 1;
	case CAP_EXIT:  return vmx_ctl_allowed1(c->exit) >> bit & 1;
	case CAP_ENTRY: return vmx_ctl_allowed1(c->entry) >> bit & 1;
	/* The secondary/tertiary controls exist only if they can be activated. */
	case CAP_PROC2: return cap_allows(c, CAP_PROC, 31) &&
			       (vmx_ctl_allowed1(c->procbased2) >> bit & 1);
	case CAP_PROC3: return cap_allows(c, CAP_PROC, 17) && (c->procbased3 >> bit & 1);
	case CAP_EXIT2: return cap_allows(c, CAP_EXIT, 31) && (c->exit2 >> bit & 1);
	case CAP_VMFUNC: return cap_allows(c, CAP_PROC2, 13) && (c->vmfunc >> bit & 1);
	default:        return false;
	}
}

bool vmcs_feature_present(const struct vmx_caps *caps, uint32_t feature)
{
	if (feature == VMCS_FEAT_ALWAYS)
		return true;
	if (feature >= VMCS_FEAT__COUNT)
		return false;
	/*
	 * Features enumerated only by CPUID (no VMX capability bit) are
	 * reported absent: Nestor does not offer them to guests.
	 */
	for (unsigned i = 0; i < 3; i++) {
		const struct feat_rule *r = &feat_rules[feature];
		if (r->any[i].msr != CAP_NONE && cap_allows(caps, r->any[i].msr, r->any[i].bit))
			return true;
	}
	return false;
}

const char *vmcs_feature_name(uint32_t feature)
{
	return feature < VMCS_FEAT__COUNT ? feat_rules[feature].name : NULL;
}

/* ---- VM-instruction errors (vol. 3C 31.4) ---- */

static const char *const insn_error_names[VMXERR__MAX + 1] = {
	[1]  = "VMCALL executed in VMX root operation",
	[2]  = "VMCLEAR with invalid physical address",
	[3]  = "VMCLEAR with VMXON pointer",
	[4]  = "VMLAUNCH with non-clear VMCS",
	[5]  = "VMRESUME with non-launched VMCS",
	[6]  = "VMRESUME after VMXOFF",
	[7]  = "VM entry with invalid control field(s)",
	[8]  = "VM entry with invalid host-state field(s)",
	[9]  = "VMPTRLD with invalid physical address",
	[10] = "VMPTRLD with VMXON pointer",
	[11] = "VMPTRLD with incorrect VMCS revision identifier",
	[12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
	[13] = "VMWRITE to read-only VMCS component",
	[15] = "VMXON executed in VMX root operation",
	[16] = "VM entry with invalid executive-VMCS pointer",
	[17] = "VM entry with non-launched executive VMCS",
	[18] = "VM entry with executive-VMCS pointer not VMXON pointer",
	[19] = "VMCALL with non-clear VMCS",
	[20] = "VMCALL with invalid VM-exit control fields",
	[22] = "VMCALL with incorrect MSEG revision identifier",
	[23] = "VMXOFF under dual-monitor treatment of SMIs and SMM",
	[24] = "VMCALL with invalid SMM-monitor features",
	[25] = "VM entry with invalid VM-execution control fields in executive VMCS",
	[26] = "VM entry with events blocked by MOV SS",
	[28] = "invalid operand to INVEPT/INVVPID",
};

const char *vmx_insn_error_name(uint32_t error)
{
	return error <= VMXERR__MAX ? insn_error_names[error] : NULL;
}

/* ---- basic exit reasons (vol. 3D appendix C) ---- */

static const char *const exit_reason_names[VMX_EXIT__MAX + 1] = {
	[0]  = "exception or NMI",
	[1]  = "external interrupt",
	[2]  = "triple fault",
	[3]  = "INIT signal",
	[4]  = "start-up IPI (SIPI)",
	[5]  = "I/O SMI",
	[6]  = "other SMI",
	[7]  = "interrupt window",
	[8]  = "NMI window",
	[9]  = "task switch",
	[10] = "CPUID",
	[11] = "GETSEC",
	[12] = "HLT",
	[13] = "INVD",
	[14] = "INVLPG",
	[15] = "RDPMC",
	[16] = "RDTSC",
	[17] = "RSM",
	[18] = "VMCALL",
	[19] = "VMCLEAR",
	[20] = "VMLAUNCH",
	[21] = "VMPTRLD",
	[22] = "VMPTRST",
	[23] = "VMREAD",
	[24] = "VMRESUME",
	[25] = "VMWRITE",
	[26] = "VMXOFF",
	[27] = "VMXON",
	[28] = "control-register access",
	[29] = "MOV DR",
	[30] = "I/O instruction",
	[31] = "RDMSR",
	[32] = "WRMSR",
	[33] = "VM-entry failure: invalid guest state",
	[34] = "VM-entry failure: MSR loading",
	[36] = "MWAIT",
	[37] = "monitor trap flag",
	[39] = "MONITOR",
	[40] = "PAUSE",
	[41] = "VM-entry failure: machine-check event",
	[43] = "TPR below threshold",
	[44] = "APIC access",
	[45] = "virtualized EOI",
	[46] = "access to GDTR or IDTR",
	[47] = "access to LDTR or TR",
	[48] = "EPT violation",
	[49] = "EPT misconfiguration",
	[50] = "INVEPT",
	[51] = "RDTSCP",
	[52] = "VMX-preemption timer expired",
	[53] = "INVVPID",
	[54] = "WBINVD or WBNOINVD",
	[55] = "XSETBV",
	[56] = "APIC write",
	[57] = "RDRAND",
	[58] = "INVPCID",
	[59] = "VMFUNC",
	[60] = "ENCLS",
	[61] = "RDSEED",
	[62] = "page-modification log full",
	[63] = "XSAVES",
	[64] = "XRSTORS",
	[65] = "PCONFIG",
	[66] = "SPP-related event",
	[67] = "UMWAIT",
	[68] = "TPAUSE",
	[69] = "LOADIWKEY",
	[70] = "ENCLV",
	[72] = "ENQCMD PASID translation failure",
	[73] = "ENQCMDS PASID translation failure",
	[74] = "bus lock",
	[75] = "instruction timeout",
	[76] = "SEAMCALL",
	[77] = "TDCALL",
	[78] = "RDMSRLIST",
	[79] = "WRMSRLIST",
	[80] = "URDMSR",
	[81] = "UWRMSR",
};

const char *vmx_exit_reason_name(uint32_t reason)
{
	reason &= 0xffffu;
	return reason <= VMX_EXIT__MAX ? exit_reason_names[reason] : NULL;
}
