/*
 * vmcs02_merge: the VMCS L0 really runs L2 on, and the way back.
 *
 *   vmcs12  what L1 asked for its guest L2 (L1's view; in L1 memory, cached
 *           by L0 as a struct vmcs_image: vmx/nested/vmcs12.h)
 *   vmcs01  what L0 runs L1 on (its host state is L0's; its guest state is
 *           L1's registers)
 *   vmcs02  built here: L2's guest state from vmcs12, controls that give
 *           every exit L1 asked for *and* every exit L0 needs, L0's host
 *           state, L0's EPT02 and VPID02.
 *
 * Entry (vmcs02_merge, after vmx_check_entry() accepted vmcs12), field by
 * field (SDM vol. 3C chapter 25 for the fields):
 *   - pin/primary/secondary controls: L0's required bits | the L1 bits
 *     Nestor can pass through, then vmx_ctl_adjust() to what the CPU
 *     allows.  L1 bits that need translation are not passed: I/O and MSR
 *     bitmaps (merged, below), EPT (EPT02 instead), VPID (VPID02), TSC
 *     offsetting/scaling (combined), preemption timer (combined), VMCS
 *     shadowing (L2's VMREAD/VMWRITE always exit and are reflected).
 *   - exception bitmap: L0 | L1.  #PF mask/match (25.6.3): if L0
 *     intercepts #PF, vmcs02 takes every #PF (bit 14 = 1, mask = match = 0)
 *     and exit_reflect applies L1's mask/match; otherwise L1's bit 14, mask
 *     and match are used unchanged.
 *   - I/O bitmaps A/B and MSR bitmap: L0-owned buffers = L0's bitmap | L1's
 *     (read from L1 memory through gmem; all ones when L1 uses
 *     unconditional I/O exiting or no MSR bitmaps, or when L1's bitmap is
 *     not in L1 RAM).  vmcs02 always uses bitmaps.
 *   - CR0/CR4 guest/host masks: L0 | L1 | bits the CPU forces (fixed-1 in
 *     VMX operation, except PE/PG for unrestricted guests).  Read shadows:
 *     L1's shadow for bits L1 owns, L2's own CR value for the others (so a
 *     bit only L0 owns reads back what L2 wrote).  Guest CR0/CR4: vmcs12's
 *     with the forced bits set.
 *   - CR3-target controls: L1's count and values, unless L0 itself needs
 *     CR3-load exiting (count 0: every load exits).
 *   - TSC: L2's TSC = L1's view scaled and offset by vmcs12 applied to
 *     L1's TSC = host TSC scaled and offset by vmcs01:
 *       multiplier02 = m01 * m12 (fixed point 16.48), offset02 = o01 * m12 + o12
 *     (without L1 scaling: m12 = 1; without L1 offsetting: L2 TSC = L1 TSC).
 *   - VMX-preemption timer: on if L1 or L0 wants it, value = the smaller;
 *     struct vmcs02_info remembers the difference for the way back.
 *   - guest state: every guest-state field of vmcs12, except the VMCS link
 *     pointer (~0), CR0/CR4 (above), and EFER/PAT/DEBUGCTL/DR7 which vmcs02
 *     always loads: vmcs12's when L1's entry controls load them, otherwise
 *     L1's current values (what a CPU would have left in place; EFER.LMA/LME
 *     then follow L1's "IA-32e mode guest", 27.3.2.1).
 *   - event injection: vmcs12's VM-entry interruption info, error code and
 *     instruction length.
 *   - host state: vmcs01's (L0's).  EPTP = EPTP02, VPID = VPID02 (caller).
 *   - MSR-load/store counts 0: L1's lists are emulated by L0 in software.
 *
 * Exit reflected to L1 (vmcs02_exit_to_vmcs12), SDM 28.2-28.3:
 *   - exit information (reason, qualification, guest-linear/physical
 *     address, interruption and IDT-vectoring info, instruction length and
 *     info) from the exit record;
 *   - L2's guest state from vmcs02 back into vmcs12, undoing the merge
 *     (CR bits only L0 owns come from vmcs02's read shadows; EFER/PAT/
 *     debug controls/timer only when L1's exit controls save them); the
 *     "IA-32e mode guest" entry control := EFER.LMA; entry interruption
 *     info valid bit cleared (28.2: "cleared on every VM exit").
 *   - then L1's state from vmcs12's host-state area
 *     (vmcs02_load_l1_host_state, SDM 28.5 "Loading Host State"), written
 *     into the guest-state fields of a vmcs01 image for the caller to
 *     install (the list vmcs02_l1_state_fields[]).
 * A VM-entry failure of L1's vmcs12 (exit reason 33/34, 27.8) is
 * vmcs02_entry_fail_to_vmcs12 + vmcs02_load_l1_host_state: no guest state
 * is saved.
 *
 * Pure code over plain data; L1 memory only through mm/gmem.h.  Tested in
 * tests/unit/test_nvmx_merge.c.
 */
#ifndef NESTOR_VMX_NESTED_VMCS02_MERGE_H
#define NESTOR_VMX_NESTED_VMCS02_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "vmx/nested/exit_reflect.h"
#include "vmx/vmcs_fields.h"
#include "vmx/vmx_caps.h"

#define VMCS02_BITMAP_SIZE 4096u

