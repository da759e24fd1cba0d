/* A guest that triple-faults on purpose: its VM must end with a state dump
 * while L0 and the other VMs keep running. */
#include "tests/guests/rt/rt.h"

void guest_main(void)
{
	rt_printf("triple: about to triple-fault\n");
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) none = { 0, 0 };
	__asm__ volatile("lidt %0; int3" : : "m"(none));
	rt_printf("FAIL: triple: still alive\n");
}
