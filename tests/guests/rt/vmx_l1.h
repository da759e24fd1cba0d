/*
 * For test guests that are small VMX hypervisors themselves (nested VMX,
 * "L1"s): turning VMX on, the VMCS field encodings they use, VMREAD/VMWRITE
 * that say when they fail, control words fitted to the capability MSRs,
 * host state taken from the running CPU, and one asm stub that enters the
 * guest (VMLAUNCH/VMRESUME) and comes back with the exit.  Intel SDM
 * vol. 3C chapters 24-31 and vol. 3D appendix A; the AMD sibling is
 * svm_l1.h.  Header-only: each guest is one C file on the runtime, and
 * includes this once.
 *
 * The encodings here are architectural (SDM appendix B), kept apart from
 * L0's vmx/vmcs_fields.h on purpose: these guests test that table, they
 * must not borrow it.  The VX_ prefix keeps the two from ever meeting.
 *
 * Section numbers are those of the SDM since 2022 (chapter 25 = VMCS,
 * 26 = VMX non-root operation, 27 = VM entries, 28 = VM exits, 29 = EPT and
 * VPID, 31 = instruction reference); older editions number chapters 24-31
 * one lower.
 */
#ifndef GUEST_VMX_L1_H
#define GUEST_VMX_L1_H
#include <stdio.h>
#include <string.h>
#include "tests/guests/rt/rt.h"

/* ---- MSRs (SDM vol. 3D appendix A; vol. 4) ---------------------------- */
#define VX_MSR_FEATURE_CONTROL   0x03a
#define VX_MSR_SYSENTER_CS       0x174
#define VX_MSR_SYSENTER_ESP      0x175
#define VX_MSR_SYSENTER_EIP      0x176
#define VX_MSR_DEBUGCTL          0x1d9
#define VX_MSR_PAT               0x277
#define VX_MSR_VMX_BASIC         0x480
#define VX_MSR_VMX_PINBASED      0x481
#define VX_MSR_VMX_PROCBASED     0x482
#define VX_MSR_VMX_EXIT          0x483
#define VX_MSR_VMX_ENTRY         0x484
#define VX_MSR_VMX_MISC          0x485
#define VX_MSR_VMX_CR0_FIXED0    0x486
#define VX_MSR_VMX_CR0_FIXED1    0x487
#define VX_MSR_VMX_CR4_FIXED0    0x488
#define VX_MSR_VMX_CR4_FIXED1    0x489
#define VX_MSR_VMX_VMCS_ENUM     0x48a
#define VX_MSR_VMX_PROCBASED2    0x48b
#define VX_MSR_VMX_EPT_VPID_CAP  0x48c
#define VX_MSR_VMX_TRUE_PINBASED 0x48d
#define VX_MSR_VMX_TRUE_PROCBASED 0x48e
#define VX_MSR_VMX_TRUE_EXIT     0x48f
#define VX_MSR_VMX_TRUE_ENTRY    0x490
#define VX_MSR_VMX_LAST          0x491   /* IA32_VMX_VMFUNC */

#define VX_FC_LOCKED             (1ull << 0)  /* IA32_FEATURE_CONTROL (SDM 24.7) */
#define VX_FC_VMXON_OUTSIDE_SMX  (1ull << 2)
#define VX_BASIC_TRUE_CTLS       (1ull << 55) /* A.1 */
#define VX_MISC_VMWRITE_ANY      (1ull << 29) /* A.6: VMWRITE to exit-information fields */
#define VX_CPUID1_ECX_VMX        (1u << 5)

/* IA32_VMX_EPT_VPID_CAP (A.10) */
#define VX_EPT_WALK_4            (1ull << 6)
#define VX_EPT_UC                (1ull << 8)
#define VX_EPT_WB                (1ull << 14)
#define VX_EPT_2M                (1ull << 16)
#define VX_EPT_INVEPT            (1ull << 20)
#define VX_EPT_INVEPT_SINGLE     (1ull << 25)
#define VX_EPT_INVEPT_ALL        (1ull << 26)

