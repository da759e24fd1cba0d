/*
 * exit_reflect: does an exit of L2 go to L1?
 *
 * L0 runs L2 on vmcs02, whose controls are the union of what L0 needs and
 * what L1 asked for in vmcs12 (vmx/nested/vmcs02_merge.h).  So an exit of
 * L2 reaches L0 either because L1 asked for it (then L0 reflects it: it
 * writes the exit into vmcs12 and resumes L1 at its host RIP), or only
 * because L0 needed it (then L0 handles it and resumes L2).  The answer
 * depends only on vmcs12's controls, L1's bitmaps and the exit itself,
 * following SDM vol. 3C 26.1 "Instructions That Cause VM Exits" (26.1.2
 * unconditionally, 26.1.3 conditionally), 26.2 "Other Causes of VM Exits"
 * and 25.6 "VM-Execution Control Fields" (25.6.3 exception bitmap and #PF
 * mask/match, 25.6.4 I/O bitmaps, 25.6.6 CR masks and shadows, 25.6.7
 * CR3-target controls, 25.6.9 MSR bitmaps).
 *
 * One table row per basic exit reason says which control decides
 * (always / never / a pin, primary or secondary control bit / a function
 * that looks closer); tests/unit/test_nvmx_reflect.c iterates it.
 *
 * What the caller must say, because the exit record alone does not tell:
 *   - external interrupt / NMI exits: whether the event belongs to L1 (a
 *     virtual interrupt of L1's vLAPIC) or to L0 (a physical one, always
 *     L0's).  An interrupt for L1 arriving while L2 runs usually does not
 *     cause a hardware exit at all: L0 notices it pending and synthesizes
 *     an "external interrupt" exit to L1 when nvmx_l1_wants_extint() says
 *     so (with acknowledge-on-exit emulated by the caller);
 *   - MOV to CR0/CR4/CR3/CR8: the value written (source GPR resolved);
 *   - RDMSR/WRMSR: ECX;
 *   - EPT violation / misconfiguration: whether the EPT12 walk
 *     (vmx/nested/ept_compose.h) blamed EPT12 (reflect) or EPT01 (L0);
 *   - VMX-preemption timer: whether L1's timer expired (L0 may run its own
 *     time slice on the same hardware timer, see vmcs02_merge.h).
 *
 * L1's I/O and MSR bitmaps are read from L1 memory through gmem; an
 * unreadable bitmap counts as all ones (the access is reflected), Nestor's
 * defined result for a bitmap outside L1 RAM (DESIGN.md principle 4).
 *
 * Pure code over plain data.  Tested in tests/unit/test_nvmx_reflect.c.
 */
#ifndef NESTOR_VMX_NESTED_EXIT_REFLECT_H
#define NESTOR_VMX_NESTED_EXIT_REFLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "vmx/vmcs_fields.h"

/* A VM exit as the VMCS reports it (the read-only fields, SDM 28.2). */
struct nvmx_exit {
	uint32_t reason;         /* full exit reason (bits 15:0 basic) */
	uint64_t qual;           /* exit qualification */
	uint64_t gla;            /* guest-linear address */
	uint64_t gpa;            /* guest-physical address */
	uint32_t intr_info;      /* VM-exit interruption information */
	uint32_t intr_error;     /* VM-exit interruption error code */
	uint32_t idt_info;       /* IDT-vectoring information */
	uint32_t idt_error;      /* IDT-vectoring error code */
	uint32_t insn_len;       /* VM-exit instruction length */
	uint32_t insn_info;      /* VM-exit instruction information */
	uint64_t io_rcx, io_rsi, io_rdi, io_rip; /* SMI after I/O only */
};

/* Fill e from the exit-information fields of a VMCS image (vmcs02). */
void nvmx_exit_from_vmcs(const struct vmcs_image *img, struct nvmx_exit *e);

/* What the exit record does not tell (see above). */
struct nvmx_reflect_ctx {
	bool event_for_l1;       /* external interrupt / NMI belongs to L1 */
	uint64_t cr_value;       /* MOV to CR: the value written */
	uint32_t msr;            /* RDMSR/WRMSR: ECX */
	bool ept_fault_for_l1;   /* EPT violation/misconfig caused by EPT12 */
	bool l1_timer_expired;   /* L1's preemption timer reached 0 */
};

