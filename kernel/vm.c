/*
 * VMs and their vCPUs: creation from the configuration (RAM, memory map,
 * NPT01/EPT01, image), placement on physical CPUs, the run loop, and the
 * end of a VM with its exit table.
 */
#include <stdio.h>
#include <string.h>
#include "kernel/vm.h"
#include "kernel/log.h"
#include "kernel/guest_load.h"
#include "kernel/vintr.h"
#include "arch/x86/lapic.h"
#include "arch/x86/traps.h"
#include "drivers/platform/guest_acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/percpu.h"
#include "arch/x86/smp.h"
#include "mm/frame.h"

#define MiB ((uint64_t)1 << 20)

const struct vcpu_ops *vcpu_ops;
extern const char builtin_demo_start[], builtin_demo_end[];

static struct vm vms[CFG_MAX_VMS];
static unsigned vm_count;
static struct vcpu *pcpu_vcpus[MAX_CPUS][CFG_MAX_VMS * VM_MAX_VCPUS];
static unsigned pcpu_nvcpus[MAX_CPUS];
static volatile unsigned vms_running;

static const char *const exit_kind_names[] = {
#define X(name) #name,
	EXIT_KIND_LIST(X)
#undef X
};

void vm_console_putc(struct vm *vm, char c)
{
	spin_lock(&vm->lock);
	if (c == '\n' || vm->line_len == sizeof(vm->line) - 1) {
		vm->line[vm->line_len] = 0;
		kprint("[%s] %s\n", vm->cfg->name, vm->line);
		vm->line_len = 0;
	}
	if (c != '\n' && c != '\r')
		vm->line[vm->line_len++] = c;
	spin_unlock(&vm->lock);
}

static void print_exit_table(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		const struct hc_exit_stats *s = &vm->vcpu[i].stats;
		char line[400];
		int n = snprintf(line, sizeof(line), "vm %s: vCPU %u: %llu exits:", vm->cfg->name, i, s->total);
		for (unsigned k = 0; k < EXIT_KIND_COUNT && n < (int)sizeof(line) - 24; k++)
			if (s->by_kind[k])
				n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", exit_kind_names[k], s->by_kind[k]);
		kprint("%s\n", line);
		char costs[1024];
		if (exit_cost_format(&vm->vcpu[i].costs, exit_kind_names, costs, sizeof(costs)))
			kprint("vm %s: vCPU %u: L0 cost per exit in TSC ticks (exit to re-entry):\n%s",
			       vm->cfg->name, i, costs);
	}
}

void vm_end(struct vm *vm, int status, const char *why)
{
	spin_lock(&vm->lock);
	if (vm->state == VM_ENDED) {
		spin_unlock(&vm->lock);
		return;
	}
	vm->state = VM_ENDED;
	vm->exit_status = status;
	vm->end_reason = why;
	if (vm->line_len) { /* flush a partial console line */
		vm->line[vm->line_len] = 0;
		kprint("[%s] %s\n", vm->cfg->name, vm->line);
		vm->line_len = 0;
	}
	spin_unlock(&vm->lock);
	kprint("NESTOR: vm %s ended: status %d (%s)\n", vm->cfg->name, status, why);
	__atomic_sub_fetch(&vms_running, 1, __ATOMIC_ACQ_REL);
	/* Its vCPUs' CPUs may be idle waiting for them: let them look. */
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vintr_kick(&vm->vcpu[i]);
}

static uint64_t alloc_table(void *ctx)
{
	(void)ctx;
	return frame_alloc_pages(1, 0);
}

static const struct boot_module *find_module(const struct boot_info *bi, const char *name)
{
	for (unsigned i = 0; i < bi->module_count; i++)
		if (!strcmp(bi->modules[i].name, name))
			return &bi->modules[i];
	return NULL;
}

/* What a PC guest finds besides RAM: ACPI tables in the BIOS area (where
 * an OS scans for "RSD PTR ", ACPI 6.5 5.2.5.1) and fw_cfg. */
#define GUEST_ACPI_GPA 0xf0000u