/* ---- VMCS field encodings (SDM appendix B) ----------------------------- */
enum vx_field {
	VX_VPID = 0x0000,
	VX_GUEST_ES_SEL = 0x0800, VX_GUEST_CS_SEL = 0x0802, VX_GUEST_SS_SEL = 0x0804,
	VX_GUEST_DS_SEL = 0x0806, VX_GUEST_FS_SEL = 0x0808, VX_GUEST_GS_SEL = 0x080a,
	VX_GUEST_LDTR_SEL = 0x080c, VX_GUEST_TR_SEL = 0x080e,
	VX_HOST_ES_SEL = 0x0c00, VX_HOST_CS_SEL = 0x0c02, VX_HOST_SS_SEL = 0x0c04,
	VX_HOST_DS_SEL = 0x0c06, VX_HOST_FS_SEL = 0x0c08, VX_HOST_GS_SEL = 0x0c0a,
	VX_HOST_TR_SEL = 0x0c0c,
	VX_IO_BITMAP_A = 0x2000, VX_IO_BITMAP_B = 0x2002, VX_MSR_BITMAP = 0x2004,
	VX_EXIT_MSR_STORE_ADDR = 0x2006, VX_EXIT_MSR_LOAD_ADDR = 0x2008,
	VX_ENTRY_MSR_LOAD_ADDR = 0x200a, VX_TSC_OFFSET = 0x2010, VX_EPT_POINTER = 0x201a,
	VX_GUEST_PHYSICAL_ADDRESS = 0x2400,
	VX_VMCS_LINK_POINTER = 0x2800, VX_GUEST_DEBUGCTL = 0x2802, VX_GUEST_PAT = 0x2804,
	VX_GUEST_EFER = 0x2806, VX_GUEST_PDPTE0 = 0x280a, VX_GUEST_PDPTE1 = 0x280c, VX_GUEST_PDPTE2 = 0x280e,
	VX_GUEST_PDPTE3 = 0x2810,
	VX_HOST_PAT = 0x2c00, VX_HOST_EFER = 0x2c02,
	VX_PIN_CONTROLS = 0x4000, VX_PROC_CONTROLS = 0x4002, VX_EXCEPTION_BITMAP = 0x4004,
	VX_PF_ERROR_MASK = 0x4006, VX_PF_ERROR_MATCH = 0x4008, VX_CR3_TARGET_COUNT = 0x400a,
	VX_EXIT_CONTROLS = 0x400c, VX_EXIT_MSR_STORE_COUNT = 0x400e, VX_EXIT_MSR_LOAD_COUNT = 0x4010,
	VX_ENTRY_CONTROLS = 0x4012, VX_ENTRY_MSR_LOAD_COUNT = 0x4014, VX_ENTRY_INTR_INFO = 0x4016,
	VX_ENTRY_EXCEPTION_ERROR = 0x4018, VX_ENTRY_INSTRUCTION_LEN = 0x401a,
	VX_PROC2_CONTROLS = 0x401e,
	VX_VM_INSTRUCTION_ERROR = 0x4400, VX_EXIT_REASON = 0x4402, VX_EXIT_INTR_INFO = 0x4404,
	VX_EXIT_INTR_ERROR = 0x4406, VX_IDT_VECTORING_INFO = 0x4408, VX_IDT_VECTORING_ERROR = 0x440a,
	VX_EXIT_INSTRUCTION_LEN = 0x440c, VX_EXIT_INSTRUCTION_INFO = 0x440e,
	VX_GUEST_ES_LIMIT = 0x4800, VX_GUEST_CS_LIMIT = 0x4802, VX_GUEST_SS_LIMIT = 0x4804,
	VX_GUEST_DS_LIMIT = 0x4806, VX_GUEST_FS_LIMIT = 0x4808, VX_GUEST_GS_LIMIT = 0x480a,
	VX_GUEST_LDTR_LIMIT = 0x480c, VX_GUEST_TR_LIMIT = 0x480e, VX_GUEST_GDTR_LIMIT = 0x4810,
	VX_GUEST_IDTR_LIMIT = 0x4812,
	VX_GUEST_ES_AR = 0x4814, VX_GUEST_CS_AR = 0x4816, VX_GUEST_SS_AR = 0x4818,
	VX_GUEST_DS_AR = 0x481a, VX_GUEST_FS_AR = 0x481c, VX_GUEST_GS_AR = 0x481e,
	VX_GUEST_LDTR_AR = 0x4820, VX_GUEST_TR_AR = 0x4822,
	VX_GUEST_INTERRUPTIBILITY = 0x4824, VX_GUEST_ACTIVITY = 0x4826, VX_GUEST_SMBASE = 0x4828,
	VX_GUEST_SYSENTER_CS = 0x482a,
	VX_PREEMPTION_TIMER = 0x482e,
	VX_HOST_SYSENTER_CS = 0x4c00,
	VX_CR0_MASK = 0x6000, VX_CR4_MASK = 0x6002, VX_CR0_SHADOW = 0x6004, VX_CR4_SHADOW = 0x6006,
	VX_EXIT_QUALIFICATION = 0x6400, VX_IO_RCX = 0x6402, VX_IO_RSI = 0x6404, VX_IO_RDI = 0x6406,
	VX_IO_RIP = 0x6408, VX_GUEST_LINEAR_ADDRESS = 0x640a,
	VX_GUEST_CR0 = 0x6800, VX_GUEST_CR3 = 0x6802, VX_GUEST_CR4 = 0x6804,
	VX_GUEST_ES_BASE = 0x6806, VX_GUEST_CS_BASE = 0x6808, VX_GUEST_SS_BASE = 0x680a,
	VX_GUEST_DS_BASE = 0x680c, VX_GUEST_FS_BASE = 0x680e, VX_GUEST_GS_BASE = 0x6810,
	VX_GUEST_LDTR_BASE = 0x6812, VX_GUEST_TR_BASE = 0x6814, VX_GUEST_GDTR_BASE = 0x6816,
	VX_GUEST_IDTR_BASE = 0x6818, VX_GUEST_DR7 = 0x681a, VX_GUEST_RSP = 0x681c,
	VX_GUEST_RIP = 0x681e, VX_GUEST_RFLAGS = 0x6820, VX_GUEST_PENDING_DBG = 0x6822,
	VX_GUEST_SYSENTER_ESP = 0x6824, VX_GUEST_SYSENTER_EIP = 0x6826,
	VX_HOST_CR0 = 0x6c00, VX_HOST_CR3 = 0x6c02, VX_HOST_CR4 = 0x6c04,
	VX_HOST_FS_BASE = 0x6c06, VX_HOST_GS_BASE = 0x6c08, VX_HOST_TR_BASE = 0x6c0a,
	VX_HOST_GDTR_BASE = 0x6c0c, VX_HOST_IDTR_BASE = 0x6c0e,
	VX_HOST_SYSENTER_ESP = 0x6c10, VX_HOST_SYSENTER_EIP = 0x6c12,
	VX_HOST_RSP = 0x6c14, VX_HOST_RIP = 0x6c16,
};

