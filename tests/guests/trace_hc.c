/*
 * The exit trace switched at run time (HC_TRACE, docs/hypercalls.md), in
 * a VM whose config leaves it off.  Between "on" and "dump" this guest
 * exits exactly ten times for CPUID and once for the dump hypercall, and
 * prints nothing (console output would be exits too); "off" then takes
 * effect after the entry that follows it.  The harness checks with
 * tools/nestor-trace that vm 1 shows exactly 10 CPUID and 2 VMMCALL exits
 * (dump, off) at L1.
 */
#include "tests/guests/rt/rt.h"

#define TRACED_CPUIDS 10

static bool amd;

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
	long dump = hc_trace(HC_TRACE_DUMP);
	long off = hc_trace(HC_TRACE_OFF);
	long bad = hc_trace(7);
	CHECK(on == 0, "trace: HC_TRACE on");
	CHECK(dump == 0, "trace: HC_TRACE dump");
	CHECK(off == 0, "trace: HC_TRACE off");
	CHECK(bad == HC_ERR_INVALID, "trace: HC_TRACE with an unknown argument fails");
}
