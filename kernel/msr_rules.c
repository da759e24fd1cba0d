#include "kernel/msr_rules.h"

bool msr_debugctl_write_ok(bool intel, uint64_t val)
{
	return !(val & ~(intel ? DEBUGCTL_INTEL_VALID : DEBUGCTL_AMD_VALID));
}
