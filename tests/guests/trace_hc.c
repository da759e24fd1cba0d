/*
 * The exit trace switched at run time (HC_TRACE, docs/hypercalls.md), in
 * a VM whose config leaves it off.  Between "on" and "dump" this guest
 * exits exactly ten times for CPUID, once to read its records back
 * (HC_TRACE_READ) and once for the dump hypercall, and
 * prints nothing (console output would be exits too); "off" then takes
 * effect after the entry that follows it.  The harness checks with
 * tools/nestor-trace that vm 1 shows exactly 10 CPUID and 3 VMMCALL exits
 * (read, dump, off) at L1.
 */
#include "tests/guests/rt/rt.h"

#define TRACED_CPUIDS 10

static bool amd;

#define TRACE_REC_BYTES 48

/* HC_TRACE_READ into buf; the count of records copied, or < 0. */
static long hc_trace_read(void *buf, uint64_t size)
{
	long ret;
	if (amd)
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"((uint64_t)HC_TRACE), "b"((uint64_t)HC_TRACE_READ),
				 "c"((uint64_t)buf), "d"(size) : "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"((uint64_t)HC_TRACE), "b"((uint64_t)HC_TRACE_READ),
				 "c"((uint64_t)buf), "d"(size) : "memory");
	return ret;
}

/* rt_hypercall asks CPUID for the vendor each time: one exit too many here. */
static long hc_trace(uint64_t arg)
{
	long ret;
	if (amd)
		__asm__ volatile("vmmcall" : "=a"(ret) : "a"((uint64_t)HC_TRACE), "b"(arg) : "rcx", "rdx", "memory");
	else
		__asm__ volatile("vmcall" : "=a"(ret) : "a"((uint64_t)HC_TRACE), "b"(arg) : "rcx", "rdx", "memory");
	return ret;
}

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_check(false, "trace: under Nestor", "HC_TRACE is Nestor's hypercall");
		return;
	}
	amd = rt_is_amd();
	long on = hc_trace(HC_TRACE_ON);
	for (int i = 0; i < TRACED_CPUIDS; i++)
		cpuid(0, 0);
	/* The guest reads its own records back (one more VMMCALL exit). */
	static uint8_t recs[64 * TRACE_REC_BYTES];
	long nrec = hc_trace_read(recs, sizeof(recs));
	unsigned cpuids = 0;
	for (long i = 0; i < nrec; i++) {
		const uint8_t *r = recs + i * TRACE_REC_BYTES;
		uint64_t reason = 0;
		__builtin_memcpy(&reason, r + 8, 8);
		/* kind 1 = EXIT (docs/trace-format.md), level 1 */
		if (r[42] == 1 && r[43] == 1 && reason == (amd ? 0x72u : 10u))
			cpuids++;
	}
	long dump = hc_trace(HC_TRACE_DUMP);
	long off = hc_trace(HC_TRACE_OFF);
	long bad = hc_trace(7);
	CHECK(on == 0, "trace: HC_TRACE on");
	CHECK(dump == 0, "trace: HC_TRACE dump");
	CHECK(off == 0, "trace: HC_TRACE off");
	CHECK(bad == HC_ERR_INVALID, "trace: HC_TRACE with an unknown argument fails");
	rt_check(cpuids == TRACED_CPUIDS, "trace: the guest reads its own CPUID exits back (HC_TRACE_READ)",
		 "%u of %ld records are its CPUID exits", cpuids, nrec);
}