static int build_platform(struct vm *vm)
{
	struct guest_acpi_cfg acfg = {
		.ncpus = vm->nvcpus, .lapic_gpa = 0xfee00000u, .ioapic_id = vm->nvcpus,
		.ioapic_gpa = 0xfec00000u, .isa_irq0_to_gsi2 = true, .uart_irq = 4,
	};
	for (unsigned i = 0; i < vm->nvcpus; i++)
		acfg.apic_ids[i] = i;
	uint8_t *tables = gmem_ptr(&vm->mem, GUEST_ACPI_GPA, GUEST_ACPI_MAX_SIZE, true);
	if (!tables || guest_acpi_build(&acfg, tables, GUEST_ACPI_MAX_SIZE, GUEST_ACPI_GPA, &vm->acpi_rsdp, NULL)) {
		log_err("vm %s: cannot build its ACPI tables", vm->cfg->name);
		return -1;
	}
	fw_cfg_init(&vm->fw_cfg, vm->nvcpus, vm->ram_size, vm->cfg->cmdline);
	vm_platform_init(vm);
	return 0;
}

static int vm_create(struct vm *vm, const struct vm_config *cfg, unsigned id, const struct boot_info *bi)
{
	char err[128];
	memset(vm, 0, sizeof(*vm));
	vm->id = id;
	vm->cfg = cfg;
	vm->asid = id + 1; /* ASID 0 is the host's (APM 15.16) */
	vm->ram_size = cfg->memory_bytes;
	/* 2 MiB aligned so NPT01 can use large pages. */
	vm->ram_hpa = frame_alloc_aligned(vm->ram_size / PAGE_SIZE, 2 * MiB, 0);
	if (!vm->ram_hpa) {
		log_err("vm %s: cannot allocate %lu MiB of RAM", cfg->name, vm->ram_size / MiB);
		return -1;
	}
	gmem_init(&vm->mem);
	if (gmem_add(&vm->mem, 0, vm->ram_size, GMEM_RAM, vm->ram_hpa, 0) ||
	    s2pt_init(&vm->s2, vcpu_ops == &vmx_ops ? S2_EPT : S2_NPT, alloc_table, NULL,
		      vcpu_ops == &vmx_ops ? (bool)((cpu_caps.vmx_ept_vpid >> 17) & 1) : (bool)cpu_caps.has_1g_pages) ||
	    s2pt_build_from_gmem(&vm->s2, &vm->mem)) {
		log_err("vm %s: cannot build its memory map / nested page tables", cfg->name);
		return -1;
	}

	vm->nvcpus = cfg->vcpus < VM_MAX_VCPUS ? cfg->vcpus : VM_MAX_VCPUS;
	if (build_platform(vm))
		return -1;

	const uint8_t *img;
	size_t img_size;
	if (!strcmp(cfg->image, "builtin:demo")) {
		img = (const uint8_t *)builtin_demo_start;
		img_size = (size_t)(builtin_demo_end - builtin_demo_start);
	} else {
		const struct boot_module *m = find_module(bi, cfg->image);
		if (!m) {
			log_err("vm %s: image %s not loaded", cfg->name, cfg->image);
			return -1;
		}
		img = (const uint8_t *)m->addr;
		img_size = m->size;
	}
	struct guest_module mods[GUEST_MAX_MODULES];
	for (unsigned i = 0; i < cfg->module_count && i < GUEST_MAX_MODULES; i++) {
		const struct boot_module *m = find_module(bi, cfg->modules[i]);
		if (!m) {
			log_err("vm %s: module %s not loaded", cfg->name, cfg->modules[i]);
			return -1;
		}
		mods[i] = (struct guest_module){ (const void *)m->addr, m->size, cfg->modules[i] };
	}
	struct guest_boot boot = { 0 };
	int r;
	switch (cfg->format) {
	case CFG_FMT_FLAT:
		r = guest_load_flat(&vm->mem, img, img_size, cfg->load_addr, &boot, err, sizeof(err));
		break;
	case CFG_FMT_MULTIBOOT2:
		r = guest_load_multiboot2(&vm->mem, img, img_size, cfg->cmdline, mods, cfg->module_count,
					  vm->acpi_rsdp, &boot, err, sizeof(err));
		break;
	case CFG_FMT_ELF64:
		r = guest_load_elf64(&vm->mem, img, img_size, cfg->cmdline, mods, cfg->module_count,
				     vm->acpi_rsdp, &boot, err, sizeof(err));
		break;
	case CFG_FMT_AUTO:
	case CFG_FMT_MULTIBOOT1:
		r = guest_load_multiboot1(&vm->mem, img, img_size, cfg->cmdline, mods, cfg->module_count,
					  &boot, err, sizeof(err));
		break;
	default:
		snprintf(err, sizeof(err), "format %s not supported yet", cfg_format_name(cfg->format));
		r = -1;
		break;
	}
	if (r) {
		log_err("vm %s: %s: %s", cfg->name, cfg->image, err);
		return -1;
	}

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];
		v->vm = vm;
		v->index = i;
		if (vcpu_ops->vcpu_create(v)) {
			log_err("vm %s: cannot create vCPU %u", cfg->name, i);
			return -1;
		}
		/* APs wait for INIT-SIPI from the guest's BSP (vlapic_init). */
		vintr_vcpu_init(v);
	}
	vm->vcpu[0].rip = boot.entry;
	vm->vcpu[0].gpr[RAX] = boot.eax;
	vm->vcpu[0].gpr[RBX] = boot.ebx;
	if (boot.long_mode) {
		vm->vcpu[0].gpr[RDI] = boot.ebx;
		vm->vcpu[0].long_mode_cr3 = boot.cr3;
	}
	log_info("vm %s: %lu MiB at host %#lx, %u vCPU(s), %s loaded at %#lx-%#lx, entry %#lx",
		 cfg->name, vm->ram_size / MiB, vm->ram_hpa, vm->nvcpus, cfg->image,
		 boot.image_start, boot.image_end, boot.entry);
	vm->state = VM_RUNNING;
	return 0;
}

