/*
 * The CPU report printed at boot: vendor, brand, address widths, and the
 * virtualization extension with its capabilities decoded (VMX capability
 * MSRs, SDM appendix A; SVM CPUID 0x8000000A, APM vol. 2 15.4).
 */
#include <string.h>
#include "arch/x86/cpu_caps.h"
#include "arch/x86/cpu.h"
#include "kernel/log.h"

struct cpu_caps cpu_caps;

#define MSR_VMX_PINBASED  0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT      0x483
#define MSR_VMX_ENTRY     0x484
#define MSR_VMX_MISC      0x485
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID  0x48c
#define MSR_VMX_TRUE_PIN  0x48d

static void read_vmx(struct cpu_caps *c)
{
	c->vmx_basic = rdmsr(MSR_VMX_BASIC);
	/* SDM A.1: bit 55 says the TRUE_* MSRs exist and are the ones to use. */
	int tru = (c->vmx_basic >> 55) & 1;
	c->vmx_pin = rdmsr(tru ? MSR_VMX_TRUE_PIN : MSR_VMX_PINBASED);
	c->vmx_proc = rdmsr(tru ? MSR_VMX_TRUE_PIN + 1 : MSR_VMX_PROCBASED);
	c->vmx_exit = rdmsr(tru ? MSR_VMX_TRUE_PIN + 2 : MSR_VMX_EXIT);
	c->vmx_entry = rdmsr(tru ? MSR_VMX_TRUE_PIN + 3 : MSR_VMX_ENTRY);
	c->vmx_misc = rdmsr(MSR_VMX_MISC);
	if ((c->vmx_proc >> 63) & 1) { /* allowed-1 of "activate secondary controls" */
		c->vmx_proc2 = rdmsr(MSR_VMX_PROCBASED2);
		/* SDM A.10: EPT_VPID_CAP exists if EPT or VPID may be 1 */
		if ((c->vmx_proc2 >> (32 + 1)) & 1 || (c->vmx_proc2 >> (32 + 5)) & 1)
			c->vmx_ept_vpid = rdmsr(MSR_VMX_EPT_VPID);
	}
	rdmsr_safe(MSR_FEATURE_CONTROL, &c->feature_control);
}

void cpu_caps_read(void)
{
	struct cpu_caps *c = &cpu_caps;
	struct cpuid_regs r = cpuid(0, 0);
	memcpy(c->vendor_id, &r.ebx, 4);
	memcpy(c->vendor_id + 4, &r.edx, 4);
	memcpy(c->vendor_id + 8, &r.ecx, 4);
	c->vendor = !strcmp(c->vendor_id, "GenuineIntel") ? VENDOR_INTEL
		  : !strcmp(c->vendor_id, "AuthenticAMD") ? VENDOR_AMD : VENDOR_OTHER;

	r = cpuid(1, 0);
	c->has_vmx = (r.ecx >> 5) & 1;
	c->has_x2apic = (r.ecx >> 21) & 1;
	c->has_xsave = (r.ecx >> 26) & 1;
	c->has_la57 = (cpuid(7, 0).ecx >> 16) & 1;

	uint32_t max_ext = cpuid(0x80000000, 0).eax;
	if (max_ext >= 0x80000001) {
		r = cpuid(0x80000001, 0);
		c->has_svm = (r.ecx >> 2) & 1;
		c->has_1g_pages = (r.edx >> 26) & 1;
	}
	if (max_ext >= 0x80000004) {
		for (unsigned i = 0; i < 3; i++) {
			r = cpuid(0x80000002 + i, 0);
			memcpy(c->brand + 16 * i, &r, 16);
		}
	}
	if (max_ext >= 0x80000008) {
		r = cpuid(0x80000008, 0);
		c->phys_bits = r.eax & 0xff;
		c->virt_bits = (r.eax >> 8) & 0xff;
	} else {
		c->phys_bits = 36;
		c->virt_bits = 48;
	}
	if (c->has_vmx)
		read_vmx(c);
	if (c->has_svm && max_ext >= 0x8000000a) {
		r = cpuid(0x8000000a, 0);
		c->svm_rev = r.eax & 0xff;
		c->svm_asids = r.ebx;
		c->svm_features = r.edx;
	}
}

void cpu_caps_report(void)
{
	const struct cpu_caps *c = &cpu_caps;
	char buf[320];
	const char *brand = c->brand;
	while (*brand == ' ')
		brand++;
	log_info("cpu: %s \"%s\", physical address %u bits, linear %u bits%s",
		 c->vendor_id, brand, c->phys_bits, c->virt_bits, c->has_la57 ? ", LA57" : "");
	if (c->has_svm) {
		cap_bits_describe(c->svm_features, svm_feature_bits, svm_feature_bits_count, buf, sizeof(buf));
		log_info("cpu: SVM revision %u, %u ASIDs, features: %s", c->svm_rev, c->svm_asids, buf);
	}
	if (c->has_vmx) {
		log_info("cpu: VMX revision %#lx, VMCS %lu bytes, %s controls, IA32_FEATURE_CONTROL %#lx (%s)",
			 c->vmx_basic & 0x7fffffff, (c->vmx_basic >> 32) & 0x1fff,
			 (c->vmx_basic >> 55) & 1 ? "TRUE" : "legacy", c->feature_control,
			 !(c->feature_control & 1) ? "unlocked"
			 : (c->feature_control & 4) ? "locked, VMX on" : "locked, VMX OFF");
		cap_bits_describe(c->vmx_proc2, vmx_proc2_bits, vmx_proc2_bits_count, buf, sizeof(buf));
		log_info("cpu: VMX secondary: %s", buf);
		cap_bits_describe(c->vmx_ept_vpid, vmx_ept_vpid_bits, vmx_ept_vpid_bits_count, buf, sizeof(buf));
		log_info("cpu: VMX EPT/VPID: %s", buf);
		log_info("cpu: VMX preemption timer %s, monitor trap flag %s",
			 (c->vmx_pin >> (32 + 6)) & 1 ? "yes" : "no",
			 (c->vmx_proc >> (32 + 27)) & 1 ? "yes" : "no");
	}
	if (!c->has_svm && !c->has_vmx)
		log_warn("cpu: neither VMX nor SVM: Nestor can boot but run no VM here");
}
