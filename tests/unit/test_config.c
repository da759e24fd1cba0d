/*
 * Host unit tests for kernel/config.c (the nestor.cfg parser).
 *
 * Build and run from the repository root:
 *   gcc -std=c11 -Wall -Wextra -Werror -I. tests/unit/test_config.c \
 *       kernel/config.c -lcmocka -o build/unit/test_config
 *   ./build/unit/test_config
 * (test_default_cfg reads kernel/default.cfg relative to the current
 * directory, so run it from the root.)
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/config.h"

/* Parse a NUL-terminated text; the parser itself only looks at len. */
static int parse(const char *text, struct nestor_config *cfg,
		 struct cfg_error *err)
{
	return config_parse(text, strlen(text), cfg, err);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", haystack,
			 needle);
}

/* ---- valid input ------------------------------------------------------- */

static void test_init_defaults(void **state)
{
	struct nestor_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	config_init(&cfg);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_HALT);
	assert_int_equal(cfg.log_level, 2);
	assert_false(cfg.trace);
	assert_true(cfg.vmcs_shadow);
	assert_int_equal(cfg.vm_count, 0);
}

static void test_empty_and_comments_only(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(config_parse("", 0, &cfg, &err), 0);
	assert_int_equal(cfg.vm_count, 0);
	assert_int_equal(config_parse(NULL, 0, &cfg, &err), 0);
	assert_int_equal(parse("# nothing\n\n   \t\n# at all", &cfg, &err), 0);
	assert_int_equal(cfg.vm_count, 0);
	assert_int_equal(cfg.log_level, 2);
}

static const char full_text[] =
	"# a complete configuration\n"                           /* 1 */
	"exit = bochs\n"                                         /* 2 */
	"log = debug   # trailing comment\n"                     /* 3 */
	"trace = on\n"                                           /* 4 */
	"\n"                                                     /* 5 */
	"[vm linux-1]\n"                                         /* 6 */
	"memory = 2G\n"                                          /* 7 */
	"vcpus = 4\n"                                            /* 8 */
	"image = bzImage\n"                                      /* 9 */
	"format = linux\n"                                       /* 10 */
	"cmdline = \"console=ttyS0 root=/dev/vda # not a comment\"  # one\n" /* 11 */
	"initrd = initrd.img\n"                                  /* 12 */
	"# Linux gets one initrd and no modules\n"               /* 13 */
	"device = uart\n"                                        /* 14 */
	"device = virtio-console\n"                              /* 15 */
	"device = virtio-blk:disk.img\n"                         /* 16 */
	"device = virtio-net:52:54:00:12:34:56\n"                /* 17 */
	"device = virtio-net\n"                                  /* 18 */
	"nested = on\n"                                          /* 19 */
	"trace = on\n"                                           /* 20 */
	"teach = on\n"                                           /* 21 */
	"  [ vm  flat_2 ]   # spaces are fine\n"                 /* 22 */
	"\tmemory=4096k\n"                                       /* 23 */
	"image = builtin:hello\n"                                /* 24 */
	"format = flat\n"                                        /* 25 */
	"load_addr = 0x00000000000000007C00\n"                   /* 26 */
	"nested = off\n";                                        /* 27 */

