/*
 * VMs and their vCPUs as objects: creation from the configuration (RAM,
 * memory map, NPT01/EPT01, platform, image), the guest console, and the
 * end of a VM with its exit table.  Running them is kernel/run_loop.c.
 */
#include <stdio.h>
#include <string.h>
#include "kernel/vm.h"
#include "kernel/exit_names.h"
#include "kernel/boot_modules.h"
#include "kernel/log.h"
#include "kernel/guest_load.h"
#include "kernel/vintr.h"
#include "kernel/trace_l0.h"
#include "kernel/platform.h"
#include "kernel/msr_rules.h"
#include "kernel/virtio_l0.h"
#include "drivers/platform/guest_acpi.h"
#include "arch/x86/cpu_caps.h"
#include "arch/x86/lapic.h"
#include "mm/frame.h"

#define MiB ((uint64_t)1 << 20)

extern const char builtin_demo_start[], builtin_demo_end[];

static volatile unsigned vms_running;

unsigned vms_alive(void)
{
	return __atomic_load_n(&vms_running, __ATOMIC_ACQUIRE);
}

static const char *const exit_kind_names[] = {
#define X(name) #name,
	EXIT_KIND_LIST(X)
#undef X
};

void vm_console_putc_line(struct vm *vm, struct console_line *l, char c)
{
	spin_lock(&vm->lock);
	if (c == '\n' || l->len == sizeof(l->buf) - 1) {
		l->buf[l->len] = 0;
		kprint("[%s] %s\n", vm->cfg->name, l->buf);
		l->len = 0;
	}
	if (c != '\n' && c != '\r')
		l->buf[l->len++] = c;
	spin_unlock(&vm->lock);
}

void vm_console_putc(struct vm *vm, char c)
{
	vm_console_putc_line(vm, &vm->console, c);
}

/* " CPUID=12 HLT=3 ...": the kinds with exits, appended at line[n]. */
static void format_kinds(char *line, size_t size, int n, const unsigned long long *by_kind)
{
	for (unsigned k = 0; k < EXIT_KIND_COUNT && n < (int)size - 24; k++)
		if (by_kind[k])
			n += snprintf(line + n, size - (size_t)n, " %s=%llu", exit_kind_names[k], by_kind[k]);
}

static const char *name_exit_code(uint32_t code, char *buf, size_t len)
{
	return vcpu_ops == &svm_ops ? svm_exit_name(code, buf, len) : vmx_exit_reason_name(code & 0xffff);
}

/* Prints a multi-line text a line at a time (kprint takes up to 511 bytes). */
static void print_lines(char *text, const char *prefix)
{
	for (char *p = text, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		kprint("%s%s\n", prefix, p);
		if (!nl)
			break;
	}
}

/* Exits by level and raw code, named by the vendor's manual (the same
 * names as tools/nestor-trace), with L0's cost of each and, for exits
 * reflected to L1, their split (kernel/exit_reasons.h). */
static void print_reasons(struct vm *vm, unsigned i)
{
	const struct vcpu *v = &vm->vcpu[i];
	static char text[16384];   /* vm_print_exit_table runs on one CPU at the end */
	char prefix[64];
	if (!v->reasons)
		return;
	for (unsigned l = 0; l < HC_EXIT_LEVELS; l++) {
		if (!exit_reasons_format(v->reasons, l + 1, name_exit_code, text, sizeof(text)))
			continue;
		kprint("vm %s: vCPU %u: L%u by exit reason (L0 cost in TSC ticks, exit to re-entry):\n",
		       vm->cfg->name, i, l + 1);
		snprintf(prefix, sizeof(prefix), "vm %s: vCPU %u: L%u: ", vm->cfg->name, i, l + 1);
		print_lines(text, prefix);
	}
}

void vm_print_exit_table(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		const struct hc_exit_stats *s = &vm->vcpu[i].stats;
		char line[400];
		int n = snprintf(line, sizeof(line), "vm %s: vCPU %u: %llu exits:", vm->cfg->name, i, s->total);
		format_kinds(line, sizeof(line), n, s->by_kind);
		kprint("%s\n", line);
		/* By level, once a nested guest has exited: which level made L0 work. */
		if (s->level_total[0] != s->total) {
			for (unsigned l = 0; l < HC_EXIT_LEVELS; l++) {
				if (!s->level_total[l])
					continue;
				n = snprintf(line, sizeof(line), "vm %s: vCPU %u: L%u: %llu exits:", vm->cfg->name, i, l + 1,
					     s->level_total[l]);
				format_kinds(line, sizeof(line), n, s->by_level[l]);
				kprint("%s\n", line);
			}
		}
		print_reasons(vm, i);
		if (vcpu_ops->report)
			vcpu_ops->report(&vm->vcpu[i]);
	}
	pio_report_unassigned(vm);
	virtio_l0_report(vm);
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
	if (vm->console.len) { /* flush a partial console line */
		vm->console.buf[vm->console.len] = 0;
		kprint("[%s] %s\n", vm->cfg->name, vm->console.buf);
		vm->console.len = 0;
	}
	spin_unlock(&vm->lock);
	kprint("NESTOR: vm %s ended: status %d (%s)\n", vm->cfg->name, status, why);
	virtio_l0_vm_ended(vm);
	if (vm->trace)
		trace_l0_dump_all();
	__atomic_sub_fetch(&vms_running, 1, __ATOMIC_ACQ_REL);
	/* Its vCPUs' CPUs may be idle waiting for them: let them look. */
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vintr_kick(&vm->vcpu[i]);
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
	virtio_l0_acpi(vm->cfg, &acfg);   /* its virtio-mmio devices in the DSDT */
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

