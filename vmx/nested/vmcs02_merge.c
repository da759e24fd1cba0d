/*
 * vmcs02_merge: vmcs12 + vmcs01 -> vmcs02, and back.  See
 * vmx/nested/vmcs02_merge.h for the rules, field by field.
 */
#include "vmx/nested/vmcs02_merge.h"

#include <string.h>

#include "vmx/nested/nvmx_arch.h"

/* The L1 controls Nestor passes through unchanged (the rest either need
 * translation, handled below, or are never advertised to L1). */
#define PIN_PASS   (NVMX_PIN_EXTINT | NVMX_PIN_NMI | NVMX_PIN_VNMI)
#define PROC_PASS  (NVMX_PROC_INTR_WINDOW | NVMX_PROC_HLT | NVMX_PROC_INVLPG |        \
		    NVMX_PROC_MWAIT | NVMX_PROC_RDPMC | NVMX_PROC_RDTSC |               \
		    NVMX_PROC_CR3_LOAD | NVMX_PROC_CR3_STORE | NVMX_PROC_CR8_LOAD |     \
		    NVMX_PROC_CR8_STORE | NVMX_PROC_NMI_WINDOW | NVMX_PROC_MOV_DR |     \
		    NVMX_PROC_MTF | NVMX_PROC_MONITOR | NVMX_PROC_PAUSE)
#define PROC2_PASS (NVMX_PROC2_DESC_TABLE | NVMX_PROC2_RDTSCP | NVMX_PROC2_WBINVD |    \
		    NVMX_PROC2_UG | NVMX_PROC2_RDRAND | NVMX_PROC2_INVPCID |            \
		    NVMX_PROC2_RDSEED | NVMX_PROC2_XSAVES)
/* vmcs02 always saves what L1 may want back, so the way back is exact. */
#define EXIT_SAVE  (NVMX_EXIT_SAVE_DEBUG | NVMX_EXIT_SAVE_PAT | NVMX_EXIT_SAVE_EFER)
/* vmcs02 always loads L2's EFER, PAT and debug controls. */
#define ENTRY_LOAD (NVMX_ENTRY_LOAD_DEBUG | NVMX_ENTRY_LOAD_PAT | NVMX_ENTRY_LOAD_EFER)

static uint32_t proc2_of(const struct vmcs_image *v)
{
	return ((uint32_t)VMCS_GET(v, PROC_BASED_CONTROLS) & NVMX_PROC_SECONDARY) ?
	       (uint32_t)VMCS_GET(v, SECONDARY_CONTROLS) : 0;
}

/* (a * b) >> 48 for the 16.48 fixed-point TSC multiplier; a may be a
 * signed offset (two's complement), b is unsigned. */
static uint64_t mul_frac48(uint64_t a, uint64_t b, bool a_signed)
{
	if (a_signed && (int64_t)a < 0) {
		unsigned __int128 p = (unsigned __int128)(0 - a) * b;
		return 0 - (uint64_t)(p >> 48);
	}
	return (uint64_t)(((unsigned __int128)a * b) >> 48);
}

void vmcs02_tsc_combine(uint64_t m01, uint64_t o01, uint64_t m12, uint64_t o12,
			uint64_t *m02, uint64_t *o02)
{
	if (m01 == 0)
		m01 = VMCS02_TSC_MULT_ONE;
	if (m12 == 0)
		m12 = VMCS02_TSC_MULT_ONE;
	/* L2 = ((host * m01 >> 48) + o01) * m12 >> 48 + o12
	 *    = host * (m01 * m12 >> 48) >> 48 + (o01 * m12 >> 48) + o12
	 * (up to the rounding of the two truncations) */
	*m02 = mul_frac48(m01, m12, false);
	*o02 = mul_frac48(o01, m12, true) + o12;
}

/* One 4 KiB bitmap: out = l0 | (L1's at gpa, or all ones / zeros). */
enum l1_bitmap { L1_BITMAP_NONE, L1_BITMAP_ALL, L1_BITMAP_AT };