static void check_full(const struct nestor_config *cfg)
{
	const struct vm_config *a = &cfg->vms[0], *b = &cfg->vms[1];

	assert_int_equal(cfg->exit_mode, CFG_EXIT_BOCHS);
	assert_int_equal(cfg->log_level, 3);
	assert_true(cfg->trace);
	assert_int_equal(cfg->vm_count, 2);

	assert_string_equal(a->name, "linux-1");
	assert_int_equal(a->line, 6);
	assert_true(a->memory_bytes == 2ull << 30);
	assert_int_equal(a->vcpus, 4);
	assert_string_equal(a->image, "bzImage");
	assert_int_equal(a->image_line, 9);
	assert_int_equal(a->format, CFG_FMT_LINUX);
	assert_true(a->load_addr == 0);
	assert_string_equal(a->cmdline,
			    "console=ttyS0 root=/dev/vda # not a comment");
	assert_int_equal(a->module_count, 1);     /* the initrd is its module */
	assert_true(a->initrd);
	assert_string_equal(a->modules[0], "initrd.img");
	assert_int_equal(a->module_lines[0], 12);
	assert_int_equal(a->device_count, 5);
	assert_int_equal(a->devices[0].kind, CFG_DEV_UART);
	assert_string_equal(a->devices[0].arg, "");
	assert_int_equal(a->devices[1].kind, CFG_DEV_VIRTIO_CONSOLE);
	assert_int_equal(a->devices[2].kind, CFG_DEV_VIRTIO_BLK);
	assert_string_equal(a->devices[2].arg, "disk.img");
	assert_int_equal(a->devices[2].line, 16);
	assert_int_equal(a->devices[3].kind, CFG_DEV_VIRTIO_NET);
	assert_string_equal(a->devices[3].arg, "52:54:00:12:34:56");
	assert_int_equal(a->devices[4].kind, CFG_DEV_VIRTIO_NET);
	assert_string_equal(a->devices[4].arg, "");
	assert_true(a->nested);
	assert_true(a->trace);
	assert_true(a->teach);

	assert_string_equal(b->name, "flat_2");
	assert_int_equal(b->line, 22);
	assert_true(b->memory_bytes == 4ull << 20);
	assert_int_equal(b->vcpus, 1);             /* default */
	assert_string_equal(b->image, "builtin:hello");
	assert_int_equal(b->format, CFG_FMT_FLAT);
	assert_true(b->load_addr == 0x7c00);
	assert_string_equal(b->cmdline, "");
	assert_int_equal(b->module_count, 0);
	assert_false(b->initrd);
	assert_int_equal(b->device_count, 0);
	assert_false(b->nested);
	assert_false(b->trace);
	assert_false(b->teach);
}

static void test_full_config(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	if (parse(full_text, &cfg, &err))
		fail_msg("line %u: %s", err.line, err.msg);
	check_full(&cfg);
}

/* The same file with CRLF line ends, a UTF-8 BOM and no final newline. */
static void test_crlf_bom(void **state)
{
	static char text[sizeof(full_text) * 2 + 3];
	struct nestor_config cfg;
	struct cfg_error err;
	size_t n = 0;

	(void)state;
	memcpy(text, "\xef\xbb\xbf", 3);
	n = 3;
	for (const char *s = full_text; *s; s++) {
		if (*s == '\n')
			text[n++] = '\r';
		text[n++] = *s;
	}
	n -= 2; /* drop the final CRLF */
	if (config_parse(text, n, &cfg, &err))
		fail_msg("line %u: %s", err.line, err.msg);
	check_full(&cfg);
}

static void test_default_vm_values(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("[vm a]\nimage = a.elf\n", &cfg, &err), 0);
	assert_true(cfg.vms[0].memory_bytes == CFG_DEFAULT_MEMORY);
	assert_int_equal(cfg.vms[0].vcpus, 1);
	assert_int_equal(cfg.vms[0].format, CFG_FMT_AUTO);
}

static void test_sizes_accepted(void **state)
{
	static const struct {
		const char *value;
		uint64_t bytes;
	} cases[] = {
		{ "1M", 1ull << 20 },      { "1m", 1ull << 20 },
		{ "1048576", 1ull << 20 }, { "1024K", 1ull << 20 },
		{ "64G", 64ull << 30 },    { "1g", 1ull << 30 },
		{ "1052672", (1ull << 20) + 4096 },
	};
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nestor_config cfg;
		struct cfg_error err;

		snprintf(text, sizeof(text), "[vm a]\nimage=x\nmemory = %s\n",
			 cases[i].value);
		if (parse(text, &cfg, &err))
			fail_msg("%s: %s", cases[i].value, err.msg);
		assert_true(cfg.vms[0].memory_bytes == cases[i].bytes);
	}
}

static void test_quoting(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	/* An explicit "" is an empty command line... */
	assert_int_equal(parse("[vm a]\nimage=x\ncmdline = \"\"\n", &cfg, &err), 0);
	assert_string_equal(cfg.vms[0].cmdline, "");
	/* ...an unquoted value keeps inner quotes, and '#' inside them. */
	assert_int_equal(parse("[vm a]\nimage=x\n"
			       "cmdline = a=\"b # c\" d  # gone\n", &cfg, &err), 0);
	assert_string_equal(cfg.vms[0].cmdline, "a=\"b # c\" d");
	/* Any value may be quoted. */
	assert_int_equal(parse("exit = \"qemu\"\n", &cfg, &err), 0);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_QEMU);
}