/* ---- Control bits (SDM 25.6-25.8) -------------------------------------- */
#define VX_PIN_EXTINT            (1u << 0)
#define VX_PIN_NMI               (1u << 3)
#define VX_PIN_VNMI              (1u << 5)
#define VX_PIN_PREEMPT_TIMER     (1u << 6)
#define VX_PROC_INTR_WINDOW      (1u << 2)
#define VX_PROC_TSC_OFFSET       (1u << 3)
#define VX_PROC_HLT              (1u << 7)
#define VX_PROC_INVLPG           (1u << 9)
#define VX_PROC_MWAIT            (1u << 10)
#define VX_PROC_RDPMC            (1u << 11)
#define VX_PROC_RDTSC            (1u << 12)
#define VX_PROC_CR3_LOAD         (1u << 15)
#define VX_PROC_CR3_STORE        (1u << 16)
#define VX_PROC_NMI_WINDOW       (1u << 22)
#define VX_PROC_MOV_DR           (1u << 23)
#define VX_PROC_UNCOND_IO        (1u << 24)
#define VX_PROC_IO_BITMAPS       (1u << 25)
#define VX_PROC_MSR_BITMAPS      (1u << 28)
#define VX_PROC_MONITOR          (1u << 29)
#define VX_PROC_PAUSE            (1u << 30)
#define VX_PROC_SECONDARY        (1u << 31)
#define VX_PROC2_EPT             (1u << 1)
#define VX_PROC2_DESC_TABLE      (1u << 2)
#define VX_PROC2_RDTSCP          (1u << 3)
#define VX_PROC2_VPID            (1u << 5)
#define VX_PROC2_WBINVD          (1u << 6)
#define VX_PROC2_UNRESTRICTED    (1u << 7)
#define VX_PROC2_RDRAND          (1u << 11)
#define VX_PROC2_INVPCID         (1u << 12)
#define VX_PROC2_SHADOW_VMCS     (1u << 14)
#define VX_PROC2_RDSEED          (1u << 16)
#define VX_EXIT_SAVE_DEBUG       (1u << 2)
#define VX_EXIT_HOST_64          (1u << 9)
#define VX_EXIT_ACK_INTR         (1u << 15)
#define VX_EXIT_SAVE_PAT         (1u << 18)
#define VX_EXIT_LOAD_PAT         (1u << 19)
#define VX_EXIT_SAVE_EFER        (1u << 20)
#define VX_EXIT_LOAD_EFER        (1u << 21)
#define VX_ENTRY_LOAD_DEBUG      (1u << 2)
#define VX_ENTRY_IA32E           (1u << 9)
#define VX_ENTRY_LOAD_PAT        (1u << 14)
#define VX_ENTRY_LOAD_EFER       (1u << 15)

/* Interruption information (25.8.3, 28.2.2, 28.2.4) */
#define VX_INTR_VALID            (1u << 31)
#define VX_INTR_ERROR            (1u << 11)
#define VX_INTR_TYPE_EXT         (0u << 8)
#define VX_INTR_TYPE_HW_EXC      (3u << 8)

/* Basic exit reasons (SDM appendix C) */
enum vx_exit {
	VX_EXIT_EXCEPTION = 0, VX_EXIT_EXTINT = 1, VX_EXIT_TRIPLE_FAULT = 2, VX_EXIT_INIT = 3, VX_EXIT_SIPI = 4,
	VX_EXIT_INTR_WINDOW = 7, VX_EXIT_NMI_WINDOW = 8, VX_EXIT_TASK_SWITCH = 9, VX_EXIT_CPUID = 10,
	VX_EXIT_GETSEC = 11, VX_EXIT_HLT = 12, VX_EXIT_INVD = 13, VX_EXIT_INVLPG = 14, VX_EXIT_RDPMC = 15,
	VX_EXIT_RDTSC = 16, VX_EXIT_VMCALL = 18, VX_EXIT_VMCLEAR = 19,
	VX_EXIT_VMLAUNCH = 20, VX_EXIT_VMPTRLD = 21, VX_EXIT_VMPTRST = 22, VX_EXIT_VMREAD = 23,
	VX_EXIT_VMRESUME = 24, VX_EXIT_VMWRITE = 25, VX_EXIT_VMXOFF = 26, VX_EXIT_VMXON = 27,
	VX_EXIT_CR_ACCESS = 28, VX_EXIT_DR_ACCESS = 29, VX_EXIT_IO = 30, VX_EXIT_RDMSR = 31, VX_EXIT_WRMSR = 32,
	VX_EXIT_BAD_GUEST = 33, VX_EXIT_BAD_MSR_LOAD = 34, VX_EXIT_MWAIT = 36, VX_EXIT_MONITOR = 39,
	VX_EXIT_PAUSE = 40, VX_EXIT_GDTR_IDTR = 46, VX_EXIT_LDTR_TR = 47, VX_EXIT_EPT_VIOLATION = 48,
	VX_EXIT_EPT_MISCONFIG = 49, VX_EXIT_INVEPT = 50, VX_EXIT_RDTSCP = 51, VX_EXIT_PREEMPTION_TIMER = 52,
	VX_EXIT_INVVPID = 53, VX_EXIT_WBINVD = 54, VX_EXIT_XSETBV = 55, VX_EXIT_RDRAND = 57, VX_EXIT_INVPCID = 58,
	VX_EXIT_VMFUNC = 59, VX_EXIT_RDSEED = 61,
};
#define VX_EXIT_FAILED_ENTRY     (1u << 31)   /* exit reason bit 31 (28.2.1) */