static void merge_bitmap(uint8_t *out, const uint8_t *l0, enum l1_bitmap how,
			 uint64_t gpa, const struct gmem *l1)
{
	if (how == L1_BITMAP_AT && gmem_read(l1, gpa, out, VMCS02_BITMAP_SIZE) != 0)
		how = L1_BITMAP_ALL;    /* not in L1 RAM: intercept everything */
	if (how == L1_BITMAP_ALL)
		memset(out, 0xff, VMCS02_BITMAP_SIZE);
	else if (how == L1_BITMAP_NONE)
		memset(out, 0, VMCS02_BITMAP_SIZE);
	for (unsigned i = 0; i < VMCS02_BITMAP_SIZE; i += 8) {
		uint64_t a, b;
		memcpy(&a, out + i, 8);
		memcpy(&b, l0 + i, 8);
		a |= b;
		memcpy(out + i, &a, 8);
	}
}

/* The MSR bitmap (25.6.9) when L0 lets only `pass` through: out is all
 * ones but for those MSRs' read and write bits, which are L1's. */
static void merge_msr_sparse(uint8_t *out, const uint32_t *pass, unsigned count,
			     const struct vmcs_image *v12, const struct gmem *l1)
{
	for (unsigned i = 0; i < count; i++) {
		uint32_t msr = pass[i];
		unsigned off = msr <= 0x1fffu ? 0 : 1024;
		for (unsigned w = 0; w < 2; w++) {
			unsigned bit = (off + w * 2048) * 8 + (msr & 0x1fffu);
			uint8_t m = (uint8_t)(1u << (bit % 8));
			if (nvmx_l1_wants_msr(v12, l1, msr, w))
				out[bit / 8] |= m;
			else
				out[bit / 8] &= (uint8_t)~m;
		}
	}
}

/* The dense indexes of the guest-state and host-state fields, listed once
 * (the table is sorted by encoding, not by type). */
static uint8_t type_idx[2][VMCS_FIELD_COUNT];
static unsigned type_count[2];
static bool type_lists_built;

static void copy_type(struct vmcs_image *dst, const struct vmcs_image *src, unsigned type)
{
	if (!__atomic_load_n(&type_lists_built, __ATOMIC_ACQUIRE)) {
		unsigned n[2] = { 0, 0 };
		for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
			if (vmcs_field_table[i].type == VMCS_TYPE_GUEST || vmcs_field_table[i].type == VMCS_TYPE_HOST) {
				unsigned t = vmcs_field_table[i].type - VMCS_TYPE_GUEST;
				type_idx[t][n[t]++] = (uint8_t)i;
			}
		type_count[0] = n[0];
		type_count[1] = n[1];
		__atomic_store_n(&type_lists_built, true, __ATOMIC_RELEASE);
	}
	unsigned t = type - VMCS_TYPE_GUEST;
	for (unsigned k = 0; k < type_count[t]; k++)
		dst->v[type_idx[t][k]] = src->v[type_idx[t][k]];
}

void vmcs02_merge(struct vmcs_image *v02, const struct vmcs_image *v12,
		  const struct vmcs_image *v01, const struct vmcs02_l0 *l0,
		  const struct vmx_caps *hw, const struct gmem *l1,
		  struct vmcs02_info *info)
{
	uint32_t pin12 = (uint32_t)VMCS_GET(v12, PIN_BASED_CONTROLS);
	uint32_t proc12 = (uint32_t)VMCS_GET(v12, PROC_BASED_CONTROLS);
	uint32_t proc2_12 = proc2_of(v12);
	uint32_t entry12 = (uint32_t)VMCS_GET(v12, ENTRY_CONTROLS);
	uint32_t pin, proc, proc2, exitc, entry;
	uint64_t m02, o02, m12, o12;
	bool ug = (proc2_12 & NVMX_PROC2_UG) != 0;
	uint64_t cr0_12 = VMCS_GET(v12, GUEST_CR0), cr4_12 = VMCS_GET(v12, GUEST_CR4);
	uint64_t mask12, force, efer;
	uint32_t exc0, exc12;

	memset(v02, 0, sizeof *v02);
	memset(info, 0, sizeof *info);

	/* ---- guest state (25.4), then the fields merged below ---- */
	copy_type(v02, v12, VMCS_TYPE_GUEST);
	VMCS_SET(v02, VMCS_LINK_POINTER, ~0ull);

	/* ---- host state (25.5): L0's ---- */
	copy_type(v02, v01, VMCS_TYPE_HOST);

