/*
 * Deliberate L0 faults (config/command line: selftest=...).  Each one must
 * end in the exception report of arch/x86/traps.c and a failed run; the
 * harness checks the report, which proves that the protections it relies on
 * are really in force: page 0 unmapped, kernel text read-only, data
 * no-execute, a guard page under the boot stack with #DF on its own stack.
 */
#include "kernel/selftest.h"
#include "kernel/log.h"

static volatile unsigned char exec_target[16] = { 0xc3 }; /* RET, in .data (NX) */

static unsigned __attribute__((noinline)) recurse(volatile unsigned depth)
{
	volatile char frame[512];
	frame[0] = (char)depth;
	if (depth > (1u << 30))
		return 0; /* never reached: the guard page stops us first */
	return recurse(depth + 1) + frame[0]; /* not a tail call: the frame stays */
}

void selftest_run(enum cfg_selftest which)
{
	switch (which) {
	case CFG_SELFTEST_NONE:
		return;
	case CFG_SELFTEST_NULL:
		log_info("selftest: reading through a null pointer");
		log_info("selftest: read %u (must not get here)", *(volatile unsigned *)0);
		break;
	case CFG_SELFTEST_WRITE_TEXT:
		log_info("selftest: writing into kernel text at %p", (void *)selftest_run);
		*(volatile unsigned char *)(void *)selftest_run = 0x90;
		break;
	case CFG_SELFTEST_EXEC_DATA:
		log_info("selftest: calling into kernel data at %p", (void *)exec_target);
		((void (*)(void))(unsigned long)exec_target)();
		break;
	case CFG_SELFTEST_STACK:
		log_info("selftest: overflowing the boot stack");
		recurse(0);
		break;
	}
	panic("selftest %d: the fault did not happen", (int)which);
}
