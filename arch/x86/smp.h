#ifndef NESTOR_SMP_H
#define NESTOR_SMP_H
#include <stdint.h>
#include "arch/x86/acpi.h"

/* A free 4 KiB page below 1 MiB (and the one after it) for the AP
 * trampoline: chosen from the boot memory map before it is reserved. */
void smp_set_trampoline(uint64_t page);
/* Start every enabled CPU of the MADT but the BSP; returns CPUs online. */
unsigned smp_start_aps(const struct acpi_info *acpi);
void cpu_init_this(unsigned index, uint32_t apic_id); /* GS, GDT/TSS, IDT, FPU */
/* Run fn on an idle AP (it returns to idling afterwards). */
void smp_run_on(unsigned cpu, void (*fn)(void));                 /* returns the top; guard page below */
#endif
