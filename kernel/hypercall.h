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
#define HC_TRACE        4  /* RBX = HC_TRACE_OFF/ON/DUMP: this VM's exit trace
                              (docs/trace-format.md); returns 0 */

/* HC_TRACE's argument */
#define HC_TRACE_OFF    0  /* stop recording this VM's transitions */
#define HC_TRACE_ON     1  /* record them in the trace ring of each CPU */
#define HC_TRACE_DUMP   2  /* write every CPU's ring to L0's serial console, emptying it */
#define HC_TRACE_READ   3  /* RCX = GPA of a buffer, RDX = its size: copy this VM's records
                              from the calling CPU's ring (oldest first, the 48-byte records
                              of docs/trace-format.md) without emptying it; returns how many */

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

/*
 * What HC_EXIT_STATS copies.  The ABI only grows at the end: a guest built
 * against an older header asks for fewer bytes and gets the same fields.
 * by_kind has room for kinds added later, so the fields after it never
 * move; the room past EXIT_KIND_COUNT reads 0.
 */
#define HC_EXIT_KINDS_MAX 32
#define HC_EXIT_LEVELS     3  /* L1, L2, L3: the level of the guest that exited */

struct hc_exit_stats {
	unsigned long long total;                       /* every level */
	unsigned long long by_kind[HC_EXIT_KINDS_MAX];  /* every level, by neutral kind */
	/* the same by level (index 0 = L1): level_total[] sums to total,
	 * by_level[][k] to by_kind[k] */
	unsigned long long level_total[HC_EXIT_LEVELS];
	unsigned long long by_level[HC_EXIT_LEVELS][HC_EXIT_KINDS_MAX];
};
_Static_assert(EXIT_KIND_COUNT <= HC_EXIT_KINDS_MAX, "hc_exit_stats.by_kind has no room for a new exit kind");
#endif