/* What L0 needs in every vmcs02, from its vmcs01 policy. */
struct vmcs02_l0 {
	uint32_t pin, proc, proc2;      /* control bits L0 requires */
	uint32_t exit, entry;           /* exit: host side (host address-space
					   size, load EFER/PAT, ack interrupt);
					   entry: extra bits (usually 0) */
	uint32_t exception_bitmap;      /* exceptions L0 intercepts */
	uint64_t cr0_mask, cr4_mask;    /* CR bits L0 owns */
	uint64_t tsc_offset;            /* vmcs01's: L1 TSC = host * m + offset */
	uint64_t tsc_multiplier;        /* vmcs01's, 0 = no scaling (1.0) */
	uint16_t vpid02;                /* VPID for L2 (if proc2 VPID) */
	uint64_t eptp02;                /* EPTP of EPT02 (proc2 EPT is L0's) */
	/* L0's own intercept bitmaps for this VM (4 KiB each). */
	const uint8_t *l0_io_a, *l0_io_b, *l0_msr;
	/* Shortcuts for an L0 that intercepts (almost) everything, as Nestor
	 * does: io_all_hpa != 0 says L0's I/O bitmaps (A at io_all_hpa, B one
	 * page up) are all ones, so vmcs02 uses them as they are; msr_pass
	 * lists the only MSRs L0's MSR bitmap lets through, so the merged
	 * bitmap (all ones, prepared once by the caller) changes only in
	 * their bits.  Both 0/NULL: the full merge. */
	uint64_t io_all_hpa;
	const uint32_t *msr_pass;
	unsigned msr_pass_count;
	/* L0-owned buffers for the merged bitmaps, and their host addresses. */
	uint8_t *io_a, *io_b, *msr;
	uint64_t io_a_hpa, io_b_hpa, msr_hpa;
};

/* What the way back needs to remember from the way in. */
struct vmcs02_info {
	bool l1_timer;                  /* L1's preemption timer active */
	uint32_t l1_timer_left;         /* its value at the exit (the caller's,
					   from vmcs02_l1_timer_left) */
};

/* The fixed-point multiplier 1.0 (TSC scaling, 25.6.5: 16.48). */
#define VMCS02_TSC_MULT_ONE (1ull << 48)

/*
 * Build v02 from v12 (L1's request), v01 (L0's host state and L1's current
 * registers), l0 (L0's needs) and hw (the real CPU's capabilities).
 * Reads L1's bitmaps through l1.  Fills *info.
 */
void vmcs02_merge(struct vmcs_image *v02, const struct vmcs_image *v12,
		  const struct vmcs_image *v01, const struct vmcs02_l0 *l0,
		  const struct vmx_caps *hw, const struct gmem *l1,
		  struct vmcs02_info *info);

/* Combined TSC: L2 = ((host * m01 >> 48) + o01) * m12 >> 48 + o12 as one
 * (multiplier, offset) pair.  m == 0 means 1.0. */
void vmcs02_tsc_combine(uint64_t m01, uint64_t o01, uint64_t m12, uint64_t o12,
			uint64_t *m02, uint64_t *o02);

/*
 * An exit of L2 that goes to L1: record e in v12 and copy L2's state from
 * v02 back into v12 (see above); info is what vmcs02_merge() filled.
 */
void vmcs02_exit_to_vmcs12(struct vmcs_image *v12, const struct vmcs_image *v02,
			   const struct nvmx_exit *e, const struct vmcs02_info *info);

/* A VM entry of vmcs12 that failed (27.8): reason (33 or 34, bit 31 is set
 * here) and qualification into v12; nothing else changes. */
void vmcs02_entry_fail_to_vmcs12(struct vmcs_image *v12, uint32_t reason, uint64_t qual);

/*
 * SDM 28.5 "Loading Host State": L1 continues with the state of vmcs12's
 * host-state area.  v01's guest-state fields (L1's registers) are
 * updated in place; adv gives the fixed CR0/CR4 bits that are kept.
 * Also sets v01's "IA-32e mode guest" entry control to the host
 * address-space size.  The caller then writes vmcs02_l1_state_fields[] to
 * the hardware vmcs01 and emulates L1's VM-exit MSR-load list.
 */
void vmcs02_load_l1_host_state(struct vmcs_image *v01, const struct vmcs_image *v12,
			       const struct vmx_caps *adv);

extern const uint32_t vmcs02_l1_state_fields[];
extern const unsigned vmcs02_l1_state_count;

/* Did L1's preemption timer expire (for nvmx_reflect_ctx)?  True for an
 * exit for reason 52 when L1's value was the one vmcs02 counted down. */
bool vmcs02_l1_timer_expired(const struct vmcs02_info *info, uint32_t reason);

/* L1's VMX-preemption timer (SDM 26.5.1) as a TSC deadline: it counts
 * down by one every 2^rate TSC ticks from the VM entry at entry_tsc.  L0
 * runs L2 with min(this, its own slice) in vmcs02 (vmx/vmx.c). */
uint64_t vmcs02_l1_timer_deadline(uint32_t value, unsigned rate, uint64_t entry_tsc);
/* What is left of it at `now`, in timer units: 0 once expired. */
uint32_t vmcs02_l1_timer_left(uint64_t deadline, unsigned rate, uint64_t now);

#endif