	/* ---- pin-based controls; VMX-preemption timer (25.6.1, 26.5.1) ---- */
	pin = l0->pin | (pin12 & PIN_PASS);
	/* L1's timer runs in vmcs02; L0 reloads its value at every entry
	 * from the deadline (vmcs02_l1_timer_deadline) */
	info->l1_timer = (pin12 & NVMX_PIN_PREEMPT) != 0;
	info->l1_timer_left = 0;
	if (info->l1_timer) {
		pin |= NVMX_PIN_PREEMPT;
		VMCS_SET(v02, PREEMPTION_TIMER_VALUE, VMCS_GET(v12, PREEMPTION_TIMER_VALUE));
	}
	VMCS_SET(v02, PIN_BASED_CONTROLS, vmx_ctl_adjust(hw->pinbased, pin));

	/* ---- processor-based controls (25.6.2) ---- */
	proc = l0->proc | (proc12 & PROC_PASS) | NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS;
	proc &= ~NVMX_PROC_UNCOND_IO;           /* the merged bitmaps say it */
	proc2 = l0->proc2 | (proc2_12 & PROC2_PASS);

	/* TSC offsetting and scaling (25.6.5) */
	o12 = (proc12 & NVMX_PROC_TSC_OFFSET) ? VMCS_GET(v12, TSC_OFFSET) : 0;
	m12 = ((proc12 & NVMX_PROC_TSC_OFFSET) && (proc2_12 & NVMX_PROC2_TSC_SCALING)) ?
	      VMCS_GET(v12, TSC_MULTIPLIER) : VMCS02_TSC_MULT_ONE;
	vmcs02_tsc_combine(l0->tsc_multiplier, l0->tsc_offset, m12, o12, &m02, &o02);
	if (o02 != 0 || m02 != VMCS02_TSC_MULT_ONE || (l0->proc & NVMX_PROC_TSC_OFFSET))
		proc |= NVMX_PROC_TSC_OFFSET;
	VMCS_SET(v02, TSC_OFFSET, o02);
	if (m02 != VMCS02_TSC_MULT_ONE) {
		proc2 |= NVMX_PROC2_TSC_SCALING;
		VMCS_SET(v02, TSC_MULTIPLIER, m02);
	}

	proc2 = vmx_ctl_adjust(hw->procbased2, proc2);
	if (proc2)
		proc |= NVMX_PROC_SECONDARY;
	VMCS_SET(v02, PROC_BASED_CONTROLS, vmx_ctl_adjust(hw->procbased, proc));
	VMCS_SET(v02, SECONDARY_CONTROLS, proc2);
	if (proc2 & NVMX_PROC2_XSAVES)
		VMCS_SET(v02, XSS_EXIT_BITMAP, VMCS_GET(v12, XSS_EXIT_BITMAP));
	if (proc2 & NVMX_PROC2_VPID)
		VMCS_SET(v02, VPID, l0->vpid02);
	VMCS_SET(v02, EPT_POINTER, l0->eptp02);

	/* ---- exception bitmap, #PF error-code mask/match (25.6.3) ---- */
	exc0 = l0->exception_bitmap;
	exc12 = (uint32_t)VMCS_GET(v12, EXCEPTION_BITMAP);
	if (exc0 & (1u << NVMX_VEC_PF)) {
		/* L0 takes every #PF and asks exit_reflect about L1's rule */
		VMCS_SET(v02, EXCEPTION_BITMAP, exc0 | exc12);
		VMCS_SET(v02, PF_ERROR_CODE_MASK, 0);
		VMCS_SET(v02, PF_ERROR_CODE_MATCH, 0);
	} else {
		vmcs_set(v02, VMCS_EXCEPTION_BITMAP,
			 ((exc0 | exc12) & ~(1u << NVMX_VEC_PF)) |
			 (exc12 & (1u << NVMX_VEC_PF)));
		VMCS_SET(v02, PF_ERROR_CODE_MASK, VMCS_GET(v12, PF_ERROR_CODE_MASK));
		VMCS_SET(v02, PF_ERROR_CODE_MATCH, VMCS_GET(v12, PF_ERROR_CODE_MATCH));
	}

