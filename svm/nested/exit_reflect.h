/*
 * exit_reflect: whose exit is it?  L2 runs on vmcb02, whose intercepts
 * are the union of L0's and L1's (svm/nested/vmcb02_merge.h).  When L2
 * exits, the exit goes to L1 exactly when L1's vmcb12 intercepts it —
 * L1 must see every exit it asked for and none it did not — except for
 * the few events that belong to L0 whoever asked:
 *
 *   - physical INTR, NMI, SMI, INIT and #MC: they come from the real
 *     machine, which L0 owns.  L0 handles them; if that leaves an event
 *     pending for L1 (a virtual interrupt for L1's vCPU) and L1
 *     intercepts it (nsvm_l1_intercepts() with NSVM_EXIT_INTR), L0 makes
 *     up an #VMEXIT(INTR) for L1; if L1 does not intercept INTR, L0
 *     injects the interrupt into L2 (subject to L2's RFLAGS.IF when L1's
 *     V_INTR_MASKING is 0), as the CPU would deliver it through L2's IDT;
 *   - #NPF: vmcb02's nested tables are L0's (NPT02 or NPT01).  L0 walks
 *     NPT12 first (svm/nested/npt_compose.h): a fault there is L1's, a
 *     fault in NPT01 is L0's;
 *   - AVIC and SEV-ES exits (not offered to L1).
 *
 * A VMEXIT_INVALID of vmcb02 means the CPU refused L2's state, which came
 * from L1 (Nestor's own checks passed): it goes to L1 as VMEXIT_INVALID.
 * Exit codes Nestor does not know stay with L0 (which logs them).
 *
 * IOIO and MSR exits are decided by L1's permission maps, read through
 * L1's memory map at exit time (the CPU reads them while the guest runs,
 * so a change L1 made since VMRUN counts): for IN/OUT every byte of the
 * access, port .. port + size - 1, is looked up and any set bit exits
 * (15.10.2; the 3 bits past port 0xFFFF exist for accesses that wrap);
 * for RDMSR/WRMSR the MSR's read or write bit in the range that covers
 * it, and MSRs outside the three ranges always exit when MSR_PROT is set
 * (15.11).  A map byte Nestor cannot read counts as set (exit to L1: L1
 * asked for the map; nsvm_vmcb12_check() makes it unreachable).
 *
 * One case this table cannot decide alone: if L0 ever intercepts CR0
 * writes for L2 (it does not today) while L1 sets only the selective CR0
 * write intercept, a CR0-write exit (10h) belongs to L1 as a 65h exit
 * exactly when the write changes bits other than TS and MP (15.9) — the
 * caller would have to compare old and new values.
 *
 * The intercept bits L1 set are taken from the vmcb12 copy checked at
 * VMRUN (the CPU too latches intercepts at VMRUN), never re-read from L1
 * memory.  Exit codes per class are a table.  Pure code over plain data.
 * Tested in tests/unit/test_nsvm_reflect.c, fuzzed in
 * tests/fuzz/fuzz_nsvm_reflect.c.
 */
#ifndef NESTOR_SVM_NESTED_EXIT_REFLECT_H
#define NESTOR_SVM_NESTED_EXIT_REFLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "mm/gmem.h"
#include "svm/vmcb.h"

enum nsvm_exit_owner {
	NSVM_TO_L0 = 0,         /* L0 handles it and resumes L2            */
	NSVM_TO_L1 = 1,         /* reflect: #VMEXIT into vmcb12, resume L1 */
};

enum nsvm_exit_rule {
	NSVM_RULE_BIT,          /* L1's intercept bit (word, bit0 + code - first) */
	NSVM_RULE_L0_FIRST,     /* physical event: always L0 (L1's bit still     */
				/* answers nsvm_l1_intercepts())                 */
	NSVM_RULE_IOIO,         /* IOIO_PROT and L1's IOPM                        */
	NSVM_RULE_MSR,          /* MSR_PROT and L1's MSRPM                        */
	NSVM_RULE_NPF,          /* L0 first (walks NPT12); L1's if NP_ENABLE      */
	NSVM_RULE_INVALID,      /* vmcb02 refused by the CPU: L1's                */
	NSVM_RULE_L0_ONLY,      /* features not offered to L1                     */
};

