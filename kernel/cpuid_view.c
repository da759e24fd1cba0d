#include <string.h>
#include "kernel/cpuid_view.h"

/* Feature bits by leaf (SDM vol. 2A CPUID, APM vol. 3 appendix E). */
#define L1_ECX_MONITOR   (1u << 3)
#define L1_ECX_VMX       (1u << 5)
#define L1_ECX_SMX       (1u << 6)
#define L1_ECX_X2APIC    (1u << 21)
#define L1_ECX_TSC_DL    (1u << 24)
#define L1_ECX_XSAVE     (1u << 26)
#define L1_ECX_OSXSAVE   (1u << 27)
#define L1_ECX_AVX       (1u << 28)
#define L1_ECX_HYPERVISOR (1u << 31)
/* Thermal, power and debug-store features: each comes with MSRs Nestor
 * does not offer (IA32_THERM_*, IA32_DS_AREA, IA32_PERF_CAPABILITIES,
 * the EIST and xTPR bits of IA32_MISC_ENABLE), and Linux touches those
 * MSRs with plain RDMSR/WRMSR once it sees the bit (intel_init_thermal
 * on ACPI + TM), so they are hidden: ECX DTES64, DS-CPL, EIST, TM2,
 * xTPR update control, PDCM; EDX DS, ACPI, TM, PBE. */
#define L1_ECX_POWER_DEBUG ((1u << 2) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 14) | (1u << 15))
#define L1_EDX_POWER_DEBUG ((1u << 21) | (1u << 22) | (1u << 29) | (1u << 31))
#define L7_ECX_LA57      (1u << 16)
#define E1_ECX_SVM       (1u << 2)
#define E1_ECX_SKINIT    (1u << 12)
#define E1_EDX_RDTSCP    (1u << 27)

/* Leaf 7 EBX features the guest may use: none needs an XSAVE state or an
 * intercept Nestor lacks.  (FSGSBASE, BMI1, SMEP, BMI2, ERMS, SMAP, ADX,
 * CLFLUSHOPT, CLWB, SHA; AVX2/AVX-512 stay hidden since XSAVE is.) */
#define L7_EBX_ALLOWED ((1u << 0) | (1u << 3) | (1u << 7) | (1u << 8) | (1u << 9) | \
			(1u << 19) | (1u << 20) | (1u << 23) | (1u << 24) | (1u << 29))

static struct cpuid_out hv_signature(void)
{
	struct cpuid_out r = { CPUID_HV_TIMING, 0, 0, 0 };
	memcpy(&r.ebx, NESTOR_CPUID_SIGNATURE, 4);
	memcpy(&r.ecx, NESTOR_CPUID_SIGNATURE + 4, 4);
	memcpy(&r.edx, NESTOR_CPUID_SIGNATURE + 8, 4);
	return r;
}

struct cpuid_out cpuid_guest_view(const struct cpuid_guest *g, uint32_t leaf, uint32_t subleaf,
				  struct cpuid_out r)
{
	(void)subleaf;
	switch (leaf) {
	case 1:
		/* EBX[31:24] initial APIC ID, [23:16] logical processors per package. */
		r.ebx = (r.ebx & 0x0000ffffu) | (g->vcpu_index << 24) | ((g->nvcpus & 0xff) << 16);
		r.ecx &= ~(L1_ECX_MONITOR | L1_ECX_SMX | L1_ECX_XSAVE |
			   L1_ECX_OSXSAVE | L1_ECX_AVX | L1_ECX_X2APIC | L1_ECX_POWER_DEBUG);
		r.edx &= ~L1_EDX_POWER_DEBUG;
		r.ecx |= L1_ECX_TSC_DL; /* the virtual LAPIC has TSC-deadline mode */
		if (!g->nested)
			r.ecx &= ~L1_ECX_VMX;
		if (g->x2apic)
			r.ecx |= L1_ECX_X2APIC;
		r.ecx |= L1_ECX_HYPERVISOR;
		r.edx |= 1u << 9; /* a (virtual) local APIC is always there */
		break;
	case 5:           /* MONITOR/MWAIT: hidden */
	case 6:           /* thermal and power management: not virtualized */
	case 0xa:         /* architectural performance monitoring: no vPMU */
	case 0xd:         /* XSAVE state: hidden with XSAVE */
	case 0x80000007:  /* power management */
		r.eax = r.ebx = r.ecx = r.edx = 0;
		break;
	case 7:
		if (subleaf == 0) {
			r.eax = 0; /* no further subleaves */
			r.ebx &= L7_EBX_ALLOWED;
			r.ecx &= ~L7_ECX_LA57; /* 5-level paging: not offered */
			/* UMIP only.  RDPID (bit 22), like RDTSCP, reads
			 * IA32_TSC_AUX, which the backends do not switch
			 * between guest and host: a guest would read L0's
			 * value (Linux keeps its CPU number there and uses
			 * RDPID to find its per-CPU data on NMI entry), so
			 * both stay hidden and TSC_AUX #GPs, as on a CPU
			 * without them (docs/linux-guests.md). */
			r.ecx &= (1u << 2);
			r.edx = 0;
		} else {
			r.eax = r.ebx = r.ecx = r.edx = 0;
		}
		break;
	case 0xb:
	case 0x1f:
		r.edx = g->vcpu_index; /* x2APIC ID */
		break;
	case CPUID_HV_BASE:
		return hv_signature();
	case CPUID_HV_TIMING:
		r.eax = g->tsc_khz;
		r.ebx = g->bus_khz;
		r.ecx = r.edx = 0;
		break;
	case 0x80000001:
		r.ecx &= ~E1_ECX_SKINIT; /* SKINIT: not offered (#UD) */
		r.edx &= ~E1_EDX_RDTSCP; /* TSC_AUX is not switched: see leaf 7 */
		if (!g->nested)
			r.ecx &= ~E1_ECX_SVM;
		break;
	case 0x8000000a:
		/* SVM as Nestor emulates it for L1 (svm/nested/): revision 1, the
		 * ASIDs L1 may use (tags only: L0 maps them to its own), nested
		 * paging, nRIP save, which Nestor computes where the host lacks
		 * it, and VMCB clean bits (svm/nested/vmcb_clean.c).  Nothing
		 * else: no decode assists, FlushByAsid, vGIF, AVIC (APM vol. 3
		 * CPUID Fn8000_000A). */
		if (!g->nested) {
			r.eax = r.ebx = r.ecx = r.edx = 0;
		} else {
			r.eax = 1;
			r.ebx = NESTED_SVM_ASIDS;
			r.ecx = 0;
			r.edx = (1u << 0) | (1u << 3) | (1u << 5); /* NP, NRIPS, VmcbClean */
		}
		break;
	default:
		if (leaf > CPUID_HV_BASE && leaf < 0x80000000u)
			r.eax = r.ebx = r.ecx = r.edx = 0;
		break;
	}
	return r;
}