/* ---- What the processor offers (SDM 24.6, appendix A) ------------------- */
struct vmx_l1_caps {
	uint64_t basic, pin, proc, proc2, exit, entry, misc, ept_vpid;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	bool true_ctls;               /* the controls above are the TRUE_* MSRs (A.2) */
};
static struct vmx_l1_caps vmx_l1;

static inline uint64_t vmx_l1_msr_or0(uint32_t msr)
{
	uint64_t v;
	return rdmsr_safe(msr, &v) ? 0 : v;
}

/* Read the capability MSRs.  With IA32_VMX_BASIC bit 55 the TRUE_* MSRs
 * tell which default-1 controls may really be 0 (A.2), e.g. CR3-load
 * exiting; a hypervisor that wants them off must read those. */
static inline void vmx_l1_read_caps(void)
{
	struct vmx_l1_caps *c = &vmx_l1;
	c->basic = rdmsr(VX_MSR_VMX_BASIC);
	c->true_ctls = c->basic & VX_BASIC_TRUE_CTLS;
	c->pin = rdmsr(c->true_ctls ? VX_MSR_VMX_TRUE_PINBASED : VX_MSR_VMX_PINBASED);
	c->proc = rdmsr(c->true_ctls ? VX_MSR_VMX_TRUE_PROCBASED : VX_MSR_VMX_PROCBASED);
	c->exit = rdmsr(c->true_ctls ? VX_MSR_VMX_TRUE_EXIT : VX_MSR_VMX_EXIT);
	c->entry = rdmsr(c->true_ctls ? VX_MSR_VMX_TRUE_ENTRY : VX_MSR_VMX_ENTRY);
	c->misc = rdmsr(VX_MSR_VMX_MISC);
	c->cr0_fixed0 = rdmsr(VX_MSR_VMX_CR0_FIXED0);
	c->cr0_fixed1 = rdmsr(VX_MSR_VMX_CR0_FIXED1);
	c->cr4_fixed0 = rdmsr(VX_MSR_VMX_CR4_FIXED0);
	c->cr4_fixed1 = rdmsr(VX_MSR_VMX_CR4_FIXED1);
	/* PROCBASED_CTLS2 exists only with "activate secondary controls"
	 * allowed-1, EPT_VPID_CAP only with EPT or VPID allowed-1 (A.3.3, A.10). */
	c->proc2 = (c->proc >> 32) & VX_PROC_SECONDARY ? vmx_l1_msr_or0(VX_MSR_VMX_PROCBASED2) : 0;
	c->ept_vpid = (c->proc2 >> 32) & (VX_PROC2_EPT | VX_PROC2_VPID) ? vmx_l1_msr_or0(VX_MSR_VMX_EPT_VPID_CAP) : 0;
}

/* A control word from a capability MSR (A.3-A.5): bits 31:0 are the
 * allowed-0 settings (1 = must be 1), bits 63:32 the allowed-1 settings
 * (0 = must be 0).  Keep what we want and may have, add what we must. */
static inline uint32_t vmx_l1_ctl(uint64_t cap, uint32_t want)
{
	return (want & (uint32_t)(cap >> 32)) | (uint32_t)cap;
}
static inline bool vmx_l1_may(uint64_t cap, uint32_t bits) { return ((uint32_t)(cap >> 32) & bits) == bits; }

/* ---- VMX instructions (SDM 31.2 conventions) ---------------------------
 * Each returns VX_OK, VX_FAIL_INVALID (CF: no current VMCS, or VMXON's own
 * failure) or VX_FAIL_VALID (ZF: the error number is in the current VMCS's
 * VM-instruction error field, VX_VM_INSTRUCTION_ERROR). */
enum { VX_OK = 0, VX_FAIL_INVALID = 1, VX_FAIL_VALID = 2 };

static inline int vx_result(uint8_t cf, uint8_t zf) { return cf ? VX_FAIL_INVALID : zf ? VX_FAIL_VALID : VX_OK; }

