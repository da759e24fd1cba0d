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

static uint32_t get32(const struct vmcs_image *v, uint32_t enc)
{
	return (uint32_t)vmcs_get(v, enc);
}

static uint32_t proc2_of(const struct vmcs_image *v)
{
	return (get32(v, VMCS_PROC_BASED_CONTROLS) & NVMX_PROC_SECONDARY) ?
	       get32(v, VMCS_SECONDARY_CONTROLS) : 0;
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

static void copy_type(struct vmcs_image *dst, const struct vmcs_image *src, unsigned type)
{
	for (unsigned i = 0; i < VMCS_FIELD_COUNT; i++)
		if (vmcs_field_table[i].type == type)
			dst->v[i] = src->v[i];
}

void vmcs02_merge(struct vmcs_image *v02, const struct vmcs_image *v12,
		  const struct vmcs_image *v01, const struct vmcs02_l0 *l0,
		  const struct vmx_caps *hw, const struct gmem *l1,
		  struct vmcs02_info *info)
{
	uint32_t pin12 = get32(v12, VMCS_PIN_BASED_CONTROLS);
	uint32_t proc12 = get32(v12, VMCS_PROC_BASED_CONTROLS);
	uint32_t proc2_12 = proc2_of(v12);
	uint32_t entry12 = get32(v12, VMCS_ENTRY_CONTROLS);
	uint32_t pin, proc, proc2, exitc, entry;
	uint64_t m02, o02, m12, o12;
	bool ug = (proc2_12 & NVMX_PROC2_UG) != 0;
	uint64_t cr0_12 = vmcs_get(v12, VMCS_GUEST_CR0), cr4_12 = vmcs_get(v12, VMCS_GUEST_CR4);
	uint64_t mask12, force, efer;
	uint32_t exc0, exc12;

	memset(v02, 0, sizeof *v02);
	memset(info, 0, sizeof *info);

	/* ---- guest state (25.4), then the fields merged below ---- */
	copy_type(v02, v12, VMCS_TYPE_GUEST);
	vmcs_set(v02, VMCS_VMCS_LINK_POINTER, ~0ull);

	/* ---- host state (25.5): L0's ---- */
	copy_type(v02, v01, VMCS_TYPE_HOST);

	/* ---- pin-based controls; VMX-preemption timer (25.6.1, 26.5.1) ---- */
	pin = l0->pin | (pin12 & PIN_PASS);
	info->l1_timer = (pin12 & NVMX_PIN_PREEMPT) != 0;
	if (info->l1_timer || l0->preempt_timer) {
		uint32_t t12 = get32(v12, VMCS_PREEMPTION_TIMER_VALUE), t;
		if (!info->l1_timer)
			t = l0->preempt_timer;
		else if (l0->preempt_timer && l0->preempt_timer < t12)
			t = l0->preempt_timer;
		else
			t = t12;
		info->timer_bias = info->l1_timer ? t12 - t : 0;
		pin |= NVMX_PIN_PREEMPT;
		vmcs_set(v02, VMCS_PREEMPTION_TIMER_VALUE, t);
	}
	vmcs_set(v02, VMCS_PIN_BASED_CONTROLS, vmx_ctl_adjust(hw->pinbased, pin));

	/* ---- processor-based controls (25.6.2) ---- */
	proc = l0->proc | (proc12 & PROC_PASS) | NVMX_PROC_IO_BITMAPS | NVMX_PROC_MSR_BITMAPS;
	proc &= ~NVMX_PROC_UNCOND_IO;           /* the merged bitmaps say it */
	proc2 = l0->proc2 | (proc2_12 & PROC2_PASS);

	/* TSC offsetting and scaling (25.6.5) */
	o12 = (proc12 & NVMX_PROC_TSC_OFFSET) ? vmcs_get(v12, VMCS_TSC_OFFSET) : 0;
	m12 = ((proc12 & NVMX_PROC_TSC_OFFSET) && (proc2_12 & NVMX_PROC2_TSC_SCALING)) ?
	      vmcs_get(v12, VMCS_TSC_MULTIPLIER) : VMCS02_TSC_MULT_ONE;
	vmcs02_tsc_combine(l0->tsc_multiplier, l0->tsc_offset, m12, o12, &m02, &o02);
	if (o02 != 0 || m02 != VMCS02_TSC_MULT_ONE || (l0->proc & NVMX_PROC_TSC_OFFSET))
		proc |= NVMX_PROC_TSC_OFFSET;
	vmcs_set(v02, VMCS_TSC_OFFSET, o02);
	if (m02 != VMCS02_TSC_MULT_ONE) {
		proc2 |= NVMX_PROC2_TSC_SCALING;
		vmcs_set(v02, VMCS_TSC_MULTIPLIER, m02);
	}

	proc2 = vmx_ctl_adjust(hw->procbased2, proc2);
	if (proc2)
		proc |= NVMX_PROC_SECONDARY;
	vmcs_set(v02, VMCS_PROC_BASED_CONTROLS, vmx_ctl_adjust(hw->procbased, proc));
	vmcs_set(v02, VMCS_SECONDARY_CONTROLS, proc2);
	if (proc2 & NVMX_PROC2_XSAVES)
		vmcs_set(v02, VMCS_XSS_EXIT_BITMAP, vmcs_get(v12, VMCS_XSS_EXIT_BITMAP));
	if (proc2 & NVMX_PROC2_VPID)
		vmcs_set(v02, VMCS_VPID, l0->vpid02);
	vmcs_set(v02, VMCS_EPT_POINTER, l0->eptp02);

	/* ---- exception bitmap, #PF error-code mask/match (25.6.3) ---- */
	exc0 = l0->exception_bitmap;
	exc12 = get32(v12, VMCS_EXCEPTION_BITMAP);
	if (exc0 & (1u << NVMX_VEC_PF)) {
		/* L0 takes every #PF and asks exit_reflect about L1's rule */
		vmcs_set(v02, VMCS_EXCEPTION_BITMAP, exc0 | exc12);
		vmcs_set(v02, VMCS_PF_ERROR_CODE_MASK, 0);
		vmcs_set(v02, VMCS_PF_ERROR_CODE_MATCH, 0);
	} else {
		vmcs_set(v02, VMCS_EXCEPTION_BITMAP,
			 ((exc0 | exc12) & ~(1u << NVMX_VEC_PF)) |
			 (exc12 & (1u << NVMX_VEC_PF)));
		vmcs_set(v02, VMCS_PF_ERROR_CODE_MASK, vmcs_get(v12, VMCS_PF_ERROR_CODE_MASK));
		vmcs_set(v02, VMCS_PF_ERROR_CODE_MATCH, vmcs_get(v12, VMCS_PF_ERROR_CODE_MATCH));
	}

	/* ---- I/O bitmaps (25.6.4) and MSR bitmap (25.6.9) ---- */
	if (l0->io_all_hpa) {
		/* L0 takes every port: its bitmaps are already the union */
		vmcs_set(v02, VMCS_IO_BITMAP_A, l0->io_all_hpa);
		vmcs_set(v02, VMCS_IO_BITMAP_B, l0->io_all_hpa + VMCS02_BITMAP_SIZE);
	} else {
		merge_bitmap(l0->io_a, l0->l0_io_a,
			     (proc12 & NVMX_PROC_IO_BITMAPS) ? L1_BITMAP_AT :
			     (proc12 & NVMX_PROC_UNCOND_IO) ? L1_BITMAP_ALL : L1_BITMAP_NONE,
			     vmcs_get(v12, VMCS_IO_BITMAP_A), l1);
		merge_bitmap(l0->io_b, l0->l0_io_b,
			     (proc12 & NVMX_PROC_IO_BITMAPS) ? L1_BITMAP_AT :
			     (proc12 & NVMX_PROC_UNCOND_IO) ? L1_BITMAP_ALL : L1_BITMAP_NONE,
			     vmcs_get(v12, VMCS_IO_BITMAP_B), l1);
		vmcs_set(v02, VMCS_IO_BITMAP_A, l0->io_a_hpa);
		vmcs_set(v02, VMCS_IO_BITMAP_B, l0->io_b_hpa);
	}
	if (l0->msr_pass)
		merge_msr_sparse(l0->msr, l0->msr_pass, l0->msr_pass_count, v12, l1);
	else
		merge_bitmap(l0->msr, l0->l0_msr,
			     (proc12 & NVMX_PROC_MSR_BITMAPS) ? L1_BITMAP_AT : L1_BITMAP_ALL,
			     vmcs_get(v12, VMCS_MSR_BITMAP), l1);
	vmcs_set(v02, VMCS_MSR_BITMAP, l0->msr_hpa);

	/* ---- CR0/CR4 masks, read shadows, guest values (25.6.6) ---- */
	mask12 = vmcs_get(v12, VMCS_CR0_GUEST_HOST_MASK);
	force = hw->cr0_fixed0 & ~(ug ? (NVMX_CR0_PE | NVMX_CR0_PG) : 0);
	vmcs_set(v02, VMCS_CR0_GUEST_HOST_MASK, l0->cr0_mask | mask12 | force);
	vmcs_set(v02, VMCS_CR0_READ_SHADOW,
		 (vmcs_get(v12, VMCS_CR0_READ_SHADOW) & mask12) | (cr0_12 & ~mask12));
	vmcs_set(v02, VMCS_GUEST_CR0, cr0_12 | force);
	mask12 = vmcs_get(v12, VMCS_CR4_GUEST_HOST_MASK);
	force = hw->cr4_fixed0;
	vmcs_set(v02, VMCS_CR4_GUEST_HOST_MASK, l0->cr4_mask | mask12 | force);
	vmcs_set(v02, VMCS_CR4_READ_SHADOW,
		 (vmcs_get(v12, VMCS_CR4_READ_SHADOW) & mask12) | (cr4_12 & ~mask12));
	vmcs_set(v02, VMCS_GUEST_CR4, cr4_12 | force);

	/* ---- CR3-target controls (25.6.7) ---- */
	if (!(l0->proc & NVMX_PROC_CR3_LOAD)) {
		vmcs_set(v02, VMCS_CR3_TARGET_COUNT, vmcs_get(v12, VMCS_CR3_TARGET_COUNT));
		for (unsigned i = 0; i < 4; i++)
			vmcs_set(v02, VMCS_CR3_TARGET0 + 2 * i,
				 vmcs_get(v12, VMCS_CR3_TARGET0 + 2 * i));
	}

	/* ---- VM-exit controls (25.7): L0's host side, always save ---- */
	exitc = l0->exit | EXIT_SAVE;
	if (pin & NVMX_PIN_PREEMPT)
		exitc |= NVMX_EXIT_SAVE_PREEMPT;
	vmcs_set(v02, VMCS_EXIT_CONTROLS, vmx_ctl_adjust(hw->exit, exitc));

	/* ---- VM-entry controls (25.8) and what they load (27.3.2.1) ---- */
	entry = l0->entry | ENTRY_LOAD | (entry12 & (NVMX_ENTRY_IA32E | NVMX_ENTRY_LOAD_PERF));
	vmcs_set(v02, VMCS_ENTRY_CONTROLS, vmx_ctl_adjust(hw->entry, entry));
	if (!(entry12 & NVMX_ENTRY_LOAD_EFER)) {
		bool ia32e = (entry12 & NVMX_ENTRY_IA32E) != 0;
		efer = vmcs_get(v01, VMCS_GUEST_IA32_EFER) & ~NVMX_EFER_LMA;
		if (ia32e)
			efer |= NVMX_EFER_LMA;
		if (cr0_12 & NVMX_CR0_PG)
			efer = ia32e ? (efer | NVMX_EFER_LME) : (efer & ~NVMX_EFER_LME);
		vmcs_set(v02, VMCS_GUEST_IA32_EFER, efer);
	}
	if (!(entry12 & NVMX_ENTRY_LOAD_PAT))
		vmcs_set(v02, VMCS_GUEST_IA32_PAT, vmcs_get(v01, VMCS_GUEST_IA32_PAT));
	if (!(entry12 & NVMX_ENTRY_LOAD_DEBUG)) {
		vmcs_set(v02, VMCS_GUEST_IA32_DEBUGCTL, vmcs_get(v01, VMCS_GUEST_IA32_DEBUGCTL));
		vmcs_set(v02, VMCS_GUEST_DR7, vmcs_get(v01, VMCS_GUEST_DR7));
	}

	/* ---- event injection (25.8.3) ---- */
	vmcs_set(v02, VMCS_ENTRY_INTR_INFO, vmcs_get(v12, VMCS_ENTRY_INTR_INFO));
	vmcs_set(v02, VMCS_ENTRY_EXCEPTION_ERROR_CODE,
		 vmcs_get(v12, VMCS_ENTRY_EXCEPTION_ERROR_CODE));
	vmcs_set(v02, VMCS_ENTRY_INSTRUCTION_LEN, vmcs_get(v12, VMCS_ENTRY_INSTRUCTION_LEN));
	/* MSR-load/store counts stay 0 (memset): emulated by L0. */
}

/* ---- the way back (28.2 recording exit information, 28.3 saving guest
 * state) ---- */

void vmcs02_exit_to_vmcs12(struct vmcs_image *v12, const struct vmcs_image *v02,
			   const struct nvmx_exit *e, const struct vmcs02_info *info)
{
	uint32_t exit12 = get32(v12, VMCS_EXIT_CONTROLS);
	uint64_t keep_link = vmcs_get(v12, VMCS_VMCS_LINK_POINTER);
	uint64_t keep_efer = vmcs_get(v12, VMCS_GUEST_IA32_EFER);
	uint64_t keep_pat = vmcs_get(v12, VMCS_GUEST_IA32_PAT);
	uint64_t keep_dbgctl = vmcs_get(v12, VMCS_GUEST_IA32_DEBUGCTL);
	uint64_t keep_dr7 = vmcs_get(v12, VMCS_GUEST_DR7);
	uint64_t keep_timer = vmcs_get(v12, VMCS_PREEMPTION_TIMER_VALUE);
	uint64_t keep_perf = vmcs_get(v12, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL);
	uint64_t l0only;
	uint32_t entry12;

	/* exit information (28.2) */
	vmcs_set(v12, VMCS_EXIT_REASON, e->reason);
	vmcs_set(v12, VMCS_EXIT_QUALIFICATION, e->qual);
	vmcs_set(v12, VMCS_GUEST_LINEAR_ADDRESS, e->gla);
	vmcs_set(v12, VMCS_GUEST_PHYSICAL_ADDRESS, e->gpa);
	vmcs_set(v12, VMCS_EXIT_INTR_INFO, e->intr_info);
	vmcs_set(v12, VMCS_EXIT_INTR_ERROR_CODE, e->intr_error);
	vmcs_set(v12, VMCS_IDT_VECTORING_INFO, e->idt_info);
	vmcs_set(v12, VMCS_IDT_VECTORING_ERROR_CODE, e->idt_error);
	vmcs_set(v12, VMCS_EXIT_INSTRUCTION_LEN, e->insn_len);
	vmcs_set(v12, VMCS_VMX_INSTRUCTION_INFO, e->insn_info);
	vmcs_set(v12, VMCS_IO_RCX, e->io_rcx);
	vmcs_set(v12, VMCS_IO_RSI, e->io_rsi);
	vmcs_set(v12, VMCS_IO_RDI, e->io_rdi);
	vmcs_set(v12, VMCS_IO_RIP, e->io_rip);

	/* guest state (28.3) */
	copy_type(v12, v02, VMCS_TYPE_GUEST);
	vmcs_set(v12, VMCS_VMCS_LINK_POINTER, keep_link);
	l0only = vmcs_get(v02, VMCS_CR0_GUEST_HOST_MASK) & ~vmcs_get(v12, VMCS_CR0_GUEST_HOST_MASK);
	vmcs_set(v12, VMCS_GUEST_CR0, (vmcs_get(v02, VMCS_GUEST_CR0) & ~l0only) |
		 (vmcs_get(v02, VMCS_CR0_READ_SHADOW) & l0only));
	l0only = vmcs_get(v02, VMCS_CR4_GUEST_HOST_MASK) & ~vmcs_get(v12, VMCS_CR4_GUEST_HOST_MASK);
	vmcs_set(v12, VMCS_GUEST_CR4, (vmcs_get(v02, VMCS_GUEST_CR4) & ~l0only) |
		 (vmcs_get(v02, VMCS_CR4_READ_SHADOW) & l0only));
	if (!(exit12 & NVMX_EXIT_SAVE_EFER))
		vmcs_set(v12, VMCS_GUEST_IA32_EFER, keep_efer);
	if (!(exit12 & NVMX_EXIT_SAVE_PAT))
		vmcs_set(v12, VMCS_GUEST_IA32_PAT, keep_pat);
	if (!(exit12 & NVMX_EXIT_SAVE_DEBUG)) {
		vmcs_set(v12, VMCS_GUEST_IA32_DEBUGCTL, keep_dbgctl);
		vmcs_set(v12, VMCS_GUEST_DR7, keep_dr7);
	}
	vmcs_set(v12, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, keep_perf);
	if ((exit12 & NVMX_EXIT_SAVE_PREEMPT) && info->l1_timer)
		vmcs_set(v12, VMCS_PREEMPTION_TIMER_VALUE,
			 vmcs_get(v02, VMCS_PREEMPTION_TIMER_VALUE) + info->timer_bias);
	else
		vmcs_set(v12, VMCS_PREEMPTION_TIMER_VALUE, keep_timer);

	/* 28.2: "IA-32e mode guest" := EFER.LMA; entry interruption info
	 * valid bit cleared */
	entry12 = get32(v12, VMCS_ENTRY_CONTROLS) & ~NVMX_ENTRY_IA32E;
	if (vmcs_get(v02, VMCS_GUEST_IA32_EFER) & NVMX_EFER_LMA)
		entry12 |= NVMX_ENTRY_IA32E;
	vmcs_set(v12, VMCS_ENTRY_CONTROLS, entry12);
	vmcs_set(v12, VMCS_ENTRY_INTR_INFO, get32(v12, VMCS_ENTRY_INTR_INFO) & ~NVMX_INTR_VALID);
}

void vmcs02_entry_fail_to_vmcs12(struct vmcs_image *v12, uint32_t reason, uint64_t qual)
{
	vmcs_set(v12, VMCS_EXIT_REASON, reason | VMX_EXIT_REASON_ENTRY_FAILURE);
	vmcs_set(v12, VMCS_EXIT_QUALIFICATION, qual);
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

struct host_seg { uint32_t sel, base, limit, ar, host_sel, host_base; };

void vmcs02_load_l1_host_state(struct vmcs_image *v01, const struct vmcs_image *v12,
			       const struct vmx_caps *adv)
{
	/* selector, guest base/limit/AR, host selector, host base (0 = none) */
	static const struct host_seg data_segs[] = {
		{ VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT,
		  VMCS_GUEST_ES_AR, VMCS_HOST_ES_SELECTOR, 0 },
		{ VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT,
		  VMCS_GUEST_SS_AR, VMCS_HOST_SS_SELECTOR, 0 },
		{ VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT,
		  VMCS_GUEST_DS_AR, VMCS_HOST_DS_SELECTOR, 0 },
		{ VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT,
		  VMCS_GUEST_FS_AR, VMCS_HOST_FS_SELECTOR, VMCS_HOST_FS_BASE },
		{ VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT,
		  VMCS_GUEST_GS_AR, VMCS_HOST_GS_SELECTOR, VMCS_HOST_GS_BASE },
	};
	uint32_t exit12 = get32(v12, VMCS_EXIT_CONTROLS);
	bool host64 = (exit12 & NVMX_EXIT_HOST_64) != 0;
	uint64_t keep, fixed, cr4, efer;
	uint32_t entry01;

	/* 28.5.1: CR0 "with the exception of ... ET, CD, NW; bits 63:32,
	 * 28:19, 17, 15:6; and any bits that are fixed in VMX operation" */
	fixed = adv->cr0_fixed0 | ~adv->cr0_fixed1;
	keep = 0xffffffff00000000ull | (1ull << 4) | (1ull << 29) | (1ull << 30) |
	       (0x3ffull << 19) | (1ull << 17) | (0x3ffull << 6) | fixed;
	vmcs_set(v01, VMCS_GUEST_CR0, (vmcs_get(v12, VMCS_HOST_CR0) & ~keep) |
		 (vmcs_get(v01, VMCS_GUEST_CR0) & keep));
	vmcs_set(v01, VMCS_GUEST_CR3, vmcs_get(v12, VMCS_HOST_CR3));
	/* CR4: "any bits that are fixed in VMX operation"; PAE := 1 and
	 * PCIDE kept only with a 64-bit host */
	fixed = adv->cr4_fixed0 | ~adv->cr4_fixed1;
	cr4 = (vmcs_get(v12, VMCS_HOST_CR4) & ~fixed) | (vmcs_get(v01, VMCS_GUEST_CR4) & fixed);
	if (host64)
		cr4 |= NVMX_CR4_PAE;
	else
		cr4 &= ~NVMX_CR4_PCIDE;
	vmcs_set(v01, VMCS_GUEST_CR4, cr4);
	/* "DR7 is set to 400H"; "IA32_DEBUGCTL is cleared" */
	vmcs_set(v01, VMCS_GUEST_DR7, 0x400);
	vmcs_set(v01, VMCS_GUEST_IA32_DEBUGCTL, 0);
	vmcs_set(v01, VMCS_GUEST_IA32_SYSENTER_CS, vmcs_get(v12, VMCS_HOST_IA32_SYSENTER_CS));
	vmcs_set(v01, VMCS_GUEST_IA32_SYSENTER_ESP, vmcs_get(v12, VMCS_HOST_IA32_SYSENTER_ESP));
	vmcs_set(v01, VMCS_GUEST_IA32_SYSENTER_EIP, vmcs_get(v12, VMCS_HOST_IA32_SYSENTER_EIP));
	/* EFER: "LMA and LME loaded with host address-space size", or the
	 * whole MSR with "load IA32_EFER" */
	if (exit12 & NVMX_EXIT_LOAD_EFER) {
		efer = vmcs_get(v12, VMCS_HOST_IA32_EFER);
	} else {
		efer = vmcs_get(v01, VMCS_GUEST_IA32_EFER) & ~(NVMX_EFER_LMA | NVMX_EFER_LME);
		if (host64)
			efer |= NVMX_EFER_LMA | NVMX_EFER_LME;
	}
	vmcs_set(v01, VMCS_GUEST_IA32_EFER, efer);
	if (exit12 & NVMX_EXIT_LOAD_PAT)
		vmcs_set(v01, VMCS_GUEST_IA32_PAT, vmcs_get(v12, VMCS_HOST_IA32_PAT));
	if (exit12 & NVMX_EXIT_LOAD_PERF)
		vmcs_set(v01, VMCS_GUEST_IA32_PERF_GLOBAL_CTRL,
			 vmcs_get(v12, VMCS_HOST_IA32_PERF_GLOBAL_CTRL));

	/* 28.5.2: segments */
	vmcs_set(v01, VMCS_GUEST_CS_SELECTOR, vmcs_get(v12, VMCS_HOST_CS_SELECTOR));
	vmcs_set(v01, VMCS_GUEST_CS_BASE, 0);
	vmcs_set(v01, VMCS_GUEST_CS_LIMIT, 0xffffffffu);
	vmcs_set(v01, VMCS_GUEST_CS_AR, host64 ? AR_CODE64 : AR_CODE32);
	for (unsigned i = 0; i < sizeof data_segs / sizeof data_segs[0]; i++) {
		const struct host_seg *s = &data_segs[i];
		uint64_t sel = vmcs_get(v12, s->host_sel);
		vmcs_set(v01, s->sel, sel);
		vmcs_set(v01, s->base, s->host_base ? vmcs_get(v12, s->host_base) : 0);
		vmcs_set(v01, s->limit, 0xffffffffu);
		/* "The segment is unusable if its selector is loaded with zero" */
		vmcs_set(v01, s->ar, sel == 0 ? AR_UNUSABLE : AR_DATA);
	}
	vmcs_set(v01, VMCS_GUEST_TR_SELECTOR, vmcs_get(v12, VMCS_HOST_TR_SELECTOR));
	vmcs_set(v01, VMCS_GUEST_TR_BASE, vmcs_get(v12, VMCS_HOST_TR_BASE));
	vmcs_set(v01, VMCS_GUEST_TR_LIMIT, 0x67);
	vmcs_set(v01, VMCS_GUEST_TR_AR, AR_TSS_BUSY);
	vmcs_set(v01, VMCS_GUEST_LDTR_SELECTOR, 0);
	vmcs_set(v01, VMCS_GUEST_LDTR_BASE, 0);
	vmcs_set(v01, VMCS_GUEST_LDTR_LIMIT, 0);
	vmcs_set(v01, VMCS_GUEST_LDTR_AR, AR_UNUSABLE);
	vmcs_set(v01, VMCS_GUEST_GDTR_BASE, vmcs_get(v12, VMCS_HOST_GDTR_BASE));
	vmcs_set(v01, VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmcs_set(v01, VMCS_GUEST_IDTR_BASE, vmcs_get(v12, VMCS_HOST_IDTR_BASE));
	vmcs_set(v01, VMCS_GUEST_IDTR_LIMIT, 0xffff);

	/* 28.5.3: "RIP and RSP are loaded from the RIP field and the RSP
	 * field; RFLAGS is cleared, except bit 1, which is always set" */
	vmcs_set(v01, VMCS_GUEST_RIP, vmcs_get(v12, VMCS_HOST_RIP));
	vmcs_set(v01, VMCS_GUEST_RSP, vmcs_get(v12, VMCS_HOST_RSP));
	vmcs_set(v01, VMCS_GUEST_RFLAGS, 2);
	/* no STI/MOV-SS blocking after a VM exit; NMI blocking as it was */
	vmcs_set(v01, VMCS_GUEST_INTERRUPTIBILITY, vmcs_get(v01, VMCS_GUEST_INTERRUPTIBILITY) & 8u);
	vmcs_set(v01, VMCS_GUEST_ACTIVITY_STATE, 0);
	vmcs_set(v01, VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);

	/* vmcs01 enters L1 in IA-32e mode iff the host is 64-bit */
	entry01 = get32(v01, VMCS_ENTRY_CONTROLS) & ~NVMX_ENTRY_IA32E;
	if (host64)
		entry01 |= NVMX_ENTRY_IA32E;
	vmcs_set(v01, VMCS_ENTRY_CONTROLS, entry01);
}

bool vmcs02_l1_timer_expired(const struct vmcs02_info *info, uint32_t reason)
{
	return (reason & 0xffffu) == VMX_EXIT_PREEMPTION_TIMER && info->l1_timer &&
	       info->timer_bias == 0;
}
