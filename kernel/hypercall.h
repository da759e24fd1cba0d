/*
 * Nestor's hypercall ABI (docs/hypercalls.md), shared by L0 and the guests.
 * A guest executes VMMCALL (AMD) or VMCALL (Intel) with
 *   RAX = hypercall number, RBX, RCX, RDX = arguments;
 * L0 returns a result in RAX (negative = error) and resumes after the
 * instruction.  Only ring 0 of the guest may call; otherwise #UD is injected.
 */
#ifndef NESTOR_HYPERCALL_H
#define NESTOR_HYPERCALL_H

#define HC_NOP          0  /* returns 0: the cheapest exit round trip */
#define HC_CONSOLE      1  /* RBX = GPA of text, RCX = length (<= 4096): write to the L0 log */
#define HC_EXIT         2  /* RBX = status: the VM ends (0 = success) */
#define HC_EXIT_STATS   3  /* RBX = GPA of a buffer, RCX = its size: copy this vCPU's
                              struct hc_exit_stats; returns bytes written */

#define HC_ERR_INVALID  (-1L) /* unknown number or bad argument */
#define HC_ERR_FAULT    (-2L) /* a GPA not in guest RAM */

/* Neutral exit kinds, shared by both backends and the statistics ABI. */
#define EXIT_KIND_LIST(X) \
	X(CPUID) X(MSR_READ) X(MSR_WRITE) X(IO) X(MMIO) X(HLT) X(HYPERCALL) \
	X(EXCEPTION) X(SHUTDOWN) X(INTR) X(IRQ_WINDOW) X(NPF) X(INVALID) X(OTHER) X(CR) X(TIMER) X(INVD) X(NMI_WINDOW) X(NESTED)

enum exit_kind {
#define X(name) EXIT_##name,
	EXIT_KIND_LIST(X)
#undef X
	EXIT_KIND_COUNT
};

struct hc_exit_stats {
	unsigned long long total;
	unsigned long long by_kind[EXIT_KIND_COUNT];
};
#endif
