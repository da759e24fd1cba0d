/* Tables naming capability bits (pure; also used by host tests). */
#include <string.h>
#include "arch/x86/cpu_caps.h"

/* AMD APM vol. 3, CPUID Fn8000_000A EDX */
const struct cap_bit svm_feature_bits[] = {
	{ 0, "NPT" }, { 1, "LbrVirt" }, { 2, "SVML" }, { 3, "NRIPS" }, { 4, "TscRate" },
	{ 5, "VmcbClean" }, { 6, "FlushByAsid" }, { 7, "DecodeAssists" },
	{ 10, "PauseFilter" }, { 12, "PauseFilterThreshold" }, { 13, "AVIC" },
	{ 15, "VMSAVEvirt" }, { 16, "vGIF" }, { 17, "GMET" }, { 20, "SpecCtrl" },
	{ 25, "VNMI" }, { 28, "SVME_ADDR_CHK" },
};
const unsigned svm_feature_bits_count = sizeof(svm_feature_bits) / sizeof(svm_feature_bits[0]);

/* SDM 24.6.2 table 24-7: secondary processor-based controls (allowed-1 half) */
const struct cap_bit vmx_proc2_bits[] = {
	{ 32 + 0, "VirtAPICAccess" }, { 32 + 1, "EPT" }, { 32 + 2, "DescTableExit" },
	{ 32 + 3, "RDTSCP" }, { 32 + 4, "Virtx2APIC" }, { 32 + 5, "VPID" },
	{ 32 + 6, "WBINVDExit" }, { 32 + 7, "UnrestrictedGuest" }, { 32 + 8, "APICRegVirt" },
	{ 32 + 9, "VirtIntrDelivery" }, { 32 + 10, "PauseLoopExit" }, { 32 + 12, "INVPCID" },
	{ 32 + 13, "VMFUNC" }, { 32 + 14, "VMCSShadowing" }, { 32 + 17, "PML" },
	{ 32 + 18, "EPTViolation#VE" }, { 32 + 20, "XSAVES" }, { 32 + 25, "TSCScaling" },
};
const unsigned vmx_proc2_bits_count = sizeof(vmx_proc2_bits) / sizeof(vmx_proc2_bits[0]);

/* SDM appendix A.10: IA32_VMX_EPT_VPID_CAP */
const struct cap_bit vmx_ept_vpid_bits[] = {
	{ 0, "ExecOnly" }, { 6, "4Level" }, { 7, "5Level" }, { 8, "UC" }, { 14, "WB" },
	{ 16, "2M" }, { 17, "1G" }, { 20, "INVEPT" }, { 21, "A/D" }, { 25, "INVEPT-single" },
	{ 26, "INVEPT-all" }, { 32, "INVVPID" }, { 40, "INVVPID-addr" }, { 41, "INVVPID-single" },
	{ 42, "INVVPID-all" },
};
const unsigned vmx_ept_vpid_bits_count = sizeof(vmx_ept_vpid_bits) / sizeof(vmx_ept_vpid_bits[0]);

void cap_bits_describe(uint64_t value, const struct cap_bit *table, unsigned n, char *buf, unsigned len)
{
	unsigned used = 0;
	if (!len)
		return;
	buf[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!((value >> table[i].bit) & 1))
			continue;
		size_t w = strlen(table[i].name);
		if (used + w + 2 > len)
			break;
		if (used)
			buf[used++] = ' ';
		memcpy(buf + used, table[i].name, w);
		used += (unsigned)w;
		buf[used] = 0;
	}
}
