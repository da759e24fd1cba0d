/*
 * The CPUID a guest sees: the host's, minus what Nestor does not virtualize
 * for it, plus the hypervisor leaves.  Pure (host-tested): given the host's
 * answer for a leaf, compute the guest's.
 */
#ifndef NESTOR_CPUID_VIEW_H
#define NESTOR_CPUID_VIEW_H
#include <stdint.h>
#include <stdbool.h>

struct cpuid_out { uint32_t eax, ebx, ecx, edx; };

struct cpuid_guest {
	unsigned vcpu_index;      /* becomes the initial APIC ID */
	unsigned nvcpus;
	bool nested;              /* expose VMX/SVM (nested virtualization) */
	bool x2apic;              /* the virtual LAPIC offers x2APIC mode */
	uint32_t tsc_khz, bus_khz;
};

#define NESTOR_CPUID_SIGNATURE "NestorNestor"
/* ASIDs a nested L1 may use (CPUID 8000_000A EBX): tags L0 maps to its own. */
#define NESTED_SVM_ASIDS 64
#define CPUID_HV_BASE   0x40000000u
#define CPUID_HV_TIMING 0x40000010u /* EAX = TSC kHz, EBX = LAPIC bus kHz (the VMware leaf Linux reads) */

/* host: the real CPUID for (leaf, subleaf). */
struct cpuid_out cpuid_guest_view(const struct cpuid_guest *g, uint32_t leaf, uint32_t subleaf,
				  struct cpuid_out host);
#endif
