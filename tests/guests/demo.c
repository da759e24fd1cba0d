/* The built-in demo guest (`image = builtin:demo`): says hello, asks L0 a
 * few things, shows its own exit statistics, and ends. */
#include <string.h>
#include "tests/guests/rt/rt.h"

void guest_main(void)
{
	struct cpuid_regs r = cpuid(0x40000000, 0);
	char sig[13] = { 0 };
	memcpy(sig, &r.ebx, 4);
	memcpy(sig + 4, &r.ecx, 4);
	memcpy(sig + 8, &r.edx, 4);
	rt_printf("Hello from a Nestor guest: hypervisor \"%s\", %lu MiB of RAM\n",
		  sig, (unsigned long)(rt_boot.ram_bytes >> 20));
	CHECK(rt_under_nestor(), "demo: running under Nestor");
	for (int i = 0; i < 100; i++)
		cpuid(0, 0);
	if (rt_under_nestor()) {
		struct hc_exit_stats s;
		long n = rt_hypercall(HC_EXIT_STATS, (uint64_t)&s, sizeof(s), 0);
		CHECK(n == (long)sizeof(s) && s.by_kind[EXIT_CPUID] >= 100, "demo: exit statistics hypercall");
		rt_printf("demo: %llu exits so far, %llu of them CPUID\n", s.total, s.by_kind[EXIT_CPUID]);
	}
}
