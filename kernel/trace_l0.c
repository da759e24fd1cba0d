/*
 * L0's exit trace: the per-CPU rings, the switches (config, HC_TRACE) and
 * the dumps over the serial console.  See kernel/trace_l0.h for who
 * records what, docs/trace-format.md for the format and how to use it.
 */
#include "kernel/trace_l0.h"
#include "kernel/log.h"
#include "kernel/spinlock.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/traps.h"
#include "mm/frame.h"

struct trace_ring trace_rings[MAX_CPUS];
volatile uint64_t trace_dump_wanted;
static bool used;
static struct spinlock dump_lock;  /* one dump at a time: their lines must not interleave */

_Static_assert(MAX_CPUS <= 64, "trace_dump_wanted has one bit per CPU");

void trace_l0_init(void)
{
	size_t pages = (TRACE_L0_RECORDS * sizeof(struct trace_rec) + PAGE_SIZE - 1) / PAGE_SIZE;
	for (unsigned p = 0; p < cpus_online; p++) {
		uint64_t pa = frame_alloc_pages(pages, 0);
		if (!pa) {
			log_warn("trace: no memory for the ring of cpu %u: its transitions are not recorded", p);
			continue;
		}
		trace_ring_init(&trace_rings[p], (struct trace_rec *)pa, TRACE_L0_RECORDS, (uint16_t)p);
	}
}

void trace_l0_put(struct vcpu *v, enum trace_kind kind, uint64_t reason, uint64_t info, uint64_t rip,
		  uint64_t tsc)
{
	struct trace_ring *r = &trace_rings[v->pcpu];
	struct trace_rec rec = {
		.tsc = tsc ? tsc : rdtsc(), .reason = reason, .info = info, .rip = rip,
		.vm = (uint16_t)v->vm->id, .vcpu = (uint16_t)v->index, .level = v->level, .kind = (uint8_t)kind,
		.vendor = vcpu_ops == &svm_ops ? TRACE_SVM : TRACE_VMX,
	};
	trace_put(r, &rec);
	/* HC_TRACE off waits for this entry (trace_l0_set). */
	if (kind == TRACE_ENTRY && !v->vm->trace)
		trace_ring_enable(r, false);
}

void trace_l0_select(struct vcpu *v)
{
	struct trace_ring *r = &trace_rings[v->pcpu];
	trace_ring_enable(r, r->rec && v->vm->trace);
}

int trace_l0_set(struct vm *vm, struct vcpu *caller, bool on)
{
	if (caller && !trace_rings[caller->pcpu].rec)
		return -1;
	vm->trace = on;
	if (on)
		used = true;
	/* On: the caller now, the VM's other vCPUs at their next turn in the
	 * run loop (trace_l0_select).  Off: each ring stays on up to the next
	 * entry of the vCPU it records (trace_l0_put). */
	if (on && caller)
		trace_l0_select(caller);
	return 0;
}

bool trace_l0_used(void) { return used; }

static void put_line(const char *line, void *ctx)
{
	(void)ctx;
	kprint("%s\n", line);
}

/* Only the ring's own CPU, or anyone once no CPU runs guests: a ring has
 * one writer and is never read while it writes. */
static void dump_ring(struct trace_ring *r)
{
	if (!r->rec || !r->head)
		return;  /* nothing recorded since the last dump */
	spin_lock(&dump_lock);
	trace_dump(r, put_line, NULL);
	trace_ring_reset(r);  /* each record is dumped once: dumps add up */
	spin_unlock(&dump_lock);
}

void trace_l0_dump_mine(void)
{
	unsigned me = this_cpu()->index;
	__atomic_and_fetch(&trace_dump_wanted, ~(1ull << me), __ATOMIC_ACQ_REL);
	dump_ring(&trace_rings[me]);
}

void trace_l0_dump_all(void)
{
	unsigned me = this_cpu()->index;
	uint64_t others = 0;
	for (unsigned p = 0; p < cpus_online; p++)
		if (p != me && trace_rings[p].rec)
			others |= 1ull << p;
	__atomic_or_fetch(&trace_dump_wanted, others, __ATOMIC_ACQ_REL);
	dump_ring(&trace_rings[me]);
	/* Make the others leave their guests and come by the run loop. */
	for (unsigned p = 0; p < cpus_online; p++)
		if (others >> p & 1)
			lapic_send_ipi(percpu_area[p].apic_id, VEC_IPI_WAKE);
}

void trace_l0_flush(void)
{
	trace_dump_wanted = 0;
	for (unsigned p = 0; p < cpus_online; p++)
		dump_ring(&trace_rings[p]);
}

long trace_l0_read(struct vcpu *v, uint64_t gpa, uint64_t size)
{
	const struct trace_ring *r = &trace_rings[v->pcpu];
	if (!r->rec)
		return 0;
	uint64_t held = trace_ring_count(r), first = r->head - held;
	long n = 0;
	for (uint64_t i = first; i < r->head && (uint64_t)(n + 1) * TRACE_REC_SIZE <= size; i++) {
		const struct trace_rec *rec = &r->rec[i & r->mask];
		if (rec->vm != v->vm->id)
			continue;
		uint8_t packed[TRACE_REC_SIZE];
		trace_rec_pack(rec, packed);
		if (gmem_write(v->mem, gpa + (uint64_t)n * TRACE_REC_SIZE, packed, TRACE_REC_SIZE))
			return HC_ERR_FAULT;
		n++;
	}
	return n;
}
