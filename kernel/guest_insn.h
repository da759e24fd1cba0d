/*
 * Reading the guest's instructions and memory by guest-virtual address:
 * through the guest's own page tables (mm/gwalk.c) and its memory map
 * (mm/gmem.c), never a raw pointer.  Used for instruction lengths where the
 * CPU gives none (QEMU TCG's SVM has no nRIP save), MMIO emulation, and
 * string I/O.
 */
#ifndef NESTOR_GUEST_INSN_H
#define NESTOR_GUEST_INSN_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "arch/x86/decode.h"

struct vcpu;

/*
 * The translation of the code page the last exiting instruction was read
 * from, kept per vCPU and level like a one-entry instruction TLB: the next exit at
 * the same page, with the same paging registers, the same memory (level)
 * and every paging-structure entry of the walk unchanged, reads the bytes
 * at once instead of walking again.  Checking the entries' values (not
 * just the registers) keeps it exact: a guest that edits its tables
 * without telling anyone still gets its new translation.
 */
struct insn_fetch_cache {
	bool valid, user;
	const void *mem;             /* the struct gmem it was read through */
	uint32_t gen;                /* gmem_generation() then */
	uint64_t cr0, cr3, cr4, efer, la_page;
	unsigned nent, ent_bytes;
	const volatile void *ent[5]; /* host addresses of the entries */
	uint64_t val[5];             /* their values in the walk */
	const uint8_t *page;         /* host address of the code page */
};

enum gva_result { GVA_OK = 0, GVA_PAGE_FAULT = 1, GVA_NOT_RAM = 2, GVA_GP = 3 };

struct gwalk_regs;
/* The guest's paging state, as mm/gwalk.c wants it. */
void guest_walk_regs(struct vcpu *v, struct gwalk_regs *r);

/* Copy len bytes at guest-linear address la.  On GVA_PAGE_FAULT, *pf_error
 * holds the #PF error code and *fault_la the faulting address (for CR2). */
enum gva_result guest_linear_read(struct vcpu *v, uint64_t la, void *buf, size_t len,
				  unsigned access, uint32_t *pf_error, uint64_t *fault_la);
enum gva_result guest_linear_write(struct vcpu *v, uint64_t la, const void *buf, size_t len,
				   uint32_t *pf_error, uint64_t *fault_la);
/* Fetch and decode the instruction at CS:RIP. 0 ok; otherwise a gva_result
 * (the caller injects #PF or ends the VM). */
int guest_decode_at_rip(struct vcpu *v, struct x86_insn *insn);
/* Length of the instruction at CS:RIP that caused an exit.  `expect` are
 * the opcode bytes of the instruction the exit says it was (e.g. 0F A2 for
 * CPUID): when the bytes at RIP are exactly those (no prefixes), that is
 * the length and the full decoder is not needed (expect_len 0: always
 * decode).  0 on failure. */
unsigned guest_exiting_insn_len(struct vcpu *v, const uint8_t *expect, unsigned expect_len);
/* Is the instruction at CS:RIP a HLT (F4)?  false if it cannot be read. */
bool guest_rip_at_hlt(struct vcpu *v);
#endif
