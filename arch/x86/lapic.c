/*
 * Local APIC of the CPU Nestor runs on (SDM vol. 3A chapter 11): xAPIC
 * through its MMIO page or x2APIC through MSRs, the timer, and IPIs.
 *
 * The timer and the TSC are calibrated against the 8254 PIT's channel 2
 * (its input clock is a fixed 1.193182 MHz); where the CPU states its
 * frequencies in CPUID 0x15/0x16 and the PIT does not count, those are used.
 * Note (Bochs): the APIC must never be software-disabled through
 * IA32_APIC_BASE here; Bochs does not re-enable it (docs/emulators.md).
 */
#include "arch/x86/lapic.h"
#include "arch/x86/cpu.h"
#include "mm/paging.h"
#include "kernel/log.h"

#define APIC_BASE_BSP    (1ull << 8)
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)
#define PIT_HZ 1193182u

static int x2apic;
static volatile uint32_t *xapic_mmio;
static uint64_t tsc_per_ms, lapic_per_ms;

static uint32_t lapic_read(uint32_t reg)
{
	return x2apic ? (uint32_t)rdmsr(0x800 + (reg >> 4)) : xapic_mmio[reg / 4];
}
static void lapic_write(uint32_t reg, uint32_t v)
{
	if (x2apic)
		wrmsr(0x800 + (reg >> 4), v);
	else
		xapic_mmio[reg / 4] = v;
}

int lapic_x2apic_mode(void) { return x2apic; }

uint32_t lapic_id(void)
{
	return x2apic ? lapic_read(LAPIC_ID) : lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

void lapic_init_this_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (base & APIC_BASE_BSP) {
		/* The BSP decides the mode for every CPU: x2APIC when CPUID.1:ECX[21]. */
		x2apic = (cpuid(1, 0).ecx >> 21) & 1;
		if (!x2apic) {
			uint64_t pa = base & 0xffffff000ull;
			paging_map(pa, pa, 4096, MAP_MMIO);
			xapic_mmio = (volatile uint32_t *)pa;
		}
	}
	/* SDM 11.12.1: xAPIC -> x2APIC is a write with both EN and EXTD set. */
	base |= APIC_BASE_ENABLE | (x2apic ? APIC_BASE_X2APIC : 0);
	wrmsr(MSR_APIC_BASE, base);

	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);     /* masked until used */
	lapic_write(LAPIC_LVT_LINT0, 1u << 16);     /* legacy PIC: masked (pic_disable) */
	lapic_write(LAPIC_LVT_LINT1, 4u << 8);      /* NMI */
	lapic_write(LAPIC_LVT_ERROR, 1u << 16);
	lapic_write(LAPIC_SVR, 0x100 | 0xff);       /* software enable, spurious vector 0xff */
	lapic_write(LAPIC_ESR, 0);
}

void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
	if (x2apic) {
		wrmsr(0x830, ((uint64_t)apic_id << 32) | icr_low);
		return;
	}
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR, icr_low);
	for (unsigned i = 0; i < 1000000 && (lapic_read(LAPIC_ICR) & ICR_PENDING); i++)
		cpu_relax();
}

/* Let PIT channel 2 count down `ticks` with its gate on; poll OUT2 in port
 * 0x61 bit 5.  Returns 0 if OUT2 never rose (no PIT on this machine). */
static int pit_wait(uint16_t ticks)
{
	uint8_t ctl = (inb(0x61) & ~0x02) | 0x01;   /* speaker off, gate on */
	outb(0x61, ctl & ~0x01);
	outb(0x43, 0xb0);                           /* ch 2, lo/hi byte, mode 0 */
	outb(0x42, ticks & 0xff);
	outb(0x42, ticks >> 8);
	outb(0x61, ctl);                            /* rising gate starts the count */
	for (uint64_t spins = 0; spins < 100000000ull; spins++)
		if (inb(0x61) & 0x20)
			return 1;
	return 0;
}

void lapic_calibrate(void)
{
	const unsigned ms = 20;
	lapic_write(LAPIC_TIMER_DIV, 0x3);          /* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
	uint64_t t0 = rdtsc();
	int ok = pit_wait((uint16_t)(PIT_HZ * ms / 1000));
	uint64_t t1 = rdtsc();
	uint32_t left = lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_TIMER_INIT, 0);
	if (ok) {
		tsc_per_ms = (t1 - t0) / ms;
		lapic_per_ms = (0xffffffffu - left) / ms;
		log_info("timer: calibrated against the PIT: TSC %lu kHz, LAPIC timer %lu kHz (div 16)",
			 tsc_per_ms, lapic_per_ms);
		return;
	}
	/* No PIT: CPUID 0x15 gives TSC/crystal ratio and crystal Hz, 0x16 the base MHz. */
	struct cpuid_regs r = cpuid(0x15, 0);
	if (r.eax && r.ebx && r.ecx)
		tsc_per_ms = (uint64_t)r.ecx * r.ebx / r.eax / 1000;
	else if (cpuid(0x16, 0).eax)
		tsc_per_ms = (uint64_t)cpuid(0x16, 0).eax * 1000;
	if (!tsc_per_ms)
		panic("timer: no PIT and no CPUID frequency leaves; cannot calibrate");
	lapic_per_ms = r.ecx ? r.ecx / 1000 / 16 : tsc_per_ms / 16;
	log_warn("timer: no PIT; from CPUID: TSC %lu kHz, LAPIC timer %lu kHz (estimate)",
		 tsc_per_ms, lapic_per_ms);
}

uint64_t tsc_khz(void) { return tsc_per_ms; }
uint64_t lapic_timer_khz(void) { return lapic_per_ms; }

void lapic_timer_periodic(uint8_t vector, uint32_t period_us)
{
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, vector | (1u << 17)); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)(lapic_per_ms * period_us / 1000));
}

void lapic_timer_oneshot(uint8_t vector, uint32_t us)
{
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, vector);             /* one-shot */
	uint64_t count = lapic_per_ms * us / 1000;
	lapic_write(LAPIC_TIMER_INIT, count ? (uint32_t)(count > 0xffffffffu ? 0xffffffffu : count) : 1);
}

void lapic_timer_until(uint8_t vector, uint64_t tsc_deadline)
{
	/* Round up so the interrupt never comes before the deadline; at most
	 * a second ahead (the caller looks again when it comes). */
	uint64_t now = rdtsc();
	uint64_t us = tsc_deadline > now ? (tsc_deadline - now) * 1000 / (tsc_per_ms ? tsc_per_ms : 1) + 1 : 1;
	lapic_timer_oneshot(vector, us > 1000000 ? 1000000 : (uint32_t)us);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);
	lapic_write(LAPIC_TIMER_INIT, 0);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + tsc_per_ms * us / 1000;
	while (rdtsc() < end)
		cpu_relax();
}
