/*
 * exit_reflect: which exits of L2 go to L1.  See vmx/nested/exit_reflect.h.
 */
#include "vmx/nested/exit_reflect.h"

/* Primary processor-based controls (SDM 25.6.2). */
#define PROC_CR3_LOAD      (1u << 15)
#define PROC_CR3_STORE     (1u << 16)
#define PROC_CR8_LOAD      (1u << 19)
#define PROC_CR8_STORE     (1u << 20)
#define PROC_UNCOND_IO     (1u << 24)
#define PROC_IO_BITMAPS    (1u << 25)
#define PROC_MSR_BITMAPS   (1u << 28)
#define PROC_SECONDARY     (1u << 31)
#define PROC_INVLPG        (1u << 9)
#define PROC2_INVPCID      (1u << 12)
#define PIN_EXTINT         (1u << 0)
#define PIN_NMI            (1u << 3)
#define PIN_PREEMPT        (1u << 6)

#define INTR_TYPE(i)       (((i) >> 8) & 7u)
#define INTR_TYPE_NMI      2u
#define VEC_PF             14u
#define VEC_MC             18u

#define R(how_, bit_, why_) { NVMX_R_##how_, bit_, why_ }

const struct nvmx_reflect_rule nvmx_reflect_table[NVMX_REFLECT_REASONS] = {
	[VMX_EXIT_EXCEPTION_NMI]     = R(FN, 0, "25.6.3 exception bitmap, #PF mask/match; pin 3 NMI exiting"),
	[VMX_EXIT_EXTERNAL_INTERRUPT]= R(FN, 0, "25.6.1 pin 0 external-interrupt exiting (L1's interrupts only)"),
	[VMX_EXIT_TRIPLE_FAULT]      = R(ALWAYS, 0, "26.2 triple fault"),
	[VMX_EXIT_INIT]              = R(ALWAYS, 0, "26.2 INIT signal"),
	[VMX_EXIT_SIPI]              = R(ALWAYS, 0, "26.2 SIPI (wait-for-SIPI)"),
	[VMX_EXIT_IO_SMI]            = R(L0, 0, "SMM is L0's"),
	[VMX_EXIT_OTHER_SMI]         = R(L0, 0, "SMM is L0's"),
	[VMX_EXIT_INTERRUPT_WINDOW]  = R(PROC, 2, "25.6.2 interrupt-window exiting"),
	[VMX_EXIT_NMI_WINDOW]        = R(PROC, 22, "25.6.2 NMI-window exiting"),
	[VMX_EXIT_TASK_SWITCH]       = R(ALWAYS, 0, "26.1.2 task switch"),
	[VMX_EXIT_CPUID]             = R(ALWAYS, 0, "26.1.2 CPUID"),
	[VMX_EXIT_GETSEC]            = R(ALWAYS, 0, "26.1.2 GETSEC"),
	[VMX_EXIT_HLT]               = R(PROC, 7, "26.1.3 HLT exiting"),
	[VMX_EXIT_INVD]              = R(ALWAYS, 0, "26.1.2 INVD"),
	[VMX_EXIT_INVLPG]            = R(PROC, 9, "26.1.3 INVLPG exiting"),
	[VMX_EXIT_RDPMC]             = R(PROC, 11, "26.1.3 RDPMC exiting"),
	[VMX_EXIT_RDTSC]             = R(PROC, 12, "26.1.3 RDTSC exiting"),
	[VMX_EXIT_RSM]               = R(ALWAYS, 0, "26.1.3 RSM (in SMM)"),
	[VMX_EXIT_VMCALL]            = R(ALWAYS, 0, "26.1.2 VMCALL"),
	[VMX_EXIT_VMCLEAR]           = R(ALWAYS, 0, "26.1.2 VMCLEAR"),
	[VMX_EXIT_VMLAUNCH]          = R(ALWAYS, 0, "26.1.2 VMLAUNCH"),
	[VMX_EXIT_VMPTRLD]           = R(ALWAYS, 0, "26.1.2 VMPTRLD"),
	[VMX_EXIT_VMPTRST]           = R(ALWAYS, 0, "26.1.2 VMPTRST"),
	[VMX_EXIT_VMREAD]            = R(ALWAYS, 0, "26.1.2 VMREAD (shadowing is not passed to L2)"),
	[VMX_EXIT_VMRESUME]          = R(ALWAYS, 0, "26.1.2 VMRESUME"),
	[VMX_EXIT_VMWRITE]           = R(ALWAYS, 0, "26.1.2 VMWRITE (shadowing is not passed to L2)"),
	[VMX_EXIT_VMXOFF]            = R(ALWAYS, 0, "26.1.2 VMXOFF"),
	[VMX_EXIT_VMXON]             = R(ALWAYS, 0, "26.1.2 VMXON"),
	[VMX_EXIT_CR_ACCESS]         = R(FN, 0, "26.1.3 MOV CR / CLTS / LMSW; 25.6.6, 25.6.7"),
	[VMX_EXIT_DR_ACCESS]         = R(PROC, 23, "26.1.3 MOV-DR exiting"),
	[VMX_EXIT_IO]                = R(FN, 0, "26.1.3 I/O: unconditional I/O exiting, 25.6.4 I/O bitmaps"),
	[VMX_EXIT_RDMSR]             = R(FN, 0, "26.1.3 RDMSR: 25.6.9 MSR bitmaps"),
	[VMX_EXIT_WRMSR]             = R(FN, 0, "26.1.3 WRMSR: 25.6.9 MSR bitmaps"),
	[VMX_EXIT_ENTRY_FAIL_GUEST]  = R(L0, 0, "vmcs02 entry failure: L0's"),
	[VMX_EXIT_ENTRY_FAIL_MSR]    = R(L0, 0, "vmcs02 entry failure: L0's"),
	[VMX_EXIT_MWAIT]             = R(PROC, 10, "26.1.3 MWAIT exiting"),
	[VMX_EXIT_MTF]               = R(PROC, 27, "26.5.2 monitor trap flag"),
	[VMX_EXIT_MONITOR]           = R(PROC, 29, "26.1.3 MONITOR exiting"),
	[VMX_EXIT_PAUSE]             = R(PROC, 30, "26.1.3 PAUSE exiting (PLE not offered)"),
	[VMX_EXIT_ENTRY_FAIL_MCE]    = R(L0, 0, "machine checks are L0's"),
	[VMX_EXIT_TPR_BELOW_THRESHOLD] = R(PROC, 21, "use TPR shadow"),
	[VMX_EXIT_APIC_ACCESS]       = R(PROC2, 0, "virtualize APIC accesses"),
	[VMX_EXIT_VIRTUALIZED_EOI]   = R(PROC2, 9, "virtual-interrupt delivery"),
	[VMX_EXIT_GDTR_IDTR]         = R(PROC2, 2, "26.1.3 descriptor-table exiting"),
	[VMX_EXIT_LDTR_TR]           = R(PROC2, 2, "26.1.3 descriptor-table exiting"),
	[VMX_EXIT_EPT_VIOLATION]     = R(FN, 0, "29.3.3 EPT12 walk (caller)"),
	[VMX_EXIT_EPT_MISCONFIG]     = R(FN, 0, "29.3.3 EPT12 walk (caller)"),
	[VMX_EXIT_INVEPT]            = R(ALWAYS, 0, "26.1.2 INVEPT"),
	[VMX_EXIT_RDTSCP]            = R(PROC, 12, "26.1.3 RDTSCP: RDTSC exiting"),
	[VMX_EXIT_PREEMPTION_TIMER]  = R(FN, 0, "26.5.1 pin 6 VMX-preemption timer (L1's)"),
	[VMX_EXIT_INVVPID]           = R(ALWAYS, 0, "26.1.2 INVVPID"),
	[VMX_EXIT_WBINVD]            = R(PROC2, 6, "26.1.3 WBINVD exiting"),
	[VMX_EXIT_XSETBV]            = R(ALWAYS, 0, "26.1.2 XSETBV"),
	[VMX_EXIT_APIC_WRITE]        = R(PROC2, 8, "APIC-register virtualization"),
	[VMX_EXIT_RDRAND]            = R(PROC2, 11, "26.1.3 RDRAND exiting"),
	[VMX_EXIT_INVPCID]           = R(FN, 0, "26.1.3 INVPCID: INVLPG exiting and enable INVPCID"),
	[VMX_EXIT_VMFUNC]            = R(ALWAYS, 0, "26.1.2 VMFUNC (failing function)"),
	[VMX_EXIT_ENCLS]             = R(PROC2, 15, "26.1.3 ENCLS exiting"),
	[VMX_EXIT_RDSEED]            = R(PROC2, 16, "26.1.3 RDSEED exiting"),
	[VMX_EXIT_PML_FULL]          = R(L0, 0, "PML is L0's (not offered)"),
	[VMX_EXIT_XSAVES]            = R(PROC2, 20, "26.1.3 XSAVES: enable XSAVES/XRSTORS"),
	[VMX_EXIT_XRSTORS]           = R(PROC2, 20, "26.1.3 XRSTORS: enable XSAVES/XRSTORS"),
	[VMX_EXIT_PCONFIG]           = R(ALWAYS, 0, "26.1.3 PCONFIG"),
	[VMX_EXIT_SPP]               = R(L0, 0, "SPP is L0's (not offered)"),
	[VMX_EXIT_UMWAIT]            = R(PROC2, 26, "26.1.3 UMWAIT: enable user wait and pause"),
	[VMX_EXIT_TPAUSE]            = R(PROC2, 26, "26.1.3 TPAUSE: enable user wait and pause"),
	[VMX_EXIT_LOADIWKEY]         = R(ALWAYS, 0, "26.1.3 LOADIWKEY"),
	[VMX_EXIT_ENCLV]             = R(PROC2, 28, "26.1.3 ENCLV exiting"),
	[VMX_EXIT_ENQCMD_PASID]      = R(ALWAYS, 0, "PASID translation"),
	[VMX_EXIT_ENQCMDS_PASID]     = R(ALWAYS, 0, "PASID translation"),
	[VMX_EXIT_BUS_LOCK]          = R(ALWAYS, 0, "bus-lock detection (never L0's)"),
	[VMX_EXIT_INSTRUCTION_TIMEOUT] = R(PROC2, 31, "instruction timeout"),
	[VMX_EXIT_SEAMCALL]          = R(ALWAYS, 0, "26.1.2 SEAMCALL"),
	[VMX_EXIT_TDCALL]            = R(ALWAYS, 0, "26.1.2 TDCALL"),
	[VMX_EXIT_RDMSRLIST]         = R(ALWAYS, 0, "26.1.3 RDMSRLIST"),
	[VMX_EXIT_WRMSRLIST]         = R(ALWAYS, 0, "26.1.3 WRMSRLIST"),
	[VMX_EXIT_URDMSR]            = R(ALWAYS, 0, "26.1.3 URDMSR"),
	[VMX_EXIT_UWRMSR]            = R(ALWAYS, 0, "26.1.3 UWRMSR"),
};