static inline int vx_vmxon(uint64_t pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmxon %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
	return vx_result(cf, zf);
}
static inline int vx_vmxoff(void)
{
	uint8_t cf, zf;
	__asm__ volatile("vmxoff; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : : "cc", "memory");
	return vx_result(cf, zf);
}
static inline int vx_vmclear(uint64_t pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmclear %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
	return vx_result(cf, zf);
}
static inline int vx_vmptrld(uint64_t pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmptrld %2; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(pa) : "cc", "memory");
	return vx_result(cf, zf);
}
static inline int vx_vmptrst(uint64_t *pa)
{
	uint8_t cf, zf;
	__asm__ volatile("vmptrst %0; setc %1; setz %2" : "=m"(*pa), "=qm"(cf), "=qm"(zf) : : "cc", "memory");
	return vx_result(cf, zf);
}
static inline int vx_vmread(uint64_t field, uint64_t *v)
{
	uint8_t cf, zf;
	uint64_t val = 0;
	__asm__ volatile("vmread %3, %0; setc %1; setz %2" : "+r"(val), "=qm"(cf), "=qm"(zf) : "r"(field) : "cc");
	*v = val;
	return vx_result(cf, zf);
}
static inline int vx_vmwrite(uint64_t field, uint64_t v)
{
	uint8_t cf, zf;
	__asm__ volatile("vmwrite %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "r"(v), "r"(field) : "cc", "memory");
	return vx_result(cf, zf);
}
/* INVEPT type 1 (single context) / 2 (all contexts), SDM 31.3 "INVEPT". */
static inline int vx_invept(uint64_t type, uint64_t eptp)
{
	struct { uint64_t eptp, zero; } desc = { eptp, 0 };
	uint8_t cf, zf;
	__asm__ volatile("invept %2, %3; setc %0; setz %1" : "=qm"(cf), "=qm"(zf) : "m"(desc), "r"(type) : "cc", "memory");
	return vx_result(cf, zf);
}

/* The VM-instruction error of the current VMCS (0 if it cannot be read). */
static inline uint32_t vx_insn_error(void)
{
	uint64_t e;
	return vx_vmread(VX_VM_INSTRUCTION_ERROR, &e) ? 0 : (uint32_t)e;
}

/* SDM 31.4, table "VM-Instruction Error Numbers". */
static inline const char *vx_error_name(uint32_t n)
{
	static const char *const names[] = {
		[1] = "VMCALL in VMX root operation", [2] = "VMCLEAR with invalid physical address",
		[3] = "VMCLEAR with VMXON pointer", [4] = "VMLAUNCH with non-clear VMCS",
		[5] = "VMRESUME with non-launched VMCS", [6] = "VMRESUME after VMXOFF",
		[7] = "VM entry with invalid control fields", [8] = "VM entry with invalid host-state fields",
		[9] = "VMPTRLD with invalid physical address", [10] = "VMPTRLD with VMXON pointer",
		[11] = "VMPTRLD with incorrect revision", [12] = "unsupported VMCS component",
		[13] = "VMWRITE to read-only component", [15] = "VMXON in VMX root operation",
		[26] = "VM entry with events blocked by MOV SS", [28] = "invalid operand to INVEPT/INVVPID",
	};
	return n < sizeof(names) / sizeof(names[0]) && names[n] ? names[n] : "error";
}

/* A VMfail as text: "VMfailInvalid" or "VMfailValid(n: name)". */
static inline const char *vx_fail_text(int r, char *buf, size_t len)
{
	if (r == VX_OK)
		return "success";
	if (r == VX_FAIL_INVALID)
		return "VMfailInvalid";
	uint32_t n = vx_insn_error();
	snprintf(buf, len, "VMfailValid(%u: %s)", n, vx_error_name(n));
	return buf;
}

/* VMREAD/VMWRITE that must work: a failure is a FAIL line naming the
 * field and the error, and counts against the run. */
static inline void vmw(uint32_t field, uint64_t v)
{
	int r = vx_vmwrite(field, v);
	if (r) {
		char b[80];
		rt_check(false, "vmx: VMWRITE", "field %#x <- %#lx: %s", field, (unsigned long)v, vx_fail_text(r, b, sizeof(b)));
	}
}
static inline uint64_t vmr(uint32_t field)
{
	uint64_t v;
	int r = vx_vmread(field, &v);
	if (r) {
		char b[80];
		rt_check(false, "vmx: VMREAD", "field %#x: %s", field, vx_fail_text(r, b, sizeof(b)));
	}
	return v;
}

/* ---- Entering VMX operation (SDM 24.7, 24.8) ---------------------------
 * CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL (locked with VMXON outside SMX
 * allowed, or unlocked: then we set and lock it, as firmware would), the
 * CR0/CR4 fixed bits (A.7, A.8) with CR4.VMXE, the revision identifier
 * (bits 30:0 of IA32_VMX_BASIC) in the VMXON region, VMXON.  Returns NULL
 * on success, else why not. */
static inline const char *vmx_l1_enable(void *vmxon_page)
{
	if (!(cpuid(1, 0).ecx & VX_CPUID1_ECX_VMX))
		return "CPUID.1:ECX.VMX is 0";
	uint64_t fc;
	if (rdmsr_safe(VX_MSR_FEATURE_CONTROL, &fc))
		return "IA32_FEATURE_CONTROL is not readable";
	if (!(fc & VX_FC_LOCKED)) {
		rt_expect_fault(2);
		wrmsr(VX_MSR_FEATURE_CONTROL, fc | VX_FC_LOCKED | VX_FC_VMXON_OUTSIDE_SMX);
		if (rt_fault_taken(NULL))
			return "IA32_FEATURE_CONTROL unlocked and not writable";
	} else if (!(fc & VX_FC_VMXON_OUTSIDE_SMX)) {
		return "IA32_FEATURE_CONTROL locked with VMX outside SMX off";
	}
	vmx_l1_read_caps();
	write_cr0((read_cr0() | vmx_l1.cr0_fixed0) & vmx_l1.cr0_fixed1);
	write_cr4((read_cr4() | vmx_l1.cr4_fixed0 | CR4_VMXE) & vmx_l1.cr4_fixed1);
	memset(vmxon_page, 0, 4096);
	*(uint32_t *)vmxon_page = (uint32_t)(vmx_l1.basic & 0x7fffffff);
	if (vx_vmxon((uint64_t)vmxon_page) != VX_OK)
		return "VMXON failed";
	return NULL;
}

/* A VMCS region: the revision identifier, then nothing (SDM 25.2); then
 * VMCLEAR (launch state clear) and VMPTRLD (current), SDM 25.11.3. */
static inline int vmx_l1_vmcs_load(void *page)
{
	memset(page, 0, 4096);
	*(uint32_t *)page = (uint32_t)(vmx_l1.basic & 0x7fffffff);
	int r = vx_vmclear((uint64_t)page);
	return r ? r : vx_vmptrld((uint64_t)page);
}

/* ---- Host state (SDM 25.5, checked by 27.2.3) ---------------------------
 * The runtime's GDT (boot/multiboot2/entry.S) has no TSS, and the host TR
 * selector may not be 0 (27.2.3): give the CPU a GDT with a 64-bit TSS.
 * Same code and data selectors as the runtime's (0x08, 0x10), so its IDT
 * stays valid. */
#define VMX_L1_CPUS 2       /* a TSS each: LTR needs one not busy (SDM 7.2.2) */
static uint64_t vmx_l1_gdt[3 + 2 * VMX_L1_CPUS] __attribute__((aligned(16)));
static uint8_t vmx_l1_tss[VMX_L1_CPUS][104] __attribute__((aligned(16)));
#define VX_HOST_CS 0x08
#define VX_HOST_DS 0x10
#define VX_HOST_TR 0x18      /* vCPU 0's TSS; vCPU n's is 0x18 + 16 n */

/* This vCPU's index, from its initial APIC ID (CPUID.1:EBX[31:24]). */
static inline unsigned vmx_l1_cpu(void) { return (cpuid(1, 0).ebx >> 24) % VMX_L1_CPUS; }
static inline uint16_t vmx_l1_tr(unsigned cpu) { return (uint16_t)(VX_HOST_TR + 16 * cpu); }

static inline void vmx_l1_gdt_load(unsigned cpu)
{
	vmx_l1_gdt[0] = 0;
	vmx_l1_gdt[1] = 0x00af9a000000ffffull;                 /* 64-bit code */
	vmx_l1_gdt[2] = 0x00cf92000000ffffull;                 /* data */
	for (unsigned c = 0; c < VMX_L1_CPUS; c++) {
		uint64_t t = (uint64_t)vmx_l1_tss[c];
		uint64_t busy = (c != cpu && (vmx_l1_gdt[3 + 2 * c] >> 40 & 0xf) == 0xb) ? 0x8bull : 0x89ull;
		vmx_l1_gdt[3 + 2 * c] = (sizeof(vmx_l1_tss[c]) - 1) | ((t & 0xffffff) << 16) | (busy << 40) |
					((t >> 24 & 0xff) << 56);   /* 64-bit TSS, available */
		vmx_l1_gdt[4 + 2 * c] = t >> 32;
	}
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = { sizeof(vmx_l1_gdt) - 1, (uint64_t)vmx_l1_gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "pushq $0x08\n\tlea 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n1:\n\t"
			 "ltr %w1" : : "m"(p), "r"(vmx_l1_tr(cpu)) : "rax", "memory");
}

/* Host-state fields from the CPU as it is now; HOST_RIP = vmx_l1_exit,
 * HOST_RSP is written by vmx_l1_enter at every entry.  EFER and PAT are
 * loaded on exit when the CPU offers those exit controls (the caller sets
 * the controls with vmx_l1_exit_controls()). */
void vmx_l1_exit(void);
static inline void vmx_l1_host_state(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
	uint16_t tr;
	unsigned cpu = vmx_l1_cpu();
	__asm__ volatile("sgdt %0; sidt %1; str %2" : "=m"(gdtr), "=m"(idtr), "=r"(tr));
	if (tr != vmx_l1_tr(cpu) || gdtr.base != (uint64_t)vmx_l1_gdt) {
		vmx_l1_gdt_load(cpu);
		__asm__ volatile("sgdt %0" : "=m"(gdtr));
	}
	vmw(VX_HOST_CR0, read_cr0());
	vmw(VX_HOST_CR3, read_cr3());
	vmw(VX_HOST_CR4, read_cr4());
	vmw(VX_HOST_CS_SEL, VX_HOST_CS);
	vmw(VX_HOST_SS_SEL, VX_HOST_DS);
	vmw(VX_HOST_DS_SEL, VX_HOST_DS);
	vmw(VX_HOST_ES_SEL, VX_HOST_DS);
	vmw(VX_HOST_FS_SEL, 0);
	vmw(VX_HOST_GS_SEL, 0);
	vmw(VX_HOST_TR_SEL, vmx_l1_tr(cpu));
	vmw(VX_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmw(VX_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmw(VX_HOST_TR_BASE, (uint64_t)vmx_l1_tss[cpu]);
	vmw(VX_HOST_GDTR_BASE, gdtr.base);
	vmw(VX_HOST_IDTR_BASE, idtr.base);
	vmw(VX_HOST_SYSENTER_CS, rdmsr(VX_MSR_SYSENTER_CS));
	vmw(VX_HOST_SYSENTER_ESP, rdmsr(VX_MSR_SYSENTER_ESP));
	vmw(VX_HOST_SYSENTER_EIP, rdmsr(VX_MSR_SYSENTER_EIP));
	if (vmx_l1_may(vmx_l1.exit, VX_EXIT_LOAD_EFER))
		vmw(VX_HOST_EFER, rdmsr(MSR_EFER));
	if (vmx_l1_may(vmx_l1.exit, VX_EXIT_LOAD_PAT))
		vmw(VX_HOST_PAT, rdmsr(VX_MSR_PAT));
	vmw(VX_HOST_RIP, (uint64_t)vmx_l1_exit);
}

/* VM-exit controls for a 64-bit host: host address-space size, and EFER
 * and PAT saved and loaded where offered, plus `extra`. */
static inline uint32_t vmx_l1_exit_controls(uint32_t extra)
{
	return vmx_l1_ctl(vmx_l1.exit, VX_EXIT_HOST_64 | VX_EXIT_SAVE_DEBUG | VX_EXIT_SAVE_EFER |
					VX_EXIT_LOAD_EFER | VX_EXIT_SAVE_PAT | VX_EXIT_LOAD_PAT | extra);
}

/* ---- Entering the guest ------------------------------------------------
 * vmx_l1_enter(g, launched): write HOST_RSP, load the guest's general
 * registers from g (RSP and RIP are in the VMCS), VMLAUNCH (launched = 0)
 * or VMRESUME; returns VX_FAIL_INVALID / VX_FAIL_VALID if the instruction
 * failed (27.1: the guest never ran), or VX_OK after a VM exit, with the
 * guest's registers stored back into g.  The exit lands at HOST_RIP =
 * vmx_l1_exit with RSP = HOST_RSP (28.5.1), where g's address waits on the
 * stack.  Callee-saved registers are restored from the stack either way. */
struct vmx_l1_gprs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};
int vmx_l1_enter(struct vmx_l1_gprs *g, int launched);
__asm__(
	"	.text\n"
	"	.global vmx_l1_enter, vmx_l1_exit\n"
	"vmx_l1_enter:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	push %rdi\n"                          /* 0(%rsp): g, for the exit */
	"	mov $0x6c14, %eax\n"                  /* HOST_RSP */
	"	vmwrite %rsp, %rax\n"
	"	test %esi, %esi\n"                    /* ZF survives the MOVs below */
	"	mov %rdi, %rax\n"
	"	mov 8(%rax), %rbx\n	mov 16(%rax), %rcx\n	mov 24(%rax), %rdx\n	mov 32(%rax), %rsi\n"
	"	mov 40(%rax), %rdi\n	mov 48(%rax), %rbp\n	mov 56(%rax), %r8\n	mov 64(%rax), %r9\n"
	"	mov 72(%rax), %r10\n	mov 80(%rax), %r11\n	mov 88(%rax), %r12\n	mov 96(%rax), %r13\n"
	"	mov 104(%rax), %r14\n	mov 112(%rax), %r15\n	mov 0(%rax), %rax\n"
	"	jnz 1f\n"
	"	vmlaunch\n"
	"	jmp 2f\n"
	"1:	vmresume\n"
	"2:	mov $1, %eax\n"                       /* still here: VMfailInvalid (CF) ... */
	"	jc 3f\n"
	"	mov $2, %eax\n"                       /* ... or VMfailValid (ZF) */
	"3:	add $8, %rsp\n"
	"	jmp 4f\n"
	"vmx_l1_exit:\n"
	"	push %rax\n"
	"	mov 8(%rsp), %rax\n"
	"	mov %rbx, 8(%rax)\n	mov %rcx, 16(%rax)\n	mov %rdx, 24(%rax)\n	mov %rsi, 32(%rax)\n"
	"	mov %rdi, 40(%rax)\n	mov %rbp, 48(%rax)\n	mov %r8, 56(%rax)\n	mov %r9, 64(%rax)\n"
	"	mov %r10, 72(%rax)\n	mov %r11, 80(%rax)\n	mov %r12, 88(%rax)\n	mov %r13, 96(%rax)\n"
	"	mov %r14, 104(%rax)\n	mov %r15, 112(%rax)\n"
	"	pop %rcx\n	mov %rcx, 0(%rax)\n"
	"	add $8, %rsp\n"
	"	xor %eax, %eax\n"
	"4:	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbp\n	pop %rbx\n"
	"	ret\n");

/* ---- A guest in L1's own 64-bit world (hostile and bench L2s) -----------
 * L1's CR0/CR3/CR4/EFER, flat 64-bit code and data, L1's GDT/IDT/TSS, no
 * EPT: guest-physical = L1-physical.  IA-32e mode guest (25.8.1), so
 * EFER.LMA must match (26.3.1.1).  Interrupts off (RFLAGS = 2). */
static inline void vmx_l1_flat_guest(uint64_t rip, uint64_t rsp)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr, idtr;
	__asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
	static const uint32_t sel[6] = { VX_GUEST_ES_SEL, VX_GUEST_CS_SEL, VX_GUEST_SS_SEL, VX_GUEST_DS_SEL,
					 VX_GUEST_FS_SEL, VX_GUEST_GS_SEL };
	for (int i = 0; i < 6; i++) {
		uint32_t step = sel[i] - VX_GUEST_ES_SEL;           /* 2 per segment in each group */
		vmw(sel[i], i == 1 ? VX_HOST_CS : VX_HOST_DS);
		vmw(VX_GUEST_ES_BASE + step, 0);
		vmw(VX_GUEST_ES_LIMIT + step, 0xffffffff);
		vmw(VX_GUEST_ES_AR + step, i == 1 ? 0xa09b : 0xc093); /* 64-bit code (L=1); data */
	}
	vmw(VX_GUEST_FS_BASE, rdmsr(MSR_FS_BASE));
	vmw(VX_GUEST_GS_BASE, rdmsr(MSR_GS_BASE));
	vmw(VX_GUEST_LDTR_SEL, 0);
	vmw(VX_GUEST_LDTR_BASE, 0);
	vmw(VX_GUEST_LDTR_LIMIT, 0);
	vmw(VX_GUEST_LDTR_AR, 1u << 16);                           /* unusable */
	unsigned cpu = vmx_l1_cpu();
	vmw(VX_GUEST_TR_SEL, vmx_l1_tr(cpu));
	vmw(VX_GUEST_TR_BASE, (uint64_t)vmx_l1_tss[cpu]);
	vmw(VX_GUEST_TR_LIMIT, sizeof(vmx_l1_tss[cpu]) - 1);
	vmw(VX_GUEST_TR_AR, 0x8b);                                 /* busy 64-bit TSS */
	vmw(VX_GUEST_GDTR_BASE, gdtr.base);
	vmw(VX_GUEST_GDTR_LIMIT, gdtr.limit);
	vmw(VX_GUEST_IDTR_BASE, idtr.base);
	vmw(VX_GUEST_IDTR_LIMIT, idtr.limit);
	vmw(VX_GUEST_CR0, read_cr0());
	vmw(VX_GUEST_CR3, read_cr3());
	vmw(VX_GUEST_CR4, read_cr4());
	vmw(VX_CR0_SHADOW, read_cr0());
	vmw(VX_CR4_SHADOW, read_cr4());
	vmw(VX_CR0_MASK, 0);
	vmw(VX_CR4_MASK, 0);
	vmw(VX_GUEST_DR7, 0x400);
	vmw(VX_GUEST_DEBUGCTL, 0);
	vmw(VX_GUEST_SYSENTER_CS, 0);
	vmw(VX_GUEST_SYSENTER_ESP, 0);
	vmw(VX_GUEST_SYSENTER_EIP, 0);
	if (vmx_l1_may(vmx_l1.entry, VX_ENTRY_LOAD_EFER))
		vmw(VX_GUEST_EFER, rdmsr(MSR_EFER));
	if (vmx_l1_may(vmx_l1.entry, VX_ENTRY_LOAD_PAT))
		vmw(VX_GUEST_PAT, rdmsr(VX_MSR_PAT));
	vmw(VX_GUEST_RFLAGS, 2);
	vmw(VX_GUEST_RIP, rip);
	vmw(VX_GUEST_RSP, rsp);
	vmw(VX_GUEST_INTERRUPTIBILITY, 0);
	vmw(VX_GUEST_ACTIVITY, 0);
	vmw(VX_GUEST_PENDING_DBG, 0);
	vmw(VX_VMCS_LINK_POINTER, ~0ull);
}

/*
 * A complete VMCS for a flat L2 (above): the controls the CPU requires plus
 * `pin_extra`, `proc_extra` and `exit_extra`.  So I/O does not exit (no
 * unconditional I/O exiting, no I/O bitmaps) but every RDMSR/WRMSR does
 * (no MSR bitmaps, 26.1.3) unless the caller adds the bitmap controls and
 * writes their addresses.  No EPT unless eptp != 0 (then VPID 1 as well,
 * when offered).  The VMCS must be current.
 */
static inline void vmx_l1_flat_vmcs(uint64_t rip, uint64_t rsp, uint32_t pin_extra, uint32_t proc_extra,
				    uint32_t exit_extra, uint64_t eptp)
{
	uint32_t proc2 = 0;
	if (eptp)
		proc2 = VX_PROC2_EPT | (vmx_l1_may(vmx_l1.proc2, VX_PROC2_VPID) ? VX_PROC2_VPID : 0);
	vmw(VX_PIN_CONTROLS, vmx_l1_ctl(vmx_l1.pin, pin_extra));
	vmw(VX_PROC_CONTROLS, vmx_l1_ctl(vmx_l1.proc, proc_extra | (proc2 ? VX_PROC_SECONDARY : 0)));
	if (vmx_l1.proc2)
		vmw(VX_PROC2_CONTROLS, vmx_l1_ctl(vmx_l1.proc2, proc2));
	vmw(VX_EXIT_CONTROLS, vmx_l1_exit_controls(exit_extra));
	vmw(VX_ENTRY_CONTROLS, vmx_l1_ctl(vmx_l1.entry, VX_ENTRY_IA32E | VX_ENTRY_LOAD_DEBUG |
					  VX_ENTRY_LOAD_EFER | VX_ENTRY_LOAD_PAT));
	vmw(VX_EXCEPTION_BITMAP, 0);
	vmw(VX_PF_ERROR_MASK, 0);
	vmw(VX_PF_ERROR_MATCH, 0);
	vmw(VX_CR3_TARGET_COUNT, 0);
	vmw(VX_EXIT_MSR_STORE_COUNT, 0);
	vmw(VX_EXIT_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_MSR_LOAD_COUNT, 0);
	vmw(VX_ENTRY_INTR_INFO, 0);
	if (eptp) {
		vmw(VX_EPT_POINTER, eptp);
		if (proc2 & VX_PROC2_VPID)
			vmw(VX_VPID, 1);
	}
	vmx_l1_host_state();
	vmx_l1_flat_guest(rip, rsp);
}

/* ---- An identity EPT (SDM 29.3.2) --------------------------------------
 * The first 4 GiB, guest-physical = L1-physical, in 2 MiB pages: WB below
 * 3 GiB, UC above (the MMIO hole: LAPIC, IOAPIC).  Six table pages.
 * Returns the EPTP: WB, 4-level walk (25.6.11). */
#define VX_EPT_RWX   7ull
#define VX_EPT_WB_MT (6ull << 3)
#define VX_EPT_LARGE (1ull << 7)
static inline uint64_t vmx_l1_identity_ept(uint64_t (*t)[512])
{
	memset(t, 0, 6 * 4096);
	t[0][0] = (uint64_t)t[1] | VX_EPT_RWX;                  /* PML4E -> PDPT */
	for (unsigned g = 0; g < 4; g++) {
		t[1][g] = (uint64_t)t[2 + g] | VX_EPT_RWX;      /* PDPTE -> PD */
		for (unsigned i = 0; i < 512; i++) {
			uint64_t pa = ((uint64_t)g << 30) | ((uint64_t)i << 21);
			t[2 + g][i] = pa | VX_EPT_RWX | VX_EPT_LARGE | (g < 3 ? VX_EPT_WB_MT : 0);
		}
	}
	return (uint64_t)t[0] | (3ull << 3) | 6;
}
#endif