	/* ---- I/O bitmaps (25.6.4) and MSR bitmap (25.6.9) ---- */
	if (l0->io_all_hpa) {
		/* L0 takes every port: its bitmaps are already the union */
		VMCS_SET(v02, IO_BITMAP_A, l0->io_all_hpa);
		VMCS_SET(v02, IO_BITMAP_B, l0->io_all_hpa + VMCS02_BITMAP_SIZE);
	} else {
		merge_bitmap(l0->io_a, l0->l0_io_a,
			     (proc12 & NVMX_PROC_IO_BITMAPS) ? L1_BITMAP_AT :
			     (proc12 & NVMX_PROC_UNCOND_IO) ? L1_BITMAP_ALL : L1_BITMAP_NONE,
			     VMCS_GET(v12, IO_BITMAP_A), l1);
		merge_bitmap(l0->io_b, l0->l0_io_b,
			     (proc12 & NVMX_PROC_IO_BITMAPS) ? L1_BITMAP_AT :
			     (proc12 & NVMX_PROC_UNCOND_IO) ? L1_BITMAP_ALL : L1_BITMAP_NONE,
			     VMCS_GET(v12, IO_BITMAP_B), l1);
		VMCS_SET(v02, IO_BITMAP_A, l0->io_a_hpa);
		VMCS_SET(v02, IO_BITMAP_B, l0->io_b_hpa);
	}
	if (l0->msr_pass)
		merge_msr_sparse(l0->msr, l0->msr_pass, l0->msr_pass_count, v12, l1);
	else
		merge_bitmap(l0->msr, l0->l0_msr,
			     (proc12 & NVMX_PROC_MSR_BITMAPS) ? L1_BITMAP_AT : L1_BITMAP_ALL,
			     VMCS_GET(v12, MSR_BITMAP), l1);
	VMCS_SET(v02, MSR_BITMAP, l0->msr_hpa);

	/* ---- CR0/CR4 masks, read shadows, guest values (25.6.6) ---- */
	mask12 = VMCS_GET(v12, CR0_GUEST_HOST_MASK);
	force = hw->cr0_fixed0 & ~(ug ? (NVMX_CR0_PE | NVMX_CR0_PG) : 0);
	VMCS_SET(v02, CR0_GUEST_HOST_MASK, l0->cr0_mask | mask12 | force);
	vmcs_set(v02, VMCS_CR0_READ_SHADOW,
		 (VMCS_GET(v12, CR0_READ_SHADOW) & mask12) | (cr0_12 & ~mask12));
	VMCS_SET(v02, GUEST_CR0, cr0_12 | force);
	mask12 = VMCS_GET(v12, CR4_GUEST_HOST_MASK);
	force = hw->cr4_fixed0;
	VMCS_SET(v02, CR4_GUEST_HOST_MASK, l0->cr4_mask | mask12 | force);
	vmcs_set(v02, VMCS_CR4_READ_SHADOW,
		 (VMCS_GET(v12, CR4_READ_SHADOW) & mask12) | (cr4_12 & ~mask12));
	VMCS_SET(v02, GUEST_CR4, cr4_12 | force);

	/* ---- CR3-target controls (25.6.7) ---- */
	if (!(l0->proc & NVMX_PROC_CR3_LOAD)) {
		VMCS_SET(v02, CR3_TARGET_COUNT, VMCS_GET(v12, CR3_TARGET_COUNT));
		for (unsigned i = 0; i < 4; i++)
			vmcs_set(v02, VMCS_CR3_TARGET0 + 2 * i,
				 vmcs_get(v12, VMCS_CR3_TARGET0 + 2 * i));
	}

	/* ---- VM-exit controls (25.7): L0's host side, always save ---- */
	exitc = l0->exit | EXIT_SAVE;
	if (pin & NVMX_PIN_PREEMPT)
		exitc |= NVMX_EXIT_SAVE_PREEMPT;
	VMCS_SET(v02, EXIT_CONTROLS, vmx_ctl_adjust(hw->exit, exitc));