/* The largest accepted values of every limit. */
static void test_limits_accepted(void **state)
{
	static char text[8192];
	struct nestor_config cfg;
	struct cfg_error err;
	char name[CFG_NAME_MAX], path[CFG_PATH_MAX], cmd[CFG_CMDLINE_MAX];
	size_t n = 0;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	memset(cmd, 'c', sizeof(cmd) - 1);
	cmd[sizeof(cmd) - 1] = '\0';
	for (int v = 0; v < CFG_MAX_VMS; v++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "[vm %.*s%d]\nimage = %s\nvcpus = 64\n",
				      CFG_NAME_MAX - 2, name, v, path);
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "cmdline = %s\n", cmd);
	for (int i = 0; i < CFG_MAX_MODULES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "module = m%d\n", i);
	for (int i = 0; i < CFG_MAX_DEVICES; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "device = uart\n");
	assert_true(n < sizeof(text) - 1);
	if (parse(text, &cfg, &err))
		fail_msg("line %u: %s", err.line, err.msg);
	assert_int_equal(cfg.vm_count, CFG_MAX_VMS);
	assert_int_equal(strlen(cfg.vms[7].name), CFG_NAME_MAX - 1);
	assert_string_equal(cfg.vms[7].image, path);
	assert_string_equal(cfg.vms[7].cmdline, cmd);
	assert_int_equal(cfg.vms[7].vcpus, 64);
	assert_int_equal(cfg.vms[7].module_count, CFG_MAX_MODULES);
	assert_int_equal(cfg.vms[7].device_count, CFG_MAX_DEVICES);
}

static void test_log_levels(void **state)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char text[32];

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		struct nestor_config cfg;
		struct cfg_error err;

		snprintf(text, sizeof(text), "log = %s\n", names[i]);
		assert_int_equal(parse(text, &cfg, &err), 0);
		assert_int_equal(cfg.log_level, i);
		snprintf(text, sizeof(text), "log = %u\n", i);
		assert_int_equal(parse(text, &cfg, &err), 0);
		assert_int_equal(cfg.log_level, i);
	}
}

/* ---- errors: each class, its line and a message naming the culprit ---- */

struct error_case {
	const char *text;
	unsigned line;
	const char *needle; /* must appear in the message */
};

