#include "kernel/backend.h"
#include "arch/x86/cpu_caps.h"

const struct vcpu_ops *vcpu_ops;

bool backend_choose(void)
{
	if (cpu_caps.vendor == VENDOR_AMD && cpu_caps.has_svm)
		vcpu_ops = &svm_ops;
	else if (cpu_caps.has_vmx && (cpu_caps.vmx_proc2 >> 32 & 0xa2) == 0xa2)
		vcpu_ops = &vmx_ops; /* secondary controls 1, 5, 7: EPT, VPID, unrestricted guest */
	else if (cpu_caps.has_svm)
		vcpu_ops = &svm_ops;
	return vcpu_ops != NULL;
}
