/*
 * SMP bring-up: every AP listed in the MADT is started with INIT-SIPI-SIPI
 * (SDM 3A 9.4.4.1 "typical BSP initialization sequence"), runs the
 * trampoline into long mode on Nestor's page tables, sets up its own
 * per-CPU state, reports in and idles.
 */
#include <string.h>
#include "arch/x86/smp.h"
#include "arch/x86/trampoline.h"
#include "arch/x86/cpu.h"
#include "arch/x86/lapic.h"
#include "arch/x86/percpu.h"
#include "arch/x86/traps.h"
#include "mm/frame.h"
#include "mm/paging.h"
#include "kernel/log.h"



struct percpu percpu_area[MAX_CPUS];
unsigned cpu_count = 1;
volatile unsigned cpus_online = 1;
static uint64_t tramp_page;

void smp_set_trampoline(uint64_t page) { tramp_page = page; }


static void enable_fpu(void)
{
	/* newlib's string and formatting code uses SSE (docs/emulators.md).
	 * An AP leaves INIT with CR0.CD = NW = 1, caches off (SDM 3A 10.1.1,
	 * 12.5.1): normal write-back caching needs both clear. */
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS | CR0_CD | CR0_NW)) | CR0_MP | CR0_NE);
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
	struct cpuid_regs r = cpuid(1, 0);
	if (r.ecx & (1u << 26)) { /* XSAVE */
		write_cr4(cr4 | CR4_OSXSAVE);
		uint64_t xcr0 = 3; /* x87, SSE */
		if (r.ecx & (1u << 28))
			xcr0 |= 4; /* AVX */
		xsetbv(0, xcr0);
	} else {
		write_cr4(cr4);
	}
	__asm__ volatile("fninit");
}

void cpu_init_this(unsigned index, uint32_t apic_id)
{
	struct percpu *cpu = &percpu_area[index];
	cpu->self = cpu;
	cpu->index = index;
	cpu->apic_id = apic_id;
	wrmsr(MSR_GS_BASE, (uint64_t)cpu);
	gdt_init_this_cpu();
	idt_load();
	enable_fpu();
}

void ap_main(struct percpu *cpu);
void ap_main(struct percpu *cpu)
{
	cpu_init_this(cpu->index, cpu->apic_id);
	tss_init_ist();
	lapic_init_this_cpu();
	uint32_t id = lapic_id();
	log_info("cpu %u online (APIC id %u)", cpu->index, id);
	__atomic_store_n(&cpu->online, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&cpus_online, 1, __ATOMIC_ACQ_REL);
	/* Idle until the BSP hands us work (smp_run_on), e.g. running vCPUs. */
	for (;;) {
		void (*work)(void) = __atomic_exchange_n(&cpu->work, NULL, __ATOMIC_ACQ_REL);
		if (work)
			work();
		sti();
		hlt();
		cli();
	}
}

static void wake_ipi(struct trap_frame *tf)
{
	(void)tf;
	lapic_eoi();
}

void smp_run_on(unsigned cpu, void (*fn)(void))
{
	__atomic_store_n(&percpu_area[cpu].work, fn, __ATOMIC_RELEASE);
	lapic_send_ipi(percpu_area[cpu].apic_id, VEC_IPI_WAKE);
}

static int start_ap(unsigned index, uint32_t apic_id)
{
	struct percpu *cpu = &percpu_area[index];
	cpu->index = index;
	cpu->apic_id = apic_id;
	cpu->stack_top = paging_alloc_stack(8);
	tramp_fill(tramp_page, paging_root(), cpu->stack_top, (uint64_t)ap_main, (uint64_t)cpu);

	/* INIT, 10 ms, SIPI, 200 us, SIPI (SDM 3A 9.4.4.1). */
	lapic_send_ipi(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	udelay(10000);
	for (int i = 0; i < 2 && !cpu->online; i++) {
		lapic_send_ipi(apic_id, ICR_STARTUP | (uint32_t)(tramp_page >> 12));
		udelay(200);
	}
	/* Emulators run the AP slowly: give it up to a second (TSC time). */
	for (unsigned ms = 0; ms < 1000 && !__atomic_load_n(&cpu->online, __ATOMIC_ACQUIRE); ms++)
		udelay(1000);
	return cpu->online ? 0 : -1;
}

unsigned smp_start_aps(const struct acpi_info *acpi)
{
	uint32_t bsp = lapic_id();
	if (!tramp_page) {
		log_warn("smp: no page below 1 MiB for the trampoline; APs stay off");
		return cpus_online;
	}
	/* Code page written while writable, then made read-execute (W^X);
	 * the data page after it stays read-write. */
	paging_map(tramp_page, tramp_page, 2 * PAGE_SIZE, MAP_RW);
	tramp_install(tramp_page);
	paging_map(tramp_page, tramp_page, PAGE_SIZE, MAP_RX);

	trap_register(VEC_IPI_WAKE, wake_ipi);
	unsigned next = 1;
	for (unsigned i = 0; i < acpi->cpu_count && next < MAX_CPUS; i++) {
		uint32_t id = acpi->apic_ids[i];
		if (id == bsp)
			continue;
		if (start_ap(next, id))
			log_err("smp: CPU with APIC id %u did not come up", id);
		else
			next++;
	}
	cpu_count = next;
	return cpus_online;
}
