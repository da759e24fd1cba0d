/*
 * libFuzzer target for kernel/config.c.
 *
 * Build and run from the repository root:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. \
 *       tests/fuzz/fuzz_config.c kernel/config.c -o build/fuzz/fuzz_config
 *   ./build/fuzz/fuzz_config -max_total_time=60 tests/fuzz/corpus/config
 *
 * Beyond "no crash, no sanitizer report" it checks what the parser
 * promises: on success every field is within its limits and every string is
 * terminated; on failure the message is terminated and its line exists.
 * A broken promise calls __builtin_trap(), which libFuzzer reports.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/config.h"

#include "tests/fuzz/fuzz_assert.h"

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* A file "exists" if its name has an even sum of bytes: deterministic, and
 * both answers occur often. */
static bool fake_exists(const char *name, void *ctx)
{
	unsigned sum = 0;

	(void)ctx;
	CHECK(!config_is_builtin(name));
	for (; *name; name++)
		sum += (unsigned char)*name;
	return (sum & 1) == 0;
}

static void check_vm(const struct nestor_config *cfg, uint32_t v)
{
	const struct vm_config *vm = &cfg->vms[v];

	CHECK(terminated(vm->name, sizeof(vm->name)) && vm->name[0]);
	CHECK(terminated(vm->image, sizeof(vm->image)) && vm->image[0]);
	CHECK(terminated(vm->cmdline, sizeof(vm->cmdline)));
	CHECK(vm->memory_bytes >= CFG_MIN_MEMORY);
	CHECK(vm->memory_bytes <= CFG_MAX_MEMORY);
	CHECK((vm->memory_bytes & 0xfff) == 0);
	CHECK(vm->vcpus >= 1 && vm->vcpus <= CFG_MAX_VCPUS);
	CHECK(vm->format <= CFG_FMT_LINUX);
	CHECK(vm->load_addr == 0 || vm->format == CFG_FMT_FLAT);
	CHECK(vm->load_addr < vm->memory_bytes);
	CHECK(vm->module_count <= CFG_MAX_MODULES);
	CHECK(vm->device_count <= CFG_MAX_DEVICES);
	CHECK(vm->line > 0 && vm->image_line > vm->line);
	for (uint32_t i = 0; i < vm->module_count; i++)
		CHECK(terminated(vm->modules[i], CFG_PATH_MAX) && vm->modules[i][0]);
	for (uint32_t i = 0; i < vm->device_count; i++) {
		const struct cfg_device *d = &vm->devices[i];

		CHECK(d->kind >= CFG_DEV_UART && d->kind <= CFG_DEV_VIRTIO_NET);
		CHECK(terminated(d->arg, sizeof(d->arg)));
		CHECK(d->kind != CFG_DEV_VIRTIO_BLK || d->arg[0]);
		CHECK(strcmp(cfg_device_name(d->kind), "?") != 0);
	}
	for (uint32_t w = 0; w < v; w++)
		CHECK(strcmp(cfg->vms[w].name, vm->name) != 0);
}

static void check_globals(const struct nestor_config *cfg)
{
	CHECK(cfg->exit_mode <= CFG_EXIT_BOCHS);
	CHECK(cfg->log_level <= 3);
}

static void check_error(const struct cfg_error *err, unsigned max_line)
{
	CHECK(terminated(err->msg, sizeof(err->msg)) && err->msg[0]);
	CHECK(err->line <= max_line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char cmdline[4096];
	struct nestor_config cfg;
	struct cfg_error err;
	unsigned lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	if (config_parse((const char *)data, size, &cfg, &err) == 0) {
		check_globals(&cfg);
		CHECK(cfg.vm_count <= CFG_MAX_VMS);
		for (uint32_t v = 0; v < cfg.vm_count; v++)
			check_vm(&cfg, v);
		if (config_check_files(&cfg, fake_exists, NULL, &err) != 0) {
			check_error(&err, lines);
			CHECK(err.line > 0);
		}
	} else {
		check_error(&err, lines);
	}

	/* The same bytes as an L0 command line (a C string). */
	size = size < sizeof(cmdline) - 1 ? size : sizeof(cmdline) - 1;
	memcpy(cmdline, data, size);
	cmdline[size] = '\0';
	config_init(&cfg);
	if (config_apply_cmdline(&cfg, cmdline, &err) == 0) {
		check_globals(&cfg);
		CHECK(cfg.vm_count == 0);
	} else {
		check_error(&err, 0);
	}
	return 0;
}
