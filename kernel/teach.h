/*
 * The teaching trace (`teach = on` in a [vm] section, docs/teaching-trace.md):
 * every nested transition of the VM's vCPU 0 printed in words — which exit,
 * whose intercept decided, which fields of vmcb12/vmcs12 changed (old ->
 * new), what was injected.  For students reading one L2 exit from end to
 * end; it costs a serial line per step, so it stops after TEACH_STEPS
 * transitions (and says so).
 */
#ifndef NESTOR_TEACH_H
#define NESTOR_TEACH_H
#include <stdbool.h>
#include "kernel/vcpu.h"

#define TEACH_STEPS 40

/* Is this transition of v to be told?  counts one step when `step`. */
bool teach_on(struct vcpu *v, bool step);
/* For exits L0 keeps, which repeat by the thousand (port writes, #NPF
 * fills): true the first time this code is seen, so it is explained once. */
bool teach_first(struct vcpu *v, uint64_t code);
/* One line, prefixed "teach: vm NAME: ". */
void teach(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
