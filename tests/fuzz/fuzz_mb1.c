/*
 * libFuzzer target: mb1_parse over a small fake physical memory.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_mb1.c \
 *       boot/multiboot2/mb_parse.c mm/memmap.c -o build/fuzz/fuzz_mb1
 *   build/fuzz/fuzz_mb1 tests/fuzz/corpus/mb1
 *
 * Input layout: the whole input is physical memory from address 0, and its
 * first 4 bytes (little-endian) are also info_phys, the address the loader
 * would pass in EBX.  Every pointer in the structure (cmdline, mods, mmap,
 * strings) is then just an offset into the input, and anything past its end
 * is "not readable": phys returns NULL.
 */
#include <stddef.h>
#include <stdint.h>

#include "boot/multiboot2/mb_parse.h"
#include "tests/fuzz/fuzz_check.h"

struct fake_memory {
	const uint8_t *data;
	size_t size;
};

static const void *fake_phys(uint64_t addr, uint64_t len, void *ctx)
{
	const struct fake_memory *m = ctx;

	if (addr > m->size || len > m->size - addr)
		return NULL;
	return m->data + addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info bi;
	struct fake_memory mem = { data, size };
	char err[160];
	uint32_t info_phys;

	if (size < 4)
		return 0;
	memcpy(&info_phys, data, 4);
	if (mb1_parse(info_phys, fake_phys, &mem, &bi, err, sizeof err) != 0) {
		CHECK(strncmp(err, "mb1: ", 5) == 0);
		return 0;
	}
	check_boot_info(&bi, BOOT_PATH_MB1);
	CHECK(bi.rsdp == 0);
	check_memmap_chain(&bi);
	return 0;
}
