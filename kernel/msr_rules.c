#include "kernel/msr_rules.h"

bool msr_debugctl_write_ok(bool intel, uint64_t val)
{
	return !(val & ~(intel ? DEBUGCTL_INTEL_VALID : DEBUGCTL_AMD_VALID));
}

bool msr_misc_enable_write_ok(uint64_t cur, uint64_t val)
{
	return !((cur ^ val) & ~MISC_ENABLE_WRITABLE);
}