/* A VM whose every vCPU is halted with interrupts off (or waits for a SIPI
 * no one will send) can never run again: `cli; hlt` is how a guest stops. */
static bool vm_stuck(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpu[i];
		if (!v->halted && !v->lapic.wait_for_sipi)
			return false;
		if (v->halted && (v->rflags & (1u << 9)))
			return false;
		if (v->pending_init || v->pending_sipi >= 0)
			return false;
	}
	return true;
}

#define SLICE_US 10000
#define MIN_RUN_US 20

/* Sleep until the earliest vCPU timer or an IPI from another CPU. */
static void idle_until(uint64_t deadline)
{
	uint64_t now = rdtsc();
	if (deadline != UINT64_MAX) {
		if (deadline <= now)
			return;
		uint64_t us = (deadline - now) * 1000 / (tsc_khz() ? tsc_khz() : 1) + 1;
		lapic_timer_oneshot(VEC_LAPIC_TIMER, us > 1000000 ? 1000000 : (uint32_t)us);
	}
	sti();
	hlt();
	cli();
}

/* One vCPU until it halts, its VM ends, or L0 takes an interrupt (which
 * may mean another vCPU of this CPU has become runnable). */
static void run_vcpu(struct vcpu *v)
{
	struct vm_exit exit;
	if (v->long_mode_cr3) {
		/* ELF64 boot state, set on the CPU that runs the vCPU (VMX: its VMCS). */
		vcpu_ops->set_long_mode_boot(v, v->long_mode_cr3);
		v->long_mode_cr3 = 0;
	}
	uint64_t exited = 0;
	unsigned last_kind = 0;
	while (v->vm->state == VM_RUNNING) {
		/* The guest must come back by its next virtual-timer event and,
		 * when it shares the CPU, by the end of its slice (interrupt
		 * delivery below may ask for sooner). */
		v->run_until = v->slice_end;
		vintr_before_entry(v);
		if (!vintr_runnable(v))
			return;
		uint64_t d = vintr_next_deadline(v);
		if (d < v->run_until)
			v->run_until = d;
		/* Always let the guest run a little: a timer whose period is
		 * shorter than L0's exit path must not keep it from ever
		 * reaching its EOI (a livelock seen on Bochs with a 1 ms timer). */
		uint64_t min_end = rdtsc() + MIN_RUN_US * tsc_khz() / 1000;
		if (v->run_until < min_end)
			v->run_until = min_end;
		if (exited)
			exit_cost_record(&v->costs, last_kind, rdtsc() - exited);
		vcpu_ops->vcpu_run(v, &exit);
		exited = rdtsc();
		last_kind = exit.kind;
		bool go_on = handle_exit(v, &exit);
		if (!go_on || exit.kind == EXIT_INTR || (exit.kind == EXIT_TIMER && rdtsc() >= v->slice_end))
			return;
	}
}