static const struct error_case error_cases[] = {
	/* structure */
	{ "exit = qemu\nbogus = 1\n", 2, "unknown key 'bogus'" },
	{ "[vm a]\nimage=x\ncolour = red\n", 3, "unknown key 'colour' in [vm a]" },
	{ "[vm a]\nimage=x\nexit = qemu\n", 3, "global keys go before" },
	{ "memory = 1G\n", 1, "VM keys go after" },
	{ "[net a]\n", 1, "unknown section type 'net'" },
	{ "[]\n", 1, "empty section header" },
	{ "[vm a\n", 1, "without ']'" },
	{ "[vm]\n", 1, "bad VM name ''" },
	{ "[vm a b]\n", 1, "bad VM name 'a b'" },
	{ "[vm a.b]\n", 1, "bad VM name 'a.b'" },
	{ "[vm abcdefghijabcdefghijabcdefghijkl]\n", 1, "bad VM name" },
	{ "\n\njust words\n", 3, "expected 'key = value'" },
	{ "= 3\n", 1, "bad key ''" },
	{ "Exit = qemu\n", 1, "bad key 'Exit'" },
	{ "exit =\n", 1, "missing value for 'exit'" },
	{ "exit = \"qemu\" x\n", 1, "closing quote of 'exit'" },
	{ "[vm a]\ncmdline = \"abc\n", 2, "unterminated quote" },
	{ "exit = qemu\x01\n", 1, "control character 0x01" },
	{ "exit = qemu\rx\n", 1, "control character 0x0d" },
	{ "exit = qemu\nexit = bochs\n", 2, "'exit' repeated (first set on line 1)" },
	{ "[vm a]\nimage=x\nmemory=2M\nmemory=2M\n", 4, "'memory' repeated" },
	{ "[vm a]\nimage=x\n[vm a]\nimage=y\n", 3, "duplicate VM name 'a' (first on line 1)" },
	{ "[vm a]\nmemory=2M\n[vm b]\nimage=y\n", 1, "[vm a] has no image" },
	{ "[vm a]\nimage=x\n\n[vm b]\nmemory=2M\n", 4, "[vm b] has no image" },
	{ "[vm a]\nimage=x\n[vm b]\nimage=x\n[vm c]\nimage=x\n[vm d]\nimage=x\n"
	  "[vm e]\nimage=x\n[vm f]\nimage=x\n[vm g]\nimage=x\n[vm h]\nimage=x\n"
	  "[vm i]\nimage=x\n", 17, "too many VMs" },
	/* globals */
	{ "exit = reboot\n", 1, "bad value 'reboot' for 'exit'" },
	{ "log = 4\n", 1, "bad value '4' for 'log'" },
	{ "trace = yes\n", 1, "bad value 'yes' for 'trace'" },
	{ "vmcs_shadow = maybe\n", 1, "bad value 'maybe' for 'vmcs_shadow'" },
	/* sizes and numbers */
	{ "[vm a]\nimage=x\nmemory = 12X\n", 3, "bad value '12X' for 'memory'" },
	{ "[vm a]\nimage=x\nmemory = M\n", 3, "bad value 'M' for 'memory'" },
	{ "[vm a]\nimage=x\nmemory = -1M\n", 3, "for 'memory'" },
	{ "[vm a]\nimage=x\nmemory = 99999999999999999999\n", 3, "does not fit in 64 bits" },
	{ "[vm a]\nimage=x\nmemory = 17179869184G\n", 3, "does not fit in 64 bits" },
	{ "[vm a]\nimage=x\nmemory = 18446744073709551615\n", 3, "more than 64G" },
	{ "[vm a]\nimage=x\nmemory = 65G\n", 3, "more than 64G" },
	{ "[vm a]\nimage=x\nmemory = 512K\n", 3, "less than 1M" },
	{ "[vm a]\nimage=x\nmemory = 1048577\n", 3, "not a multiple of 4K" },
	{ "[vm a]\nimage=x\nvcpus = 0\n", 3, "bad value '0' for 'vcpus'" },
	{ "[vm a]\nimage=x\nvcpus = 65\n", 3, "bad value '65' for 'vcpus'" },
	{ "[vm a]\nimage=x\nvcpus = 99999999999999999999999\n", 3, "for 'vcpus'" },
	{ "[vm a]\nimage=x\nformat = pe\n", 3, "bad value 'pe' for 'format'" },
	{ "[vm a]\nimage=x\nformat=flat\nload_addr = 1000\n", 4, "bad value '1000' for 'load_addr'" },
	{ "[vm a]\nimage=x\nformat=flat\nload_addr = 0x\n", 4, "for 'load_addr'" },
	{ "[vm a]\nimage=x\nformat=flat\nload_addr = 0x12g0\n", 4, "bad value '0x12g0' for 'load_addr'" },
	{ "[vm a]\nimage=x\nformat=flat\nload_addr = 0x10000000000000000\n", 4, "does not fit in 64 bits" },
	{ "[vm a]\nimage=x\nformat=flat\nload_addr = 0x4000000\n", 4, "'load_addr' is beyond the memory" },
	{ "[vm a]\nimage=x\nload_addr = 0x1000\n", 3, "'load_addr' is only for format = flat" },
	{ "[vm a]\nimage=x\n\nformat = flat\n", 4, "'format' flat needs a 'load_addr'" },
	{ "[vm a]\nimage=x\nnested = yes\n", 3, "bad value 'yes' for 'nested'" },
	{ "[vm a]\nimage=x\nteach = 1\n", 3, "for 'teach'" },
	{ "[vm a]\nimage=x\ntrace = yes\n", 3, "bad value 'yes' for 'trace'" },
	{ "[vm a]\ntrace = on\nimage=x\ntrace = off\n", 4, "'trace' repeated (first set on line 2)" },
	/* strings */
	{ "[vm a]\nimage = "
	  "0123456789012345678901234567890123456789012345678901234567890123\n",
	  2, "value for 'image' too long (max 63" },
	{ "[vm a]\nimage=x\ncmdline = \""
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "\"\n", 3, "value for 'cmdline' too long (max 255" },
	{ "[vm a]\nimage = a b\n", 2, "bad value 'a b' for 'image'" },
	{ "[vm a]\nimage = \"\"\n", 2, "for 'image' (empty" },
	{ "[vm a]\nimage = builtin:\n", 2, "bad value 'builtin:' for 'image'" },
	{ "[vm a]\nimage = builtin:a/b\n", 2, "for 'image'" },
	{ "[vm a]\nimage=x\nmodule = a b\n", 3, "for 'module'" },
	{ "[vm a]\nimage=x\nmodule=1\nmodule=2\nmodule=3\nmodule=4\nmodule=5\n",
	  7, "too many modules in [vm a]" },
	/* Linux: one initrd, no modules; initrd only for Linux */
	{ "[vm a]\nimage=x\ninitrd = rd.cpio\n", 3, "'initrd' is only for format = linux" },
	{ "[vm a]\nimage=x\nformat = multiboot2\ninitrd = rd.cpio\n", 4, "'initrd' is only for format = linux" },
	{ "[vm a]\nimage=x\nformat = linux\nmodule = m\n", 4, "format = linux takes no 'module'" },
	{ "[vm a]\nimage=x\nmodule = m\ninitrd = rd\nformat = linux\n", 3, "format = linux takes no 'module'" },
	{ "[vm a]\nimage=x\nformat = linux\ninitrd = a\ninitrd = b\n", 5, "'initrd' repeated (first set on line 4)" },
	{ "[vm a]\nimage=x\nformat = linux\ninitrd = a b\n", 4, "bad value 'a b' for 'initrd'" },
	/* devices */
	{ "[vm a]\nimage=x\ndevice = floppy\n", 3, "bad value 'floppy' for 'device'" },
	{ "[vm a]\nimage=x\ndevice = uart:1\n", 3, "bad value 'uart:1' for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-blk\n", 3, "virtio-blk:FILE" },
	{ "[vm a]\nimage=x\ndevice = virtio-blk:\n", 3, "for 'device' (empty" },
	{ "[vm a]\nimage=x\ndevice = virtio-blk:d.img rw\n", 3, "bad value 'rw' for 'device' (after the file only 'ro'" },
	{ "[vm a]\nimage=x\ndevice = virtio-blk:d.img ro ro\n", 3, "bad value 'ro ro' for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-blk: ro\n", 3, "for 'device' (empty" },
	{ "[vm a]\nimage=x\ndevice = uart ro\n", 3, "bad value 'uart ro' for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-net:52:54:00:12:34\n", 3, "bad value '52:54:00:12:34' for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-net:52:54:00:12:34:5g\n", 3, "for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-net:\n", 3, "for 'device'" },
	{ "[vm a]\nimage=x\ndevice = virtio-net:01:00:5e:00:00:01\n", 3, "unicast" },
	{ "[vm a]\nimage=x\ndevice=uart\ndevice=uart\ndevice=uart\ndevice=uart\n"
	  "device=uart\ndevice=uart\ndevice=uart\ndevice=uart\ndevice=uart\n",
	  11, "too many devices in [vm a]" },
	/* line counting survives CRLF */
	{ "exit = qemu\r\n\r\n[vm a]\r\nimage=x\r\nvcpus = many\r\n", 5, "'vcpus'" },
};