int vm_create(struct vm *vm, const struct vm_config *cfg, unsigned id, const struct boot_info *bi)
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
	    s2pt_init(&vm->s2, vcpu_ops == &vmx_ops ? S2_EPT : S2_NPT, frame_table_alloc, NULL,
		      vcpu_ops == &vmx_ops ? (bool)((cpu_caps.vmx_ept_vpid >> 17) & 1) : (bool)cpu_caps.has_1g_pages) ||
	    s2pt_build_from_gmem(&vm->s2, &vm->mem)) {
		log_err("vm %s: cannot build its memory map / nested page tables", cfg->name);
		return -1;
	}

	vm->nvcpus = cfg->vcpus < VM_MAX_VCPUS ? cfg->vcpus : VM_MAX_VCPUS;
	if (build_platform(vm))
		return -1;
	/* virtio devices: MMIO pages, disks; their place on the command line */
	if (virtio_l0_create(vm, bi))
		return -1;
	const char *boot_cmdline = virtio_l0_cmdline(vm);

	const uint8_t *img;
	size_t img_size;
	if (!strcmp(cfg->image, "builtin:demo")) {
		img = (const uint8_t *)builtin_demo_start;
		img_size = (size_t)(builtin_demo_end - builtin_demo_start);
	} else {
		const struct boot_module *m = boot_module_find(bi, cfg->image);
		if (!m) {
			log_err("vm %s: image %s not loaded", cfg->name, cfg->image);
			return -1;
		}
		img = (const uint8_t *)m->addr;
		img_size = m->size;
	}
	struct guest_module mods[GUEST_MAX_MODULES];
	for (unsigned i = 0; i < cfg->module_count && i < GUEST_MAX_MODULES; i++) {
		const struct boot_module *m = boot_module_find(bi, cfg->modules[i]);
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
		r = guest_load_multiboot2(&vm->mem, img, img_size, boot_cmdline, mods, cfg->module_count,
					  vm->acpi_rsdp, &boot, err, sizeof(err));
		break;
	case CFG_FMT_ELF64:
		r = guest_load_elf64(&vm->mem, img, img_size, boot_cmdline, mods, cfg->module_count,
				     vm->acpi_rsdp, &boot, err, sizeof(err));
		break;
	case CFG_FMT_LINUX: {
		/* Linux has no PIT, HPET or PM timer here to calibrate its TSC
		 * against: its command line says the frequency (docs/linux-guests.md). */
		char cmdline[CFG_CMDLINE_MAX + 64];        /* room for the two parameters */
		if (guest_linux_cmdline(cmdline, sizeof(cmdline), boot_cmdline, (uint32_t)tsc_khz())) {
			snprintf(err, sizeof(err), "command line too long with the TSC parameters");
			r = -1;
			break;
		}
		log_info("vm %s: Linux command line: %s", cfg->name, cmdline);
		r = guest_load_linux(&vm->mem, img, img_size, cmdline, cfg->initrd ? &mods[0] : NULL,
				     vm->acpi_rsdp, &boot, err, sizeof(err));
		break;
	}
	case CFG_FMT_AUTO:
	case CFG_FMT_MULTIBOOT1:
		r = guest_load_multiboot1(&vm->mem, img, img_size, boot_cmdline, mods, cfg->module_count,
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
		v->mem = &vm->mem;
		v->index = i;
		v->level = 1;
		v->nested_deadline = UINT64_MAX;
		v->misc_enable = MISC_ENABLE_RESET;
		/* exits by raw reason: some 64 KiB a vCPU, so not in struct vcpu */
		v->reasons = frame_alloc_bytes(sizeof(*v->reasons));
		if (v->reasons)
			memset(v->reasons, 0, sizeof(*v->reasons));
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
		vm->vcpu[0].gpr[RSI] = boot.rsi;   /* Linux: boot_params */
		vm->vcpu[0].long_mode_cr3 = boot.cr3;
	}
	if (boot.rsp)
		vm->vcpu[0].gpr[RSP] = boot.rsp;
	log_info("vm %s: %lu MiB at host %#lx, %u vCPU(s), %s loaded at %#lx-%#lx, entry %#lx",
		 cfg->name, vm->ram_size / MiB, vm->ram_hpa, vm->nvcpus, cfg->image,
		 boot.image_start, boot.image_end, boot.entry);
	vm->state = VM_RUNNING;
	__atomic_add_fetch(&vms_running, 1, __ATOMIC_ACQ_REL);
	return 0;
}

