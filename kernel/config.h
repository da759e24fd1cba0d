/*
 * config: the parser for nestor.cfg (format: docs/config.md).
 *
 * Pure code over plain data (DESIGN.md principle 1): no allocation, no
 * output, no mutable globals.  The same file is compiled into the kernel,
 * into the gnu-efi loader, into cmocka tests and into a libFuzzer target,
 * so it only needs memcpy/memset/memcmp from the C library.
 *
 * The text may come from anywhere (an ESP file, a Multiboot module, the
 * embedded default), so every byte is treated as hostile: a bad file gives
 * a line-numbered error, never a crash or a half-understood VM.
 */
#ifndef NESTOR_CONFIG_H
#define NESTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_VMS 8
#define CFG_NAME_MAX 32     /* VM name incl. NUL: 1..31 characters */
#define CFG_PATH_MAX 64     /* file name incl. NUL */
#define CFG_CMDLINE_MAX 256 /* guest command line incl. NUL */
#define CFG_MAX_MODULES 4
#define CFG_MAX_DEVICES 8

#define CFG_DEFAULT_MEMORY (64ull << 20) /* a [vm] without "memory =" */
#define CFG_MIN_MEMORY (1ull << 20)
#define CFG_MAX_MEMORY (64ull << 30)
#define CFG_MAX_VCPUS 64
#define CFG_DEFAULT_LOG_LEVEL 2

/* An image (or module, or disk) named "builtin:NAME" is linked into Nestor
 * itself, so there is no file to look for. */
#define CFG_BUILTIN_PREFIX "builtin:"

/* How L0 ends a run: halt (hardware), QEMU isa-debug-exit, Bochs 0x8900. */
enum cfg_exit_mode { CFG_EXIT_HALT = 0, CFG_EXIT_QEMU, CFG_EXIT_BOCHS };

enum cfg_image_format {
	CFG_FMT_AUTO = 0,
	CFG_FMT_MULTIBOOT1,
	CFG_FMT_MULTIBOOT2,
	CFG_FMT_ELF64,
	CFG_FMT_FLAT,
	CFG_FMT_LINUX,
};

enum cfg_device_kind {
	CFG_DEV_UART = 1,
	CFG_DEV_VIRTIO_CONSOLE,
	CFG_DEV_VIRTIO_BLK,
	CFG_DEV_VIRTIO_NET,
};

struct cfg_device {
	enum cfg_device_kind kind;
	char arg[CFG_PATH_MAX]; /* blk: image file; net: MAC "52:54:00:..." or "" */
	bool read_only;         /* blk: "virtio-blk:FILE ro" */
	unsigned line;          /* line that declared it (for file errors) */
};

struct vm_config {
	char name[CFG_NAME_MAX];
	uint64_t memory_bytes;
	uint32_t vcpus;
	char image[CFG_PATH_MAX];
	unsigned image_line;
	enum cfg_image_format format;
	uint64_t load_addr; /* flat binaries only (format = flat requires it) */
	char cmdline[CFG_CMDLINE_MAX];
	uint32_t module_count;
	char modules[CFG_MAX_MODULES][CFG_PATH_MAX];
	unsigned module_lines[CFG_MAX_MODULES];
	/* format = linux: `initrd = FILE` makes modules[0] the initrd (its
	 * only module), so every loader that fetches modules fetches it. */
	bool initrd;
	uint32_t device_count;
	struct cfg_device devices[CFG_MAX_DEVICES];
	bool nested; /* expose VMX/SVM to this VM */
	bool trace;
	bool teach;
	unsigned line; /* line of its [vm] header */
};

/* Deliberate L0 faults, so tests can prove the exception path, W^X and the
 * stack guard pages (kernel/selftest.c).  Never set in a real config. */
enum cfg_selftest {
	CFG_SELFTEST_NONE = 0,
	CFG_SELFTEST_NULL,        /* read through a null pointer: #PF, page 0 unmapped */
	CFG_SELFTEST_WRITE_TEXT,  /* write into kernel text: #PF, text is read-only */
	CFG_SELFTEST_EXEC_DATA,   /* jump into kernel data: #PF, data is no-execute */
	CFG_SELFTEST_STACK,       /* overflow the boot stack: guard page, #DF on its IST stack */
};

struct nestor_config {
	enum cfg_exit_mode exit_mode;
	enum cfg_selftest selftest;
	unsigned log_level; /* 0 error .. 3 debug, default 2 */
	bool trace;
	bool vmcs_shadow;   /* nested VMX: the CPU's VMCS shadowing for L1 (default on) */
	uint32_t vm_count;
	struct vm_config vms[CFG_MAX_VMS];
};

/* line 0 means "not from the file": the L0 command line, or no line. */
struct cfg_error {
	unsigned line;
	char msg[128];
};

/* Defaults: exit = halt, log = 2, trace = off, no VMs. */
void config_init(struct nestor_config *cfg);

/* Parse len bytes of text (need not be NUL-terminated).  Starts from
 * config_init.  Returns 0, or -1 with err (if not NULL) filled.  After an
 * error cfg holds what came before the bad line: the globals are valid
 * (defaults or checked values, so the run can still end as asked), but the
 * VMs may be incomplete and must not be started. */
int config_parse(const char *text, size_t len, struct nestor_config *cfg,
		 struct cfg_error *err);

/* Override globals from the L0 command line: space-separated key=value
 * words using the global keys (exit, log, trace).  A first word without
 * '=' is skipped, because loaders such as QEMU's Multiboot put the kernel's
 * file name there.  Returns 0, or -1 with err->line = 0. */
int config_apply_cmdline(struct nestor_config *cfg, const char *cmdline,
			 struct cfg_error *err);

/* Every image, module and virtio-blk file named must exist (builtin: names
 * excepted).  Returns 0, or -1 with err at the line that named the file. */
int config_check_files(const struct nestor_config *cfg,
		       bool (*exists)(const char *name, void *ctx), void *ctx,
		       struct cfg_error *err);

/* True for "builtin:NAME". */
bool config_is_builtin(const char *path);

const char *cfg_exit_mode_name(enum cfg_exit_mode mode);
const char *cfg_format_name(enum cfg_image_format format);
const char *cfg_device_name(enum cfg_device_kind kind);

#endif /* NESTOR_CONFIG_H */