struct nsvm_exit_class {
	uint64_t first, last;   /* exit codes covered                         */
	uint8_t rule;           /* enum nsvm_exit_rule                        */
	uint8_t word;           /* enum nsvm_icpt_word, for the bit rules     */
	uint8_t bit0;           /* the bit of exit code 'first'               */
	const char *name;
};

extern const struct nsvm_exit_class nsvm_exit_classes[];
extern const unsigned nsvm_exit_class_count;

/* An exit as vmcb02 reports it (plus L2's ECX for MSR exits). */
struct nsvm_exit {
	uint64_t code, info1, info2;
	uint32_t msr;           /* MSR exits: the MSR number (L2's ECX)      */
};

/* The table row for an exit code, or NULL if Nestor does not know it. */
const struct nsvm_exit_class *nsvm_exit_class_of(uint64_t code);

/*
 * Does L1's vmcb12 intercept this exit — its bit, its IOPM, its MSRPM, its
 * NP_ENABLE for #NPF — regardless of who handles it first?  Used for the
 * decision below and by the caller for exits it makes up (an INTR for L1
 * while L2 runs).  c12: vmcb12's control area as checked at VMRUN; l1:
 * L1's memory map (for the maps).  Unknown exit codes: false.
 */
bool nsvm_l1_intercepts(const struct vmcb_control *c12, const struct gmem *l1,
			const struct nsvm_exit *e);

/* The decision for an exit of L2.  *cls (if not NULL) gets the row (NULL
 * for unknown codes), for the trace. */
enum nsvm_exit_owner nsvm_reflect_exit(const struct vmcb_control *c12, const struct gmem *l1,
				       const struct nsvm_exit *e,
				       const struct nsvm_exit_class **cls);

/*
 * An INTR or NMI for L1 is pending, L1 intercepts it, and L2 is about to
 * be entered on vmcb02: may L0 make up the #VMEXIT for L1 now?  Not while
 * vmcb02 carries an event to inject — the EVENTINJ of L1's VMRUN, or its
 * re-delivery after an exit L0 kept (an #NPF of NPT02 during delivery).
 * The CPU delivers EVENTINJ as part of VMRUN, before the guest's first
 * instruction, and takes an interrupt only at an instruction boundary
 * after that (APM vol. 2 15.20 "Event Injection"); EXITINTINFO reports an
 * event only when an intercept happened *during* its delivery (15.7.2),
 * which an external interrupt cannot do.  Making up the exit first would
 * hand the event back to L1 undelivered in EXITINTINFO — and an L1 that
 * answers a re-injection by forcing an immediate exit with a self-IPI
 * (Linux's KVM does, for an interrupt from userspace) never gets its event
 * delivered: a livelock.
 *   NSVM_PENDING_EXIT_NOW: nothing to inject; make up the exit now.
 *   NSVM_PENDING_EXIT_AFTER_ENTRY: enter L2 so the event is delivered, with
 *   L2 made to exit right away; the exit for L1 is made up after that.
 */
enum nsvm_pending_exit {
	NSVM_PENDING_EXIT_NOW = 0,
	NSVM_PENDING_EXIT_AFTER_ENTRY = 1,
};
enum nsvm_pending_exit nsvm_pending_exit_when(const struct vmcb_control *c02);

/* The pieces, exposed for tests and for L0's own use:
 * does L1's IOPM at iopm_base intercept 'size' bytes at 'port'? */
bool nsvm_iopm_intercepts(const struct gmem *l1, uint64_t iopm_base, unsigned port,
			  unsigned size);
/* does L1's MSRPM at msrpm_base intercept this RDMSR (write = false) or
 * WRMSR (write = true)? */
bool nsvm_msrpm_intercepts(const struct gmem *l1, uint64_t msrpm_base, uint32_t msr,
			   bool write);
/* The same on a map already in hand (host memory, NSVM_MSRPM_SIZE bytes). */
bool nsvm_msrpm_map_intercepts(const uint8_t *map, uint32_t msr, bool write);

#endif
