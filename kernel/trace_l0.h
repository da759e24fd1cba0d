/*
 * L0's exit trace (DESIGN.md principle 5, docs/trace-format.md): a ring of
 * records per physical CPU (kernel/trace.c), filled at each transition
 * between L0 and a guest level of a traced VM, and dumped over the serial
 * console for tools/nestor-trace.
 *
 * Who records what, each where the transition really happens:
 *   the backend, around the instruction that enters the guest: ENTRY, and
 *     EXIT (VMRUN for L1's VMRUN), at the level in v->level;
 *   the nested code: REFLECT, when it gives an L2 exit to L1;
 *   the run loop: points its CPU's ring at the vCPU it runs (on when that
 *     vCPU's VM is traced), and dumps the ring when asked.
 * Both backends do the same: svm/svm.c around VMRUN, vmx/vmx.c around
 * VMLAUNCH/VMRESUME; svm/nested/nsvm.c and vmx/nested/nvmx.c reflect.
 *
 * Tracing off costs each record site one load and one branch predicted
 * not taken (trace_on); the record is built out of line.
 */
#ifndef NESTOR_TRACE_L0_H
#define NESTOR_TRACE_L0_H
#include <stdbool.h>
#include <stdint.h>
#include "kernel/trace.h"
#include "kernel/vcpu.h"
#include "arch/x86/percpu.h"

#define TRACE_L0_RECORDS 4096   /* per CPU (192 KiB); a power of two */

extern struct trace_ring trace_rings[MAX_CPUS];

/* At boot: a ring for every CPU online, from the frame allocator. */
void trace_l0_init(void);

/* Out of line, behind trace_on(): one record of v's current level on the
 * ring of its CPU; tsc 0 means now. */
void trace_l0_put(struct vcpu *v, enum trace_kind kind, uint64_t reason, uint64_t info, uint64_t rip,
		  uint64_t tsc);

/* L0 enters v's current level, at v->rip. */
static inline void trace_entry(struct vcpu *v)
{
	if (trace_on(&trace_rings[v->pcpu]))
		trace_l0_put(v, TRACE_ENTRY, 0, 0, v->rip, 0);
}

/* v's current level exited (TRACE_EXIT, or TRACE_VMRUN for L1 running its
 * guest) at v->rip, at v->exit_tsc: call before nested code switches levels. */
static inline void trace_exit(struct vcpu *v, enum trace_kind kind, uint64_t reason, uint64_t info)
{
	if (trace_on(&trace_rings[v->pcpu]))
		trace_l0_put(v, kind, reason, info, v->rip, v->exit_tsc);
}

/* L0 has given an exit of L2 to L1: call after the switch, so the record
 * names L1 and the RIP where it resumes. */
static inline void trace_reflect(struct vcpu *v, uint64_t reason, uint64_t info)
{
	if (trace_on(&trace_rings[v->pcpu]))
		trace_l0_put(v, TRACE_REFLECT, reason, info, v->rip, 0);
}

/* HC_TRACE_READ: copy the records of v's VM held in its CPU's ring into
 * the guest buffer at gpa (through v's memory, never L0's), packed, oldest
 * first; records of other VMs are skipped (a guest sees only its own).
 * Returns the number copied, or HC_ERR_FAULT. */
long trace_l0_read(struct vcpu *v, uint64_t gpa, uint64_t size);

/* The run loop, before it runs v on this CPU: record while v's VM is traced. */
void trace_l0_select(struct vcpu *v);

/* Switch a VM's tracing: at its creation (config, caller NULL) or at run
 * time (HC_TRACE from the vCPU caller).  Off takes effect at each vCPU's
 * next entry, so its last exit keeps its entry and its cost.  -1 when the
 * caller's CPU has no ring (no memory at boot). */
int trace_l0_set(struct vm *vm, struct vcpu *caller, bool on);

/* Dump every CPU's ring over the serial console and empty it: this CPU's
 * now, the others' at their next pass through the run loop (each CPU dumps
 * only its own ring: one writer, never read while it writes). */
void trace_l0_dump_all(void);

/* The run loop, between vCPUs: this CPU's share of a dump request. */
extern volatile uint64_t trace_dump_wanted;  /* one bit per CPU */
void trace_l0_dump_mine(void);
static inline void trace_l0_serve(unsigned cpu)
{
	if (__builtin_expect((trace_dump_wanted >> cpu) & 1, 0))
		trace_l0_dump_mine();
}

/* Did any VM trace during this run? */
bool trace_l0_used(void);

/* At the end of the run, every CPU stopped: dump what no one dumped yet. */
void trace_l0_flush(void);
#endif