void nvmx_exit_from_vmcs(const struct vmcs_image *img, struct nvmx_exit *e)
{
	e->reason = (uint32_t)vmcs_get(img, VMCS_EXIT_REASON);
	e->qual = vmcs_get(img, VMCS_EXIT_QUALIFICATION);
	e->gla = vmcs_get(img, VMCS_GUEST_LINEAR_ADDRESS);
	e->gpa = vmcs_get(img, VMCS_GUEST_PHYSICAL_ADDRESS);
	e->intr_info = (uint32_t)vmcs_get(img, VMCS_EXIT_INTR_INFO);
	e->intr_error = (uint32_t)vmcs_get(img, VMCS_EXIT_INTR_ERROR_CODE);
	e->idt_info = (uint32_t)vmcs_get(img, VMCS_IDT_VECTORING_INFO);
	e->idt_error = (uint32_t)vmcs_get(img, VMCS_IDT_VECTORING_ERROR_CODE);
	e->insn_len = (uint32_t)vmcs_get(img, VMCS_EXIT_INSTRUCTION_LEN);
	e->insn_info = (uint32_t)vmcs_get(img, VMCS_VMX_INSTRUCTION_INFO);
	e->io_rcx = vmcs_get(img, VMCS_IO_RCX);
	e->io_rsi = vmcs_get(img, VMCS_IO_RSI);
	e->io_rdi = vmcs_get(img, VMCS_IO_RDI);
	e->io_rip = vmcs_get(img, VMCS_IO_RIP);
}