/* The exit trace (docs/trace-format.md): `trace` before the first [vm]
 * traces every VM, in a [vm] section only that one; both default to off
 * and are independent of each other. */
static void test_trace_keys(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("[vm a]\nimage=x\ntrace = on\n"
			       "[vm b]\nimage=y\n"
			       "[vm c]\nimage=z\ntrace=off\n", &cfg, &err), 0);
	assert_false(cfg.trace);
	assert_int_equal(cfg.vm_count, 3);
	assert_true(cfg.vms[0].trace);
	assert_false(cfg.vms[1].trace);
	assert_false(cfg.vms[2].trace);

	assert_int_equal(parse("trace = on\n[vm a]\nimage=x\n", &cfg, &err), 0);
	assert_true(cfg.trace);
	assert_false(cfg.vms[0].trace);

	/* The global one also from L0's command line; a VM's stays as set. */
	assert_int_equal(parse("[vm a]\nimage=x\ntrace = on\n", &cfg, &err), 0);
	assert_int_equal(config_apply_cmdline(&cfg, "nestor.elf trace=on", &err), 0);
	assert_true(cfg.trace);
	assert_true(cfg.vms[0].trace);
	assert_int_equal(config_apply_cmdline(&cfg, "trace=off", &err), 0);
	assert_false(cfg.trace);
	assert_true(cfg.vms[0].trace);
	/* vmcs_shadow: on by default, off from the file or the command line */
	assert_int_equal(parse("vmcs_shadow = off\n[vm a]\nimage=x\n", &cfg, &err), 0);
	assert_false(cfg.vmcs_shadow);
	assert_int_equal(config_apply_cmdline(&cfg, "vmcs_shadow=on", &err), 0);
	assert_true(cfg.vmcs_shadow);
}