/* How a basic exit reason is decided (the table's 'how'). */
enum nvmx_reflect_how {
	NVMX_R_L0,               /* never L1's (e.g. machine check, PML full) */
	NVMX_R_ALWAYS,           /* unconditional exits (CPUID, VMX insns...) */
	NVMX_R_PIN,              /* pin-based control bit 'bit' */
	NVMX_R_PROC,             /* primary processor-based control 'bit' */
	NVMX_R_PROC2,            /* secondary control 'bit' (needs primary 31) */
	NVMX_R_FN,               /* a function below looks closer */
};

struct nvmx_reflect_rule {
	uint8_t how;             /* enum nvmx_reflect_how */
	uint8_t bit;
	const char *why;         /* SDM reference, for diagnostics and tests */
};

#define NVMX_REFLECT_REASONS (VMX_EXIT__MAX + 1)
extern const struct nvmx_reflect_rule nvmx_reflect_table[NVMX_REFLECT_REASONS];

/*
 * Should L0 reflect this exit of L2 to L1?  vmcs12 is L1's VMCS (the
 * controls L1 set), e the exit as vmcs02 reported it, l1 L1's memory (for
 * its I/O and MSR bitmaps).  Basic reasons outside the table are
 * reflected (L1 asked for an exit L0 does not know; like KVM).
 */
bool nvmx_reflect_exit_to_l1(const struct vmcs_image *vmcs12, const struct nvmx_exit *e,
			     const struct nvmx_reflect_ctx *ctx, const struct gmem *l1);

/* The classes, exported for the tests and for the caller's own uses. */
bool nvmx_l1_wants_exception(const struct vmcs_image *vmcs12, uint32_t intr_info,
			     uint32_t error_code);
bool nvmx_l1_wants_cr_access(const struct vmcs_image *vmcs12, uint64_t qual,
			     uint64_t value);
bool nvmx_l1_wants_io(const struct vmcs_image *vmcs12, const struct gmem *l1,
		      uint16_t port, unsigned size);
bool nvmx_l1_wants_msr(const struct vmcs_image *vmcs12, const struct gmem *l1,
		       uint32_t msr, bool write);
/* An interrupt for L1 is pending while L2 runs: exit to L1 (pin bit 0)? */
bool nvmx_l1_wants_extint(const struct vmcs_image *vmcs12);
/* ... an NMI for L1 (pin bit 3 "NMI exiting")? */
bool nvmx_l1_wants_nmi(const struct vmcs_image *vmcs12);

/*
 * An external interrupt or NMI for L1 is pending, L1 exits on it, and L2
 * is about to be entered on vmcs02: may L0 make up that VM exit for L1
 * now?  Not while vmcs02's VM-entry interruption information holds an
 * event -- the injection of L1's VM entry, or L0's re-injection after an
 * exit it kept (an EPT violation of EPT02 during delivery).  The CPU
 * delivers an injected event as part of VM entry, before the guest's
 * first instruction (SDM 27.6), and recognizes an external interrupt or
 * NMI only after that, at an instruction boundary; IDT-vectoring
 * information is valid only for exits that happen *during* a delivery
 * (28.2.4), which an external-interrupt or NMI exit cannot.  Linux's KVM
 * treats an external-interrupt exit with valid IDT-vectoring information
 * as an internal error (KVM_INTERNAL_ERROR_DELIVERY_EV).  The SVM side
 * mirrors this (nsvm_pending_exit_when).
 *   NVMX_PENDING_EXIT_NOW: nothing to inject; make up the exit now.
 *   NVMX_PENDING_EXIT_AFTER_ENTRY: enter L2 so the event is delivered, with
 *   a VMX-preemption timer of 0 (an exit before L2's first instruction,
 *   after the injection: 26.7.4); the exit for L1 is made up after that.
 */
enum nvmx_pending_exit {
	NVMX_PENDING_EXIT_NOW = 0,
	NVMX_PENDING_EXIT_AFTER_ENTRY = 1,
};
enum nvmx_pending_exit nvmx_pending_exit_when(uint32_t entry_intr_info02);

#endif