/* Run the vCPUs placed on this physical CPU until their VMs end. */
static void pcpu_run(void)
{
	unsigned me = this_cpu()->index;
	if (pcpu_nvcpus[me] == 0)
		return;
	if (vcpu_ops->hw_enable()) {
		for (unsigned i = 0; i < pcpu_nvcpus[me]; i++)
			vm_end(pcpu_vcpus[me][i]->vm, -1, "virtualization unavailable on this CPU");
		return;
	}
	for (;;) {
		bool live = false, ran = false;
		uint64_t deadline = UINT64_MAX;
		for (unsigned i = 0; i < pcpu_nvcpus[me]; i++) {
			struct vcpu *v = pcpu_vcpus[me][i];
			if (v->vm->state != VM_RUNNING)
				continue;
			live = true;
			vintr_before_entry(v);
			if (vintr_runnable(v)) {
				/* Sharing this CPU: a time slice, so a vCPU that never
				 * exits by itself cannot starve the others. */
				v->slice_end = pcpu_nvcpus[me] > 1 ? rdtsc() + SLICE_US * tsc_khz() / 1000 : UINT64_MAX;
				run_vcpu(v);
				ran = true;
			} else if (vm_stuck(v->vm)) {
				vm_end(v->vm, -1, "all vCPUs halted with interrupts disabled");
			} else {
				uint64_t d = vintr_next_deadline(v);
				if (d < deadline)
					deadline = d;
			}
		}
		if (!live)
			break;
		if (!ran)
			idle_until(deadline);
	}
}

int vms_run(const struct nestor_config *cfg, const struct boot_info *bi)
{
	if (cpu_caps.vendor == VENDOR_AMD && cpu_caps.has_svm)
		vcpu_ops = &svm_ops;
	else if (cpu_caps.has_vmx && (cpu_caps.vmx_proc2 >> 32 & 0xa2) == 0xa2)
		vcpu_ops = &vmx_ops; /* needs EPT, VPID, unrestricted guest (secondary bits 1, 5, 7) */
	else if (cpu_caps.has_svm)
		vcpu_ops = &svm_ops;
	if (!vcpu_ops) {
		log_err("vm: no supported virtualization on this CPU (SVM with NPT, or VMX with EPT, VPID and unrestricted guest)");
		return (int)cfg->vm_count;
	}
	int failed = 0;
	unsigned next_pcpu = 0;
	for (unsigned i = 0; i < cfg->vm_count; i++) {
		struct vm *vm = &vms[vm_count];
		if (vm_create(vm, &cfg->vms[i], vm_count, bi)) {
			failed++;
			continue;
		}
		vm_count++;
		__atomic_add_fetch(&vms_running, 1, __ATOMIC_ACQ_REL);
		for (unsigned k = 0; k < vm->nvcpus; k++) {
			unsigned p = next_pcpu++ % cpus_online;
			vm->vcpu[k].pcpu = p;
			pcpu_vcpus[p][pcpu_nvcpus[p]++] = &vm->vcpu[k];
		}
	}
	for (unsigned p = 1; p < cpus_online; p++)
		if (pcpu_nvcpus[p])
			smp_run_on(p, pcpu_run);
	pcpu_run();
	while (__atomic_load_n(&vms_running, __ATOMIC_ACQUIRE))
		cpu_relax();
	for (unsigned i = 0; i < vm_count; i++)
		print_exit_table(&vms[i]);
	return failed;
}