static void test_error_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		struct nestor_config cfg;
		struct cfg_error err;

		if (parse(c->text, &cfg, &err) != -1)
			fail_msg("case %zu accepted: %s", i, c->text);
		if (err.line != c->line)
			fail_msg("case %zu: line %u, expected %u (%s)", i,
				 err.line, c->line, err.msg);
		assert_contains(err.msg, c->needle);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "exit = qemu\n[vm a]\nimage = a\0b\n";
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(config_parse(text, sizeof(text) - 1, &cfg, &err), -1);
	assert_int_equal(err.line, 3);
	assert_contains(err.msg, "NUL");
	/* A trailing NUL counted in len is still an error, not ignored. */
	assert_int_equal(config_parse("log = 1\n", 9, &cfg, &err), -1);
	assert_int_equal(err.line, 2);
}

/* Long hostile input is shortened and made printable in the message. */
static void test_message_sanitised(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("exit = \xff\xfe-very-long-value-that-goes-on-and-on\n",
			       &cfg, &err), -1);
	assert_contains(err.msg, "'?\?-very-long-value-that-goes-on-...'");
	assert_true(strlen(err.msg) < sizeof(err.msg));
}

/* kmain relies on this: after an error the globals read so far are still
 * valid, so a broken file still ends the run through the right exit. */
static void test_globals_kept_after_error(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("exit = qemu\nlog = 9\n", &cfg, &err), -1);
	assert_int_equal(err.line, 2);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_QEMU);
	assert_int_equal(cfg.log_level, 2);
}

static void test_null_err_is_allowed(void **state)
{
	struct nestor_config cfg;

	(void)state;
	assert_int_equal(parse("bogus\n", &cfg, NULL), -1);
	assert_int_equal(config_apply_cmdline(&cfg, "bogus=1", NULL), -1);
}

/* ---- L0 command line ------------------------------------------------- */

static void test_cmdline_override(void **state)
{
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	assert_int_equal(parse("exit = halt\nlog = 1\n[vm a]\nimage = x\n",
			       &cfg, &err), 0);
	assert_int_equal(config_apply_cmdline(&cfg,
			 "  /boot/nestor.elf exit=qemu\tlog=3 trace=on  ", &err), 0);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_QEMU);
	assert_int_equal(cfg.log_level, 3);
	assert_true(cfg.trace);
	assert_int_equal(cfg.vm_count, 1); /* VMs untouched */
	assert_string_equal(cfg.vms[0].image, "x");
	/* A later word wins; names work too. */
	assert_int_equal(config_apply_cmdline(&cfg, "log=0 log=warn exit=bochs",
					      &err), 0);
	assert_int_equal(cfg.log_level, 1);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_BOCHS);
	assert_int_equal(config_apply_cmdline(&cfg, "", &err), 0);
	assert_int_equal(config_apply_cmdline(&cfg, NULL, &err), 0);
}

static void test_cmdline_errors(void **state)
{
	static const struct {
		const char *cmdline;
		const char *needle;
	} cases[] = {
		{ "exit=reboot", "bad value 'reboot' for 'exit'" },
		{ "log=", "bad value '' for 'log'" },
		{ "colour=red", "unknown key 'colour'" },
		{ "memory=1G", "unknown key 'memory'" },
		{ "nestor.elf exit=qemu stray", "expected key=value, not 'stray'" },
	};
	struct nestor_config cfg;
	struct cfg_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_init(&cfg);
		err.line = 99;
		assert_int_equal(config_apply_cmdline(&cfg, cases[i].cmdline, &err), -1);
		assert_int_equal(err.line, 0);
		assert_contains(err.msg, cases[i].needle);
	}
}

/* ---- file checks -------------------------------------------------------- */

/* ctx: NULL-terminated list of names that exist; counts lookups. */
struct fake_fs {
	const char *const *names;
	int lookups;
};

static bool fake_exists(const char *name, void *ctx)
{
	struct fake_fs *fs = ctx;

	fs->lookups++;
	for (const char *const *n = fs->names; *n; n++)
		if (strcmp(*n, name) == 0)
			return true;
	return false;
}

/* virtio-blk's option: "FILE ro" is a read-only disk; the file name alone
 * is what config_check_files looks for. */
