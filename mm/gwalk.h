/*
 * gwalk: the guest page-table walker — translate a guest-virtual (linear)
 * address the way the guest's own MMU would, using the guest's paging
 * state (CR0, CR3, CR4, EFER), and say exactly which #PF it would take.
 *
 * L0 needs this whenever it emulates something on a guest's behalf with a
 * guest-virtual address in hand: an MMIO instruction's memory operand, the
 * instruction bytes at RIP, a VMX instruction's operand (VMPTRLD m64), a
 * string I/O buffer.  The result is a guest-physical address, which the
 * caller then accesses through mm/gmem.h.
 *
 * The guest's tables are read only through gmem (gmem_cursor_read(), one
 * load per entry), never through raw pointers: a guest CR3 or PTE is
 * guest-controlled (DESIGN.md "Principles" 4).  A table that is not in guest RAM/ROM is reported as fault 2 with the
 * entry's GPA, for the caller to decide (real hardware would read whatever
 * is there, e.g. a device register; Nestor does not walk through MMIO).
 *
 * Paging modes (SDM vol. 3A 4.1.1, Table 4-1), chosen from the registers:
 *   CR0.PG = 0                        no paging: gpa = gva (32 bits; long
 *                                     mode needs paging)
 *   CR0.PG = 1, CR4.PAE = 0           32-bit paging (SDM 4.3): 4 KiB, and
 *                                     4 MiB pages when CR4.PSE (with
 *                                     PSE-36 high address bits)
 *   CR0.PG = 1, CR4.PAE = 1, !LME     PAE paging (SDM 4.4): 4 KiB, 2 MiB
 *   CR0.PG = 1, CR4.PAE = 1, LME      4-level paging (SDM 4.5): 4 KiB,
 *                                     2 MiB, 1 GiB; 5-level if CR4.LA57
 * (With CR0.PG = 1, EFER.LMA = EFER.LME; the SDM's table uses LME.)
 *
 * What is modelled (SDM 4.6 access rights, 4.7 #PF error code):
 *   - present bits, and reserved bits against MAXPHYADDR (regs->maxphyaddr)
 *     and the format of each level (PS in PML4E/PML5E, bits 20:13 / 29:13
 *     of large pages, PAE PDPTE bits, XD when EFER.NXE = 0);
 *   - R/W with CR0.WP, U/S, XD with EFER.NXE, and SMEP (CR4.SMEP: no
 *     supervisor fetch from a user page);
 *   - non-canonical addresses in 4/5-level paging (fault 3: the caller
 *     raises #GP or #SS, which depends on the segment).
 * Not modelled (the caller must if it needs them): SMAP (needs RFLAGS.AC
 * and whether the access is implicit), protection keys, shadow stacks,
 * CPUs without 1 GiB pages (PS in a PDPTE is always honoured).
 *
 * The walker is read-only: it sets no accessed or dirty bits.  L0 uses it
 * to find out where an access goes; the access itself is then done by the
 * caller through gmem, or by the guest when it retries the instruction
 * (and the CPU's own walk sets A/D then).  A guest relying on A/D being
 * set by an access that L0 emulated completely will not see them.
 *
 * PAE PDPTEs: on a real CPU the four PDPTEs are loaded into registers when
 * CR3 is written (SDM 4.4.1); with EPT the VMCS holds them (guest PDPTE0-3
 * fields).  If regs->pdpte is not NULL, those four values are used; if it
 * is NULL the walker reads them from guest memory at CR3 at walk time
 * (which is also what AMD CPUs do for a guest under nested paging).  A
 * reserved bit in a PDPTE is reported as a #PF with RSVD here (a CPU that
 * loads PDPTEs raises #GP at the MOV to CR3 instead).
 *
 * Pure code over plain data.  Tested in tests/unit/test_gwalk.c, fuzzed
 * in tests/fuzz/fuzz_gwalk.c.
 */
#ifndef NESTOR_MM_GWALK_H
#define NESTOR_MM_GWALK_H

#include <stdint.h>

#include "mm/gmem.h"

struct gwalk_regs {
	uint64_t cr0, cr3, cr4, efer;
	unsigned maxphyaddr;    /* CPUID 0x80000008 EAX[7:0] as the guest  */
				/* sees it: 32..52; 0 means 52; other      */
				/* values are clamped into 32..52          */
	const uint64_t *pdpte;  /* PAE only: the 4 loaded PDPTEs, or NULL  */
				/* to read them at CR3 during the walk     */
};

/* Kinds of access (combine: a user-mode write is GW_WRITE | GW_USER). */
enum { GW_WRITE = 1, GW_USER = 2, GW_FETCH = 4 };

/* #PF error code bits (SDM 4.7). */
enum {
	GW_PF_P    = 1 << 0,  /* 0: not present; 1: protection or reserved */
	GW_PF_W    = 1 << 1,  /* the access was a write                    */
	GW_PF_U    = 1 << 2,  /* the access was a user-mode access         */
	GW_PF_RSVD = 1 << 3,  /* a reserved bit was set in some entry      */
	GW_PF_I    = 1 << 4,  /* instruction fetch, reported only when     */
			      /* CR4.SMEP or (CR4.PAE and EFER.NXE)        */
};

/* out->fault values (also gwalk's return value). */
enum {
	GW_OK = 0,
	GW_FAULT_PF = 1,          /* the guest takes #PF(pf_error), CR2 = gva */
	GW_FAULT_TABLE = 2,       /* a paging-structure entry is not in guest */
				  /* RAM/ROM; out->gpa is that entry's GPA    */
	GW_FAULT_NONCANONICAL = 3 /* #GP/#SS: the caller knows which          */
};

struct gwalk_result {
	uint64_t gpa;        /* translation of gva (fault 0), or the GPA of */
			     /* the unreadable entry (fault 2), else 0      */
	uint64_t page_size;  /* 4K, 2M, 4M or 1G on success (4K when paging */
			     /* is off), else 0                             */
	uint32_t pf_error;   /* #PF error code (fault 1), else 0            */
	int fault;           /* GW_OK / GW_FAULT_*                          */
	unsigned levels;     /* paging-structure entries used (read), 0     */
			     /* with paging off: the walk's length          */
	/* On success, the entries read from memory and the values used (not
	 * the PDPTE registers), for a caller that caches the translation
	 * and checks later that none of them changed. */
	unsigned nent;
	unsigned ent_bytes;  /* 4 (32-bit paging) or 8 */
	uint64_t ent_gpa[5], ent_val[5];
};

/*
 * Translate gva for an access of kind 'access' (GW_* bits; 0 is a
 * supervisor-mode data read).  Returns out->fault.  In the 32-bit modes
 * only the low 32 bits of gva are used.
 */
int gwalk(const struct gmem *g, const struct gwalk_regs *r, uint64_t gva,
	  unsigned access, struct gwalk_result *out);

#endif