	/* ---- VM-entry controls (25.8) and what they load (27.3.2.1) ---- */
	entry = l0->entry | ENTRY_LOAD | (entry12 & (NVMX_ENTRY_IA32E | NVMX_ENTRY_LOAD_PERF));
	VMCS_SET(v02, ENTRY_CONTROLS, vmx_ctl_adjust(hw->entry, entry));
	if (!(entry12 & NVMX_ENTRY_LOAD_EFER)) {
		bool ia32e = (entry12 & NVMX_ENTRY_IA32E) != 0;
		efer = VMCS_GET(v01, GUEST_IA32_EFER) & ~NVMX_EFER_LMA;
		if (ia32e)
			efer |= NVMX_EFER_LMA;
		if (cr0_12 & NVMX_CR0_PG)
			efer = ia32e ? (efer | NVMX_EFER_LME) : (efer & ~NVMX_EFER_LME);
		VMCS_SET(v02, GUEST_IA32_EFER, efer);
	}
	if (!(entry12 & NVMX_ENTRY_LOAD_PAT))
		VMCS_SET(v02, GUEST_IA32_PAT, VMCS_GET(v01, GUEST_IA32_PAT));
	if (!(entry12 & NVMX_ENTRY_LOAD_DEBUG)) {
		VMCS_SET(v02, GUEST_IA32_DEBUGCTL, VMCS_GET(v01, GUEST_IA32_DEBUGCTL));
		VMCS_SET(v02, GUEST_DR7, VMCS_GET(v01, GUEST_DR7));
	}

	/* ---- event injection (25.8.3) ---- */
	VMCS_SET(v02, ENTRY_INTR_INFO, VMCS_GET(v12, ENTRY_INTR_INFO));
	vmcs_set(v02, VMCS_ENTRY_EXCEPTION_ERROR_CODE,
		 VMCS_GET(v12, ENTRY_EXCEPTION_ERROR_CODE));
	VMCS_SET(v02, ENTRY_INSTRUCTION_LEN, VMCS_GET(v12, ENTRY_INSTRUCTION_LEN));
	/* MSR-load/store counts stay 0 (memset): emulated by L0. */
}

/* ---- the way back (28.2 recording exit information, 28.3 saving guest
 * state) ---- */

void vmcs02_exit_to_vmcs12(struct vmcs_image *v12, const struct vmcs_image *v02,
			   const struct nvmx_exit *e, const struct vmcs02_info *info)
{
	uint32_t exit12 = (uint32_t)VMCS_GET(v12, EXIT_CONTROLS);
	uint64_t keep_link = VMCS_GET(v12, VMCS_LINK_POINTER);
	uint64_t keep_efer = VMCS_GET(v12, GUEST_IA32_EFER);
	uint64_t keep_pat = VMCS_GET(v12, GUEST_IA32_PAT);
	uint64_t keep_dbgctl = VMCS_GET(v12, GUEST_IA32_DEBUGCTL);
	uint64_t keep_dr7 = VMCS_GET(v12, GUEST_DR7);
	uint64_t keep_timer = VMCS_GET(v12, PREEMPTION_TIMER_VALUE);
	uint64_t keep_perf = VMCS_GET(v12, GUEST_IA32_PERF_GLOBAL_CTRL);
	uint64_t l0only;
	uint32_t entry12;

	/* exit information (28.2) */
	VMCS_SET(v12, EXIT_REASON, e->reason);
	VMCS_SET(v12, EXIT_QUALIFICATION, e->qual);
	VMCS_SET(v12, GUEST_LINEAR_ADDRESS, e->gla);
	VMCS_SET(v12, GUEST_PHYSICAL_ADDRESS, e->gpa);
	VMCS_SET(v12, EXIT_INTR_INFO, e->intr_info);
	VMCS_SET(v12, EXIT_INTR_ERROR_CODE, e->intr_error);
	VMCS_SET(v12, IDT_VECTORING_INFO, e->idt_info);
	VMCS_SET(v12, IDT_VECTORING_ERROR_CODE, e->idt_error);
	VMCS_SET(v12, EXIT_INSTRUCTION_LEN, e->insn_len);
	VMCS_SET(v12, VMX_INSTRUCTION_INFO, e->insn_info);
	VMCS_SET(v12, IO_RCX, e->io_rcx);
	VMCS_SET(v12, IO_RSI, e->io_rsi);
	VMCS_SET(v12, IO_RDI, e->io_rdi);
	VMCS_SET(v12, IO_RIP, e->io_rip);

	/* guest state (28.3) */
	copy_type(v12, v02, VMCS_TYPE_GUEST);
	VMCS_SET(v12, VMCS_LINK_POINTER, keep_link);
	l0only = VMCS_GET(v02, CR0_GUEST_HOST_MASK) & ~VMCS_GET(v12, CR0_GUEST_HOST_MASK);
	VMCS_SET(v12, GUEST_CR0, (VMCS_GET(v02, GUEST_CR0) & ~l0only) |
		 (VMCS_GET(v02, CR0_READ_SHADOW) & l0only));
	l0only = VMCS_GET(v02, CR4_GUEST_HOST_MASK) & ~VMCS_GET(v12, CR4_GUEST_HOST_MASK);
	VMCS_SET(v12, GUEST_CR4, (VMCS_GET(v02, GUEST_CR4) & ~l0only) |
		 (VMCS_GET(v02, CR4_READ_SHADOW) & l0only));
	if (!(exit12 & NVMX_EXIT_SAVE_EFER))
		VMCS_SET(v12, GUEST_IA32_EFER, keep_efer);
	if (!(exit12 & NVMX_EXIT_SAVE_PAT))
		VMCS_SET(v12, GUEST_IA32_PAT, keep_pat);
	if (!(exit12 & NVMX_EXIT_SAVE_DEBUG)) {
		VMCS_SET(v12, GUEST_IA32_DEBUGCTL, keep_dbgctl);
		VMCS_SET(v12, GUEST_DR7, keep_dr7);
	}
	VMCS_SET(v12, GUEST_IA32_PERF_GLOBAL_CTRL, keep_perf);
	/* 28.3: "save VMX-preemption timer value": what was left of it */
	if ((exit12 & NVMX_EXIT_SAVE_PREEMPT) && info->l1_timer)
		VMCS_SET(v12, PREEMPTION_TIMER_VALUE, info->l1_timer_left);
	else
		VMCS_SET(v12, PREEMPTION_TIMER_VALUE, keep_timer);

	/* 28.2: "IA-32e mode guest" := EFER.LMA; entry interruption info
	 * valid bit cleared */
	entry12 = (uint32_t)VMCS_GET(v12, ENTRY_CONTROLS) & ~NVMX_ENTRY_IA32E;
	if (VMCS_GET(v02, GUEST_IA32_EFER) & NVMX_EFER_LMA)
		entry12 |= NVMX_ENTRY_IA32E;
	VMCS_SET(v12, ENTRY_CONTROLS, entry12);
	VMCS_SET(v12, ENTRY_INTR_INFO, (uint32_t)VMCS_GET(v12, ENTRY_INTR_INFO) & ~NVMX_INTR_VALID);
}