static void test_virtio_blk_ro(void **state)
{
	static const char text[] =
		"[vm a]\nimage = x\n"
		"device = virtio-blk:rw.img\n"
		"device = virtio-blk:ro.img ro\n"
		"device = \"virtio-blk:sp.img   ro\"   # quoted: spaces kept\n";
	static const char *const all[] = { "x", "rw.img", "ro.img", "sp.img", NULL };
	struct nestor_config cfg;
	struct cfg_error err;
	struct fake_fs fs = { all, 0 };

	(void)state;
	if (parse(text, &cfg, &err))
		fail_msg("line %u: %s", err.line, err.msg);
	assert_int_equal(cfg.vms[0].device_count, 3);
	assert_string_equal(cfg.vms[0].devices[0].arg, "rw.img");
	assert_false(cfg.vms[0].devices[0].read_only);
	assert_string_equal(cfg.vms[0].devices[1].arg, "ro.img");
	assert_true(cfg.vms[0].devices[1].read_only);
	assert_int_equal(cfg.vms[0].devices[1].line, 4);
	assert_string_equal(cfg.vms[0].devices[2].arg, "sp.img");
	assert_true(cfg.vms[0].devices[2].read_only);
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), 0);
}

static const char files_text[] =
	"[vm a]\n"                        /* 1 */
	"image = a.elf\n"                 /* 2 */
	"module = m1\n"                   /* 3 */
	"module = builtin:m2\n"           /* 4 */
	"device = virtio-blk:a.img\n"     /* 5 */
	"[vm b]\n"                        /* 6 */
	"image = builtin:demo\n"          /* 7 */
	"device = uart\n"                 /* 8 */
	"device = virtio-blk:b.img\n";    /* 9 */

static void expect_missing(const char *const *names, unsigned line,
			   const char *needle)
{
	struct nestor_config cfg;
	struct cfg_error err;
	struct fake_fs fs = { names, 0 };

	assert_int_equal(parse(files_text, &cfg, &err), 0);
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), -1);
	assert_int_equal(err.line, line);
	assert_contains(err.msg, needle);
}

static void test_check_files(void **state)
{
	static const char *const all[] = { "a.elf", "m1", "a.img", "b.img", NULL };
	static const char *const no_image[] = { "m1", "a.img", "b.img", NULL };
	static const char *const no_module[] = { "a.elf", "a.img", "b.img", NULL };
	static const char *const no_disk_a[] = { "a.elf", "m1", "b.img", NULL };
	static const char *const no_disk_b[] = { "a.elf", "m1", "a.img", NULL };
	struct nestor_config cfg;
	struct cfg_error err;
	struct fake_fs fs = { all, 0 };

	(void)state;
	assert_int_equal(parse(files_text, &cfg, &err), 0);
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), 0);
	assert_int_equal(fs.lookups, 4); /* builtin: names are never looked up */

	expect_missing(no_image, 2, "file 'a.elf' not found (image of [vm a])");
	expect_missing(no_module, 3, "file 'm1' not found (module of [vm a])");
	expect_missing(no_disk_a, 5, "file 'a.img' not found (disk of [vm a])");
	expect_missing(no_disk_b, 9, "file 'b.img' not found (disk of [vm b])");
}

/* A missing initrd is reported as such, at its line. */
static void test_check_files_initrd(void **state)
{
	static const char *const no_initrd[] = { "bzImage", NULL };
	struct nestor_config cfg;
	struct cfg_error err;
	struct fake_fs fs = { no_initrd, 0 };

	(void)state;
	assert_int_equal(parse("[vm linux]\nimage = bzImage\nformat = linux\n"
			       "initrd = rd.cpio\n", &cfg, &err), 0);
	assert_true(cfg.vms[0].initrd);
	assert_int_equal(cfg.vms[0].module_count, 1);
	assert_string_equal(cfg.vms[0].modules[0], "rd.cpio");
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), -1);
	assert_int_equal(err.line, 4);
	assert_contains(err.msg, "file 'rd.cpio' not found (initrd of [vm linux])");
	/* Linux without an initrd is fine too */
	assert_int_equal(parse("[vm linux]\nimage = bzImage\nformat = linux\n", &cfg, &err), 0);
	assert_false(cfg.vms[0].initrd);
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), 0);
}

static void test_is_builtin(void **state)
{
	(void)state;
	assert_true(config_is_builtin("builtin:demo"));
	assert_false(config_is_builtin("builtin"));
	assert_false(config_is_builtin("demo.elf"));
	assert_false(config_is_builtin(""));
}

/* ---- the embedded default and the name tables ----------------------- */

