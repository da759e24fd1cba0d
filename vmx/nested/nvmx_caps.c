/* The VMX capabilities offered to L1 (see nvmx_caps.h). */
#include "vmx/nested/nvmx_caps.h"
#include "vmx/nested/nvmx_arch.h"
#include "vmx/nested/vmcs12.h"

/* Controls L1 may set (allowed-1), per control word: those the merge
 * passes through (vmcs02_merge.c) and those it translates. */
#define OFFER_PIN   (NVMX_PIN_EXTINT | NVMX_PIN_NMI | NVMX_PIN_VNMI | NVMX_PIN_PREEMPT)
#define OFFER_PROC  (NVMX_PROC_INTR_WINDOW | NVMX_PROC_TSC_OFFSET | NVMX_PROC_HLT |        \
		     NVMX_PROC_INVLPG | NVMX_PROC_MWAIT | NVMX_PROC_RDPMC | NVMX_PROC_RDTSC | \
		     NVMX_PROC_CR3_LOAD | NVMX_PROC_CR3_STORE | NVMX_PROC_CR8_LOAD |          \
		     NVMX_PROC_CR8_STORE | NVMX_PROC_NMI_WINDOW | NVMX_PROC_MOV_DR |          \
		     NVMX_PROC_UNCOND_IO | NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS |     \
		     NVMX_PROC_MONITOR | NVMX_PROC_PAUSE | NVMX_PROC_SECONDARY)
#define OFFER_PROC2 (NVMX_PROC2_EPT | NVMX_PROC2_DESC_TABLE | NVMX_PROC2_RDTSCP |        \
		     NVMX_PROC2_VPID | NVMX_PROC2_WBINVD | NVMX_PROC2_UG |                    \
		     NVMX_PROC2_RDRAND | NVMX_PROC2_INVPCID | NVMX_PROC2_RDSEED |             \
		     NVMX_PROC2_XSAVES)
#define OFFER_EXIT  (NVMX_EXIT_SAVE_DEBUG | NVMX_EXIT_HOST_64 | NVMX_EXIT_ACK_INTR |      \
		     NVMX_EXIT_SAVE_PAT | NVMX_EXIT_LOAD_PAT | NVMX_EXIT_SAVE_EFER |          \
		     NVMX_EXIT_LOAD_EFER | NVMX_EXIT_SAVE_PREEMPT)
#define OFFER_ENTRY (NVMX_ENTRY_LOAD_DEBUG | (1u << 9) /* IA-32e mode guest */ |         \
		     NVMX_ENTRY_LOAD_PAT | NVMX_ENTRY_LOAD_EFER)
/* EPT/VPID (A.10): execute-only pages (EPT02 keeps them: the CPU below
 * must have them too), 4-level walks, UC/WB, 2M/1G pages, A/D, INVEPT
 * single and all-context, INVVPID with its four types (bits 40-43). */
#define OFFER_EPT   (VMX_EPT_EXEC_ONLY | VMX_EPT_WALK_4 | VMX_EPT_MT_UC | VMX_EPT_MT_WB | VMX_EPT_2M |         \
		     VMX_EPT_1G | VMX_EPT_INVEPT | VMX_EPT_AD | VMX_EPT_INVEPT_SINGLE |       \
		     VMX_EPT_INVEPT_ALL | VMX_VPID_INVVPID | (0xfull << 40))

/* allowed-0 (bits 31:0, must be 1) stays the CPU's; allowed-1 (63:32)
 * is the CPU's limited to the offer, and always covers allowed-0. */
static uint64_t offer(uint64_t cap, uint32_t mask)
{
	uint32_t must = (uint32_t)cap, may = (uint32_t)(cap >> 32) & (mask | must);
	return ((uint64_t)may << 32) | must;
}

void nvmx_advertise(const struct vmx_caps *hw, struct vmx_caps *adv)
{
	*adv = (struct vmx_caps){
		.basic = vmcs12_basic_msr(hw->basic),
		.pinbased = offer(hw->pinbased, OFFER_PIN),
		.procbased = offer(hw->procbased, OFFER_PROC),
		/* VMCS shadowing for L2 is emulated (nvmx.c l2_shadow_vmcs_insn):
		 * offered whatever the CPU has */
		.procbased2 = offer(hw->procbased2, OFFER_PROC2) | ((uint64_t)NVMX_PROC2_SHADOW_VMCS << 32),
		.exit = offer(hw->exit, OFFER_EXIT),
		.entry = offer(hw->entry, OFFER_ENTRY),
		/* MISC: the CPU's activity states, CR3-target count and
		 * preemption-timer rate (bits 4:0: L0 runs L1's timer at the
		 * CPU's rate, vmcs02_l1_timer_deadline); no VMWRITE to
		 * exit-information fields (bit 29). */
		.misc = hw->misc & ~((1ull << 29) | (((hw->pinbased >> 32) & NVMX_PIN_PREEMPT) ? 0 : 0x1full)),
		.cr0_fixed0 = hw->cr0_fixed0, .cr0_fixed1 = hw->cr0_fixed1,
		.cr4_fixed0 = hw->cr4_fixed0, .cr4_fixed1 = hw->cr4_fixed1,
		.ept_vpid = hw->ept_vpid & OFFER_EPT,
		.true_ctls = hw->true_ctls,
	};
}

/* The non-TRUE control MSRs report the "default1" bits as must-be-one
 * (A.3.1, A.4, A.5): pin 1,2,4; proc 1,4-6,8,13-16,26; exit 0-8,10,11,13,
 * 14,16,17; entry 0-8,12. */
#define DEFAULT1_PIN   0x00000016u
#define DEFAULT1_PROC  0x0401e172u
#define DEFAULT1_EXIT  0x00036dffu
#define DEFAULT1_ENTRY 0x000011ffu

int nvmx_cap_msr(const struct vmx_caps *adv, uint32_t msr, uint64_t *val)
{
	bool has_true = adv->basic & VMX_BASIC_TRUE_CTLS;
	switch (msr) {
	case 0x480: *val = adv->basic; return 0;
	case 0x481: *val = adv->pinbased | DEFAULT1_PIN; return 0;
	case 0x482: *val = adv->procbased | DEFAULT1_PROC; return 0;
	case 0x483: *val = adv->exit | DEFAULT1_EXIT; return 0;
	case 0x484: *val = adv->entry | DEFAULT1_ENTRY; return 0;
	case 0x485: *val = adv->misc; return 0;
	case 0x486: *val = adv->cr0_fixed0; return 0;
	case 0x487: *val = adv->cr0_fixed1; return 0;
	case 0x488: *val = adv->cr4_fixed0; return 0;
	case 0x489: *val = adv->cr4_fixed1; return 0;
	case 0x48a: *val = vmcs12_vmcs_enum(adv); return 0;
	case 0x48b: *val = adv->procbased2; return 0;
	case 0x48c: *val = adv->ept_vpid; return 0;
	case 0x48d: if (!has_true) return -1; *val = adv->pinbased; return 0;
	case 0x48e: if (!has_true) return -1; *val = adv->procbased; return 0;
	case 0x48f: if (!has_true) return -1; *val = adv->exit; return 0;
	case 0x490: if (!has_true) return -1; *val = adv->entry; return 0;
	default: return -1;   /* VMFUNC (0x491), tertiary controls: not offered */
	}
}
