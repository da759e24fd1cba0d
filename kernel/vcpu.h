/*
 * The arch-neutral VM and vCPU (DESIGN.md principle 2).  A backend (svm/ or
 * vmx/) turns each hardware exit into one struct vm_exit; kernel/exits.c
 * handles the common ones once for both vendors.
 */
#ifndef NESTOR_VCPU_H
#define NESTOR_VCPU_H
#include <stdint.h>
#include <stdbool.h>
#include "kernel/config.h"
#include "kernel/hypercall.h"
#include "kernel/exit_cost.h"
#include "kernel/exit_reasons.h"
#include "kernel/guest_insn.h"
#include "kernel/spinlock.h"
#include "mm/gmem.h"
#include "mm/s2pt.h"
#include "drivers/platform/fw_cfg.h"
#include "drivers/platform/vlapic.h"
#include "drivers/platform/vioapic.h"
#include "drivers/platform/vpic.h"
#include "drivers/platform/vpit.h"
#include "drivers/platform/vrtc.h"

struct virtio_l0;

#define VM_MAX_VCPUS 8
#define VREG_EFER 8
#define VREG_PAT 9

/* General-purpose registers in the x86 encoding order (RAX=0 ... R15=15). */
enum gpr { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct vm_exit {
	enum exit_kind kind;
	uint64_t reason;       /* the vendor's raw exit code, for statistics and dumps */
	uint8_t insn_len;      /* length of the exiting instruction, when known (0 = not) */
	uint8_t level;         /* the level that ran and exited (set by the run loop) */
	union {
		struct { uint16_t port; uint8_t size; bool in, string, rep; } io;
		struct { uint32_t msr; } msr;
		struct { uint64_t gpa; bool write, fetch, present; } npf;
		struct { uint8_t vector; bool has_error; uint32_t error; } exc;
		struct { uint64_t qual; } cr;  /* VMX control-register access: exit qualification */
	};
};

struct vcpu;
struct vm;

/* Where the guest's code is: what fetching the instruction at CS:RIP
 * needs (the paging registers, CS's base and size, CPL), read by the
 * backend in one call on the exit path (kernel/guest_insn.c). */
struct guest_code_regs {
	uint64_t cr0, cr3, cr4, efer;  /* as get_cr returns them */
	uint64_t cs_base;
	unsigned cs_bits;              /* 16, 32, 64: as guest_cs_size */
	int cpl;
};

/* What a backend provides (chosen at boot from CPUID). */
struct vcpu_ops {
	const char *name;
	int (*hw_enable)(void);                        /* per physical CPU */
	int (*vcpu_create)(struct vcpu *v);            /* VMCB/VMCS with the boot state */
	void (*vcpu_run)(struct vcpu *v, struct vm_exit *exit); /* enter, return decoded exit */
	/* Register state the exit handlers need, besides v->gpr / v->rip. */
	uint64_t (*get_cr)(struct vcpu *v, int cr);    /* 0, 2, 3, 4, VREG_EFER, VREG_PAT */
	void (*set_cr)(struct vcpu *v, int cr, uint64_t val); /* the guest's value, checked by the caller */
	int (*guest_cpl)(struct vcpu *v);
	bool (*guest_long_mode)(struct vcpu *v);       /* CS.L */
	unsigned (*guest_cs_size)(struct vcpu *v);     /* 16, 32, 64 */
	uint64_t (*seg_base)(struct vcpu *v, int seg); /* ES=0 CS SS DS FS GS */
	void (*code_regs)(struct vcpu *v, struct guest_code_regs *c); /* the above, for fetches */
	void (*inject_exception)(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error);
	void (*inject_irq)(struct vcpu *v, uint8_t vector); /* only when irq_window_open */
	bool (*irq_window_open)(struct vcpu *v);       /* RFLAGS.IF and no interrupt shadow */
	void (*request_irq_window)(struct vcpu *v, bool on);
	bool (*nmi_window_open)(struct vcpu *v);       /* no NMI blocking, no event pending */
	void (*inject_nmi)(struct vcpu *v);
	void (*request_nmi_window)(struct vcpu *v, bool on);
	void (*dump)(struct vcpu *v);                  /* state dump when a VM dies */
	/* INIT-SIPI: restart an AP in real mode at vector:0000 (SDM 8.4.4.1). */
	void (*reset_for_sipi)(struct vcpu *v, uint8_t vector);
	/* The ELF64 boot state: 64-bit mode, paging on with this CR3, flat segments. */
	void (*set_long_mode_boot)(struct vcpu *v, uint64_t cr3);
	/* Control-register accesses L0 intercepts (VMX: CR0/CR4 bits it owns). */
	bool (*emulate_cr)(struct vcpu *v, const struct vm_exit *exit);
	/* Optional: backend counters (nested) for the table printed at VM end. */
	void (*report)(struct vcpu *v);
	/* Optional: MSRs of the virtualization a nested guest is offered
	 * (VMX capability MSRs, IA32_FEATURE_CONTROL); 0, or -1 if not one. */
	int (*nested_msr_read)(struct vcpu *v, uint32_t msr, uint64_t *val);
};

extern const struct vcpu_ops *vcpu_ops;
extern const struct vcpu_ops svm_ops;
extern const struct vcpu_ops vmx_ops;

struct vcpu {
	struct vm *vm;
	unsigned index;
	unsigned pcpu;
	/* Guest-physical memory of the level running now: &vm->mem for L1,
	 * a translated view while a nested guest (L2) runs (svm/nested). */
	const struct gmem *mem;
	uint64_t gpr[16];       /* saved/restored around guest entry by the backend */
	uint64_t rip;           /* RIP of the exiting instruction; handlers advance it */
	uint64_t rflags;
	uint64_t exit_tsc;      /* TSC right after the hardware exit (the backend reads it) */
	uint64_t run_until;     /* TSC: the backend makes the guest exit by then (slice, virtual timer) */
	uint64_t slice_end;     /* TSC: end of its time slice on a shared CPU */
	bool halted;
	/* The level running on this vCPU: 1 for L1, 2 while L1's guest runs.
	 * The nested code sets it when it switches VMCBs or VMCSs
	 * (svm/nested/nsvm.c, vmx/nested/nvmx.c); the run loop counts, and
	 * the backend traces, exits by it. */
	uint8_t level;
	uint64_t mtrr_def_type;
	uint64_t vm_hsave_pa;    /* nested SVM: L1's VM_HSAVE_PA */
	uint64_t nested_deadline; /* nested VMX: L1's preemption timer while L2 runs (TSC), else UINT64_MAX */
	uint64_t debugctl;       /* DEBUGCTL as the guest wrote it (kernel/msr.c) */
	bool debugctl_warned;    /* its unemulated bits were logged once */
	uint64_t misc_enable;    /* IA32_MISC_ENABLE, Intel guests (kernel/msr_rules.h) */
	uint64_t long_mode_cr3;  /* ELF64 boot: applied by the backend before the first entry */
	struct vlapic lapic;    /* its virtual local APIC (kernel/vintr.c) */
	struct spinlock irq_lock; /* other vCPUs and devices deliver into lapic */
	bool pending_init;      /* INIT / SIPI sent by another vCPU, applied by the owner */
	bool pending_nmi;       /* an NMI IPI waiting for the NMI window */
	int pending_sipi;       /* vector, or -1 */
	uint32_t eoi_pending[8]; /* level EOIs seen under irq_lock, for the IOAPIC */
	struct {                 /* the IPI an ICR write asked for under irq_lock, */
		bool valid, logical, level, assert; /* sent once it is dropped (kernel/vintr.c) */
		uint8_t shorthand, mode, vector;
		uint32_t dest;
	} ipi_pending;
	void *arch;             /* backend state (struct svm_vcpu / struct vmx_vcpu) */
	uint8_t fpu[512] __attribute__((aligned(16)));  /* guest FXSAVE area */
	struct hc_exit_stats stats; /* exits by kind, all levels and per level */
	/* Exits by level and the vendor's raw exit code (SVM EXITCODE, VMX
	 * basic reason), each with its L0 cost histogram, and the split of
	 * reflected exits (kernel/exit_reasons.c); printed when the VM ends. */
	struct exit_reasons *reasons;
	unsigned teach_steps;   /* teaching trace: transitions told (kernel/teach.c) */
	unsigned teach_seen_count;
	uint64_t teach_seen[16]; /* exit codes L0 kept that were explained once */
	struct insn_fetch_cache fetch[2]; /* kernel/guest_insn.c: L1's, and L2's (through a view) */
};

enum vm_state { VM_RUNNING, VM_ENDED };

/* A guest console line being assembled for the L0 log; one per console
 * device, so that the UART's and virtio-console's output never mix. */
struct console_line {
	char buf[160];
	unsigned len;
};

struct vm {
	unsigned id;
	const struct vm_config *cfg;
	struct gmem mem;
	struct s2pt s2;          /* NPT01 / EPT01 */
	uint64_t ram_hpa, ram_size;
	unsigned nvcpus;
	struct vcpu vcpu[VM_MAX_VCPUS];
	uint32_t asid;
	volatile enum vm_state state;
	int exit_status;
	const char *end_reason;
	volatile bool trace;     /* its transitions go to the trace rings (kernel/trace_l0.c) */
	/* platform */
	uint32_t pci_addr;
	bool logged_hole_read, logged_hole_write;
	uint8_t uart_lcr, uart_ier, uart_scratch, uart_dll, uart_dlm, uart_mcr;
	struct fw_cfg fw_cfg;
	struct vioapic ioapic;   /* routes device lines (UART: pin 4) to the LAPICs */
	struct vpic pic;         /* the legacy 8259 pair, for guests that mask it */
	struct vpit pit;         /* the i8254, read back for calibration (no IRQ 0) */
	struct vrtc rtc;         /* the MC146818 RTC/CMOS */
	uint64_t created_tsc;    /* the platform clock's zero (PIT, RTC) */
	struct spinlock dev_lock; /* ioapic, pic, uart: touched from every vCPU */
	bool uart_thre_pending;  /* 16550 "transmitter empty" interrupt pending */
	uint64_t acpi_rsdp;      /* guest-physical address of its ACPI RSDP */
	struct virtio_l0 *virtio; /* its virtio devices (kernel/virtio_l0.c), or NULL */
	volatile uint32_t virtio_pending; /* devices with queued work left: poll them */
	struct console_line console; /* the UART's (and hypercall's) line being assembled */
	struct spinlock lock;
};

/* A level's index in the per-level arrays of struct hc_exit_stats (L1: 0;
 * anything deeper than the last row counts in the last row). */
static inline unsigned exit_level(unsigned level)
{
	if (level == 0)
		return 0;
	return level - 1 < HC_EXIT_LEVELS ? level - 1 : HC_EXIT_LEVELS - 1;
}

/* kernel/exits.c: the common exit handlers; returns false when the vCPU
 * must stop running (its VM ended). */
bool handle_exit(struct vcpu *v, struct vm_exit *exit);
void vm_end(struct vm *vm, int status, const char *why);
void vm_console_putc(struct vm *vm, char c);
/* The same into another console's line (virtio-console, kernel/virtio_l0.c). */
void vm_console_putc_line(struct vm *vm, struct console_line *l, char c);
void vm_set_irq(struct vm *vm, unsigned gsi, bool asserted); /* a device line */
int vm_ioapic_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val); /* -1: not it */
void vm_platform_init(struct vm *vm);
#endif