void vmcs02_entry_fail_to_vmcs12(struct vmcs_image *v12, uint32_t reason, uint64_t qual)
{
	VMCS_SET(v12, EXIT_REASON, reason | VMX_EXIT_REASON_ENTRY_FAILURE);
	VMCS_SET(v12, EXIT_QUALIFICATION, qual);
}

/* ---- 28.5 loading host state ---- */

const uint32_t vmcs02_l1_state_fields[] = {
	VMCS_GUEST_CR0, VMCS_GUEST_CR3, VMCS_GUEST_CR4, VMCS_GUEST_DR7,
	VMCS_GUEST_IA32_DEBUGCTL, VMCS_GUEST_IA32_SYSENTER_CS,
	VMCS_GUEST_IA32_SYSENTER_ESP, VMCS_GUEST_IA32_SYSENTER_EIP,
	VMCS_GUEST_IA32_EFER, VMCS_GUEST_IA32_PAT, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL,
	VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR,
	VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR,
	VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR,
	VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR,
	VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR,
	VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR,
	VMCS_GUEST_TR_SELECTOR, VMCS_GUEST_TR_BASE, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR,
	VMCS_GUEST_LDTR_SELECTOR, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR,
	VMCS_GUEST_GDTR_BASE, VMCS_GUEST_GDTR_LIMIT, VMCS_GUEST_IDTR_BASE, VMCS_GUEST_IDTR_LIMIT,
	VMCS_GUEST_RIP, VMCS_GUEST_RSP, VMCS_GUEST_RFLAGS,
	VMCS_GUEST_INTERRUPTIBILITY, VMCS_GUEST_ACTIVITY_STATE,
	VMCS_GUEST_PENDING_DBG_EXCEPTIONS, VMCS_ENTRY_CONTROLS,
};
const unsigned vmcs02_l1_state_count =
	sizeof vmcs02_l1_state_fields / sizeof vmcs02_l1_state_fields[0];