static uint32_t pin(const struct vmcs_image *v)
{
	return (uint32_t)vmcs_get(v, VMCS_PIN_BASED_CONTROLS);
}

static uint32_t proc(const struct vmcs_image *v)
{
	return (uint32_t)vmcs_get(v, VMCS_PROC_BASED_CONTROLS);
}

/* Secondary controls count only when "activate secondary controls" is 1
 * (25.6.2: "if this control is 0, the logical processor operates as if
 * all the secondary processor-based VM-execution controls were 0"). */
static uint32_t proc2(const struct vmcs_image *v)
{
	return (proc(v) & PROC_SECONDARY) ? (uint32_t)vmcs_get(v, VMCS_SECONDARY_CONTROLS) : 0;
}

bool nvmx_l1_wants_extint(const struct vmcs_image *vmcs12)
{
	return (pin(vmcs12) & PIN_EXTINT) != 0;
}

bool nvmx_l1_wants_nmi(const struct vmcs_image *vmcs12)
{
	return (pin(vmcs12) & PIN_NMI) != 0;
}

enum nvmx_pending_exit nvmx_pending_exit_when(uint32_t entry_intr_info02)
{
	return (entry_intr_info02 & (1u << 31)) ? NVMX_PENDING_EXIT_AFTER_ENTRY : NVMX_PENDING_EXIT_NOW;
}