static void test_default_cfg(void **state)
{
	static char text[4096];
	struct nestor_config cfg;
	struct cfg_error err;
	struct fake_fs fs = { (const char *const[]){ NULL }, 0 };
	FILE *f = fopen("kernel/default.cfg", "rb");
	size_t n;

	(void)state;
	if (!f)
		fail_msg("kernel/default.cfg not found: run from the repo root");
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	assert_true(n > 0 && n < sizeof(text));
	if (config_parse(text, n, &cfg, &err))
		fail_msg("default.cfg line %u: %s", err.line, err.msg);
	assert_int_equal(cfg.exit_mode, CFG_EXIT_HALT);
	assert_int_equal(cfg.log_level, 2);
	assert_int_equal(cfg.vm_count, 1);
	assert_string_equal(cfg.vms[0].name, "demo");
	assert_true(cfg.vms[0].memory_bytes == 32ull << 20);
	assert_int_equal(cfg.vms[0].vcpus, 1);
	assert_string_equal(cfg.vms[0].image, "builtin:demo");
	/* Nothing to find on disk: it must pass with an empty file system. */
	assert_int_equal(config_check_files(&cfg, fake_exists, &fs, &err), 0);
	assert_int_equal(fs.lookups, 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(cfg_exit_mode_name(CFG_EXIT_HALT), "halt");
	assert_string_equal(cfg_exit_mode_name(CFG_EXIT_QEMU), "qemu");
	assert_string_equal(cfg_exit_mode_name(CFG_EXIT_BOCHS), "bochs");
	assert_string_equal(cfg_exit_mode_name((enum cfg_exit_mode)9), "?");
	assert_string_equal(cfg_format_name(CFG_FMT_AUTO), "auto");
	assert_string_equal(cfg_format_name(CFG_FMT_MULTIBOOT1), "multiboot1");
	assert_string_equal(cfg_format_name(CFG_FMT_MULTIBOOT2), "multiboot2");
	assert_string_equal(cfg_format_name(CFG_FMT_ELF64), "elf64");
	assert_string_equal(cfg_format_name(CFG_FMT_FLAT), "flat");
	assert_string_equal(cfg_format_name(CFG_FMT_LINUX), "linux");
	assert_string_equal(cfg_format_name((enum cfg_image_format)-1), "?");
	assert_string_equal(cfg_device_name(CFG_DEV_UART), "uart");
	assert_string_equal(cfg_device_name(CFG_DEV_VIRTIO_CONSOLE), "virtio-console");
	assert_string_equal(cfg_device_name(CFG_DEV_VIRTIO_BLK), "virtio-blk");
	assert_string_equal(cfg_device_name(CFG_DEV_VIRTIO_NET), "virtio-net");
	assert_string_equal(cfg_device_name((enum cfg_device_kind)0), "?");
}

/* Every name printed must parse back to the same value. */
static void test_names_round_trip(void **state)
{
	char text[128];

	(void)state;
	for (int f = CFG_FMT_AUTO; f <= CFG_FMT_LINUX; f++) {
		struct nestor_config cfg;
		struct cfg_error err;
		const char *extra = f == CFG_FMT_FLAT ? "load_addr = 0x1000\n" : "";

		snprintf(text, sizeof(text), "[vm a]\nimage=x\nformat = %s\n%s",
			 cfg_format_name((enum cfg_image_format)f), extra);
		assert_int_equal(parse(text, &cfg, &err), 0);
		assert_int_equal(cfg.vms[0].format, f);
	}
	for (int e = CFG_EXIT_HALT; e <= CFG_EXIT_BOCHS; e++) {
		struct nestor_config cfg;
		struct cfg_error err;

		snprintf(text, sizeof(text), "exit = %s\n",
			 cfg_exit_mode_name((enum cfg_exit_mode)e));
		assert_int_equal(parse(text, &cfg, &err), 0);
		assert_int_equal(cfg.exit_mode, e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_defaults),
		cmocka_unit_test(test_empty_and_comments_only),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_crlf_bom),
		cmocka_unit_test(test_virtio_blk_ro),
		cmocka_unit_test(test_default_vm_values),
		cmocka_unit_test(test_sizes_accepted),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_trace_keys),
		cmocka_unit_test(test_error_cases),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_message_sanitised),
		cmocka_unit_test(test_globals_kept_after_error),
		cmocka_unit_test(test_null_err_is_allowed),
		cmocka_unit_test(test_cmdline_override),
		cmocka_unit_test(test_cmdline_errors),
		cmocka_unit_test(test_check_files),
		cmocka_unit_test(test_check_files_initrd),
		cmocka_unit_test(test_is_builtin),
		cmocka_unit_test(test_default_cfg),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
