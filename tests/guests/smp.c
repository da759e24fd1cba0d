/*
 * The SMP test guest: the BSP starts its second vCPU with INIT-SIPI-SIPI
 * (SDM 9.4.4.1) through the virtual LAPIC, using Nestor's own trampoline
 * (arch/x86/trampoline.S); both vCPUs run, and they exchange IPIs.
 */
#include "tests/guests/rt/rt.h"
#include "arch/x86/trampoline.h"

#define TRAMP 0x6000               /* code page; data page at 0x7000 */
#define VEC_FROM_AP 0x50
#define VEC_FROM_BSP 0x51

static volatile unsigned ap_running, ap_got_ipi, bsp_got_ipi;
static uint8_t ap_stack[16384] __attribute__((aligned(16)));
static uint64_t tsc_khz;

static void on_from_ap(void) { bsp_got_ipi++; lapic_wr(0xb0, 0); }
static void on_from_bsp(void) { ap_got_ipi++; lapic_wr(0xb0, 0); }

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	lapic_wr(0x310, apic_id << 24);
	lapic_wr(0x300, icr);
}

static void ap_main(uint64_t arg);
static void ap_main(uint64_t arg)
{
	/* The trampoline's GDT has other selectors than the BSP's, which the
	 * IDT gates name: switch to the BSP's GDT before taking interrupts. */
	__asm__ volatile("lgdt (%0)\n\t"
			 "pushq $0x08\n\t lea 1f(%%rip), %%rax\n\t pushq %%rax\n\t lretq\n"
			 "1: mov $0x10, %%eax\n\t mov %%eax, %%ds\n\t mov %%eax, %%es\n\t mov %%eax, %%ss"
			 : : "r"(arg) : "rax", "memory");
	rt_idt_load();
	lapic_wr(0xf0, 0x1ff);
	rt_printf("smp: AP running, LAPIC ID %u\n", lapic_rd(0x20) >> 24);
	__atomic_store_n(&ap_running, 1, __ATOMIC_RELEASE);
	send_ipi(0, VEC_FROM_AP);
	uint64_t end = rdtsc() + 2000 * tsc_khz;
	while (!ap_got_ipi && rdtsc() < end) {
		sti();
		hlt();
		cli();
	}
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_main(void)
{
	if (!rt_under_nestor()) {
		rt_printf("smp: expects Nestor's platform; skipped\n");
		return;
	}
	tsc_khz = cpuid(0x40000010, 0).eax;
	CHECK(((cpuid(1, 0).ebx >> 16) & 0xff) == 2, "smp: CPUID reports 2 logical CPUs");
	rt_irq_register(VEC_FROM_AP, on_from_ap);
	rt_irq_register(VEC_FROM_BSP, on_from_bsp);
	lapic_wr(0xf0, 0x1ff);
	tramp_install(TRAMP);
	static struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	tramp_fill(TRAMP, read_cr3(), (uint64_t)(ap_stack + sizeof(ap_stack)), (uint64_t)ap_main, (uint64_t)&gdtr);

	send_ipi(1, (5u << 8) | (1u << 14) | (1u << 15));   /* INIT, level assert */
	rt_delay_tsc(10 * tsc_khz);
	for (int i = 0; i < 2 && !ap_running; i++) {
		send_ipi(1, (6u << 8) | (TRAMP >> 12));          /* STARTUP */
		rt_delay_tsc(tsc_khz);
	}
	uint64_t end = rdtsc() + 2000 * tsc_khz;
	while (!ap_running && rdtsc() < end)
		cpu_relax();
	CHECK(ap_running, "smp: AP started by INIT-SIPI-SIPI");
	end = rdtsc() + 2000 * tsc_khz;
	while (!bsp_got_ipi && rdtsc() < end) {
		sti();
		hlt();
		cli();
	}
	CHECK(bsp_got_ipi == 1, "smp: IPI from the AP reaches the BSP");
	send_ipi(1, VEC_FROM_BSP);
	end = rdtsc() + 2000 * tsc_khz;
	while (!ap_got_ipi && rdtsc() < end)
		cpu_relax();
	CHECK(ap_got_ipi == 1, "smp: IPI from the BSP reaches the AP (waking its HLT)");
}