#define AR_UNUSABLE   (1u << 16)
#define AR_DATA       0xc093u   /* type 3, S, DPL 0, P, D/B, G */
#define AR_CODE64     0xa09bu   /* type 11, S, DPL 0, P, L, G */
#define AR_CODE32     0xc09bu   /* type 11, S, DPL 0, P, D, G */
#define AR_TSS_BUSY   0x008bu   /* type 11 (busy TSS), P */

/* 28.5.2, a data segment: the selector from its host field, the base from
 * its host field (FS, GS) or 0, limit 4 GiB, and "unusable if its
 * selector is loaded with zero". */
#define LOAD_HOST_DATA_SEG(seg, base)                                            \
	do {                                                                     \
		uint64_t sel = VMCS_GET(v12, HOST_##seg##_SELECTOR);             \
		VMCS_SET(v01, GUEST_##seg##_SELECTOR, sel);                      \
		VMCS_SET(v01, GUEST_##seg##_BASE, (base));                       \
		VMCS_SET(v01, GUEST_##seg##_LIMIT, 0xffffffffu);                 \
		VMCS_SET(v01, GUEST_##seg##_AR, sel == 0 ? AR_UNUSABLE : AR_DATA); \
	} while (0)

void vmcs02_load_l1_host_state(struct vmcs_image *v01, const struct vmcs_image *v12,
			       const struct vmx_caps *adv)
{
	uint32_t exit12 = (uint32_t)VMCS_GET(v12, EXIT_CONTROLS);
	bool host64 = (exit12 & NVMX_EXIT_HOST_64) != 0;
	uint64_t keep, fixed, cr4, efer;
	uint32_t entry01;

	/* 28.5.1: CR0 "with the exception of ... ET, CD, NW; bits 63:32,
	 * 28:19, 17, 15:6; and any bits that are fixed in VMX operation" */
	fixed = adv->cr0_fixed0 | ~adv->cr0_fixed1;
	keep = 0xffffffff00000000ull | (1ull << 4) | (1ull << 29) | (1ull << 30) |
	       (0x3ffull << 19) | (1ull << 17) | (0x3ffull << 6) | fixed;
	VMCS_SET(v01, GUEST_CR0, (VMCS_GET(v12, HOST_CR0) & ~keep) |
		 (VMCS_GET(v01, GUEST_CR0) & keep));
	VMCS_SET(v01, GUEST_CR3, VMCS_GET(v12, HOST_CR3));
	/* CR4: "any bits that are fixed in VMX operation"; PAE := 1 and
	 * PCIDE kept only with a 64-bit host */
	fixed = adv->cr4_fixed0 | ~adv->cr4_fixed1;
	cr4 = (VMCS_GET(v12, HOST_CR4) & ~fixed) | (VMCS_GET(v01, GUEST_CR4) & fixed);
	if (host64)
		cr4 |= NVMX_CR4_PAE;
	else
		cr4 &= ~NVMX_CR4_PCIDE;
	VMCS_SET(v01, GUEST_CR4, cr4);
	/* "DR7 is set to 400H"; "IA32_DEBUGCTL is cleared" */
	VMCS_SET(v01, GUEST_DR7, 0x400);
	VMCS_SET(v01, GUEST_IA32_DEBUGCTL, 0);
	VMCS_SET(v01, GUEST_IA32_SYSENTER_CS, VMCS_GET(v12, HOST_IA32_SYSENTER_CS));
	VMCS_SET(v01, GUEST_IA32_SYSENTER_ESP, VMCS_GET(v12, HOST_IA32_SYSENTER_ESP));
	VMCS_SET(v01, GUEST_IA32_SYSENTER_EIP, VMCS_GET(v12, HOST_IA32_SYSENTER_EIP));
	/* EFER: "LMA and LME loaded with host address-space size", or the
	 * whole MSR with "load IA32_EFER" */
	if (exit12 & NVMX_EXIT_LOAD_EFER) {
		efer = VMCS_GET(v12, HOST_IA32_EFER);
	} else {
		efer = VMCS_GET(v01, GUEST_IA32_EFER) & ~(NVMX_EFER_LMA | NVMX_EFER_LME);
		if (host64)
			efer |= NVMX_EFER_LMA | NVMX_EFER_LME;
	}
	VMCS_SET(v01, GUEST_IA32_EFER, efer);
	if (exit12 & NVMX_EXIT_LOAD_PAT)
		VMCS_SET(v01, GUEST_IA32_PAT, VMCS_GET(v12, HOST_IA32_PAT));
	if (exit12 & NVMX_EXIT_LOAD_PERF)
		vmcs_set(v01, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL,
			 VMCS_GET(v12, HOST_IA32_PERF_GLOBAL_CTRL));

	/* 28.5.2: segments */
	VMCS_SET(v01, GUEST_CS_SELECTOR, VMCS_GET(v12, HOST_CS_SELECTOR));
	VMCS_SET(v01, GUEST_CS_BASE, 0);
	VMCS_SET(v01, GUEST_CS_LIMIT, 0xffffffffu);
	VMCS_SET(v01, GUEST_CS_AR, host64 ? AR_CODE64 : AR_CODE32);
	LOAD_HOST_DATA_SEG(ES, 0);
	LOAD_HOST_DATA_SEG(SS, 0);
	LOAD_HOST_DATA_SEG(DS, 0);
	LOAD_HOST_DATA_SEG(FS, VMCS_GET(v12, HOST_FS_BASE));
	LOAD_HOST_DATA_SEG(GS, VMCS_GET(v12, HOST_GS_BASE));
	VMCS_SET(v01, GUEST_TR_SELECTOR, VMCS_GET(v12, HOST_TR_SELECTOR));
	VMCS_SET(v01, GUEST_TR_BASE, VMCS_GET(v12, HOST_TR_BASE));
	VMCS_SET(v01, GUEST_TR_LIMIT, 0x67);
	VMCS_SET(v01, GUEST_TR_AR, AR_TSS_BUSY);
	VMCS_SET(v01, GUEST_LDTR_SELECTOR, 0);
	VMCS_SET(v01, GUEST_LDTR_BASE, 0);
	VMCS_SET(v01, GUEST_LDTR_LIMIT, 0);
	VMCS_SET(v01, GUEST_LDTR_AR, AR_UNUSABLE);
	VMCS_SET(v01, GUEST_GDTR_BASE, VMCS_GET(v12, HOST_GDTR_BASE));
	VMCS_SET(v01, GUEST_GDTR_LIMIT, 0xffff);
	VMCS_SET(v01, GUEST_IDTR_BASE, VMCS_GET(v12, HOST_IDTR_BASE));
	VMCS_SET(v01, GUEST_IDTR_LIMIT, 0xffff);

	/* 28.5.3: "RIP and RSP are loaded from the RIP field and the RSP
	 * field; RFLAGS is cleared, except bit 1, which is always set" */
	VMCS_SET(v01, GUEST_RIP, VMCS_GET(v12, HOST_RIP));
	VMCS_SET(v01, GUEST_RSP, VMCS_GET(v12, HOST_RSP));
	VMCS_SET(v01, GUEST_RFLAGS, 2);
	/* no STI/MOV-SS blocking after a VM exit; NMI blocking as it was */
	VMCS_SET(v01, GUEST_INTERRUPTIBILITY, VMCS_GET(v01, GUEST_INTERRUPTIBILITY) & 8u);
	VMCS_SET(v01, GUEST_ACTIVITY_STATE, 0);
	VMCS_SET(v01, GUEST_PENDING_DBG_EXCEPTIONS, 0);

	/* vmcs01 enters L1 in IA-32e mode iff the host is 64-bit */
	entry01 = (uint32_t)VMCS_GET(v01, ENTRY_CONTROLS) & ~NVMX_ENTRY_IA32E;
	if (host64)
		entry01 |= NVMX_ENTRY_IA32E;
	VMCS_SET(v01, ENTRY_CONTROLS, entry01);
}

bool vmcs02_l1_timer_expired(const struct vmcs02_info *info, uint32_t reason)
{
	return (reason & 0xffffu) == VMX_EXIT_PREEMPTION_TIMER && info->l1_timer &&
	       info->l1_timer_left == 0;
}

uint64_t vmcs02_l1_timer_deadline(uint32_t value, unsigned rate, uint64_t entry_tsc)
{
	return entry_tsc + ((uint64_t)value << (rate & 31));
}

uint32_t vmcs02_l1_timer_left(uint64_t deadline, unsigned rate, uint64_t now)
{
	if (now >= deadline)
		return 0;
	uint64_t left = (deadline - now) >> (rate & 31);
	return left > 0xffffffffu ? 0xffffffffu : (uint32_t)left;
}