/* 25.6.3: "#PF causes a VM exit iff bit 14 of the exception bitmap is 1
 * and (PFEC & MASK) = MATCH, or bit 14 is 0 and (PFEC & MASK) != MATCH". */
bool nvmx_l1_wants_exception(const struct vmcs_image *vmcs12, uint32_t intr_info,
			     uint32_t error_code)
{
	unsigned vec = intr_info & 0xffu;
	uint32_t bitmap = (uint32_t)vmcs_get(vmcs12, VMCS_EXCEPTION_BITMAP);

	if (vec >= 32)
		return false;
	if (vec == VEC_PF) {
		uint32_t mask = (uint32_t)vmcs_get(vmcs12, VMCS_PF_ERROR_CODE_MASK);
		uint32_t match = (uint32_t)vmcs_get(vmcs12, VMCS_PF_ERROR_CODE_MATCH);
		bool bit = (bitmap >> VEC_PF) & 1u;
		return bit == ((error_code & mask) == match);
	}
	return (bitmap >> vec) & 1u;
}

/* 26.1.3 "MOV to CR0 / CR4 / CR3 / CR8, MOV from CR3 / CR8, CLTS, LMSW". */
bool nvmx_l1_wants_cr_access(const struct vmcs_image *vmcs12, uint64_t qual, uint64_t value)
{
	unsigned cr = qual & 15u, type = (qual >> 4) & 3u;
	uint64_t mask0 = vmcs_get(vmcs12, VMCS_CR0_GUEST_HOST_MASK);
	uint64_t shadow0 = vmcs_get(vmcs12, VMCS_CR0_READ_SHADOW);
	uint32_t p = proc(vmcs12);

	switch (type) {
	case 0:         /* MOV to CR */
		switch (cr) {
		case 0:
			/* "any bit set in the CR0 guest/host mask differs between
			 *  the source operand and the CR0 read shadow" */
			return ((value ^ shadow0) & mask0) != 0;
		case 4:
			return ((value ^ vmcs_get(vmcs12, VMCS_CR4_READ_SHADOW)) &
				vmcs_get(vmcs12, VMCS_CR4_GUEST_HOST_MASK)) != 0;
		case 3: {
			/* "CR3-load exiting is 1 and the source operand matches
			 *  none of the first n CR3-target values" (25.6.7) */
			unsigned n = (unsigned)vmcs_get(vmcs12, VMCS_CR3_TARGET_COUNT);
			if (!(p & PROC_CR3_LOAD))
				return false;
			if (n > 4)
				n = 4;
			for (unsigned i = 0; i < n; i++)
				if (vmcs_get(vmcs12, VMCS_CR3_TARGET0 + 2 * i) == value)
					return false;
			return true;
		}
		case 8:
			return (p & PROC_CR8_LOAD) != 0;
		default:
			return true;    /* cannot happen: #UD for other CRs */
		}
	case 1:         /* MOV from CR (CR0/CR4 reads never exit) */
		if (cr == 3)
			return (p & PROC_CR3_STORE) != 0;
		if (cr == 8)
			return (p & PROC_CR8_STORE) != 0;
		return false;
	case 2:         /* CLTS: "bit 3 (TS) set in both mask and shadow" */
		return (mask0 & shadow0 & (1u << 3)) != 0;
	default: {      /* LMSW */
		uint64_t src = (qual >> 16) & 0xfu;
		/* "bit 0 (PE) set in the mask, 0 in the shadow and 1 in the
		 *  source; or any of bits 3:1 set in the mask with the source
		 *  differing from the shadow" */
		if ((mask0 & 1u) && !(shadow0 & 1u) && (src & 1u))
			return true;
		return ((src ^ shadow0) & mask0 & 0xeu) != 0;
	}
	}
}

/* One bit of an L1-owned bitmap; an unreadable bitmap reads as 1. */
static bool bitmap_bit(const struct gmem *l1, uint64_t base, uint32_t bit)
{
	uint8_t byte;

	if (base > UINT64_MAX - 4096 || gmem_read(l1, base + bit / 8, &byte, 1) != 0)
		return true;
	return (byte >> (bit & 7u)) & 1u;
}

