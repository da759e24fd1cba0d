/* What the CPU we run on offers for virtualization, read once at boot. */
#ifndef NESTOR_CPU_CAPS_H
#define NESTOR_CPU_CAPS_H
#include <stdint.h>

enum cpu_vendor { VENDOR_OTHER, VENDOR_INTEL, VENDOR_AMD };

struct cpu_caps {
	enum cpu_vendor vendor;
	char vendor_id[13];
	char brand[49];
	unsigned phys_bits, virt_bits;
	int has_vmx, has_svm, has_x2apic, has_1g_pages, has_xsave, has_la57;
	/* VMX (SDM appendix A) */
	uint64_t vmx_basic, vmx_pin, vmx_proc, vmx_proc2, vmx_exit, vmx_entry, vmx_misc, vmx_ept_vpid;
	uint64_t feature_control;
	/* SVM (APM vol. 2 15.4, CPUID 0x8000000A) */
	uint32_t svm_rev, svm_asids, svm_features;
};

extern struct cpu_caps cpu_caps;

void cpu_caps_read(void);
void cpu_caps_report(void);

/* The names of the set bits of a capability word, from a table: pure, for
 * the report and the tests.  Writes "NAME NAME ..." into buf. */
struct cap_bit { unsigned bit; const char *name; };
void cap_bits_describe(uint64_t value, const struct cap_bit *table, unsigned n, char *buf, unsigned len);
extern const struct cap_bit svm_feature_bits[];
extern const unsigned svm_feature_bits_count;
extern const struct cap_bit vmx_proc2_bits[];
extern const unsigned vmx_proc2_bits_count;
extern const struct cap_bit vmx_ept_vpid_bits[];
extern const unsigned vmx_ept_vpid_bits_count;
#endif