/* 25.6.4: bitmap A for ports 0000-7FFF, B for 8000-FFFF; with bitmaps,
 * "an I/O operation that wraps around the 16-bit port space" exits, as
 * does one touching any port whose bit is 1. */
bool nvmx_l1_wants_io(const struct vmcs_image *vmcs12, const struct gmem *l1,
		      uint16_t port, unsigned size)
{
	uint32_t p = proc(vmcs12);

	if (!(p & PROC_IO_BITMAPS))
		return (p & PROC_UNCOND_IO) != 0;
	if ((uint32_t)port + size - 1 > 0xffffu)
		return true;
	for (unsigned i = 0; i < size; i++) {
		uint32_t q = (uint32_t)port + i;
		uint64_t base = vmcs_get(vmcs12, q < 0x8000 ? VMCS_IO_BITMAP_A : VMCS_IO_BITMAP_B);
		if (bitmap_bit(l1, base, q & 0x7fffu))
			return true;
	}
	return false;
}

/* 25.6.9: read bitmap low (MSRs 0-1FFF) at 0, read high (C0000000-
 * C0001FFF) at 1024, write low at 2048, write high at 3072; MSRs outside
 * both ranges always exit. */
bool nvmx_l1_wants_msr(const struct vmcs_image *vmcs12, const struct gmem *l1,
		       uint32_t msr, bool write)
{
	uint32_t off;

	if (!(proc(vmcs12) & PROC_MSR_BITMAPS))
		return true;
	if (msr <= 0x1fffu)
		off = 0;
	else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
		off = 1024;
	else
		return true;
	if (write)
		off += 2048;
	return bitmap_bit(l1, vmcs_get(vmcs12, VMCS_MSR_BITMAP), off * 8 + (msr & 0x1fffu));
}

static bool by_function(const struct vmcs_image *v, const struct nvmx_exit *e,
			const struct nvmx_reflect_ctx *ctx, const struct gmem *l1)
{
	switch (e->reason & 0xffffu) {
	case VMX_EXIT_EXCEPTION_NMI:
		if (INTR_TYPE(e->intr_info) == INTR_TYPE_NMI)
			return ctx->event_for_l1 && nvmx_l1_wants_nmi(v);
		if ((e->intr_info & 0xffu) == VEC_MC)
			return false;   /* a machine check is the host's */
		return nvmx_l1_wants_exception(v, e->intr_info, e->intr_error);
	case VMX_EXIT_EXTERNAL_INTERRUPT:
		return ctx->event_for_l1 && nvmx_l1_wants_extint(v);
	case VMX_EXIT_CR_ACCESS:
		return nvmx_l1_wants_cr_access(v, e->qual, ctx->cr_value);
	case VMX_EXIT_IO:
		return nvmx_l1_wants_io(v, l1, (uint16_t)(e->qual >> 16), (unsigned)(e->qual & 7u) + 1);
	case VMX_EXIT_RDMSR:
		return nvmx_l1_wants_msr(v, l1, ctx->msr, false);
	case VMX_EXIT_WRMSR:
		return nvmx_l1_wants_msr(v, l1, ctx->msr, true);
	case VMX_EXIT_EPT_VIOLATION:
	case VMX_EXIT_EPT_MISCONFIG:
		return ctx->ept_fault_for_l1;
	case VMX_EXIT_PREEMPTION_TIMER:
		return ctx->l1_timer_expired && (pin(v) & PIN_PREEMPT);
	case VMX_EXIT_INVPCID:
		return (proc(v) & PROC_INVLPG) && (proc2(v) & PROC2_INVPCID);
	default:
		return true;
	}
}

bool nvmx_reflect_exit_to_l1(const struct vmcs_image *vmcs12, const struct nvmx_exit *e,
			     const struct nvmx_reflect_ctx *ctx, const struct gmem *l1)
{
	unsigned basic = e->reason & 0xffffu;
	const struct nvmx_reflect_rule *r;

	if (basic >= NVMX_REFLECT_REASONS)
		return true;
	r = &nvmx_reflect_table[basic];
	switch (r->how) {
	case NVMX_R_ALWAYS: return true;
	case NVMX_R_PIN:    return (pin(vmcs12) >> r->bit) & 1u;
	case NVMX_R_PROC:   return (proc(vmcs12) >> r->bit) & 1u;
	case NVMX_R_PROC2:  return (proc2(vmcs12) >> r->bit) & 1u;
	case NVMX_R_FN:     return by_function(vmcs12, e, ctx, l1);
	default:            return false;
	}
}
