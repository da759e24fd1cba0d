/*
 * libFuzzer target: mb2_parse on arbitrary bytes, then the memory-map
 * chain on whatever it accepted.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_mb2.c \
 *       boot/multiboot2/mb_parse.c mm/memmap.c -o build/fuzz/fuzz_mb2
 *   build/fuzz/fuzz_mb2 tests/fuzz/corpus/mb2
 *
 * The input is the boot information itself; avail is exactly its length, so
 * AddressSanitizer catches any read past what the caller said is readable.
 */
#include <stddef.h>
#include <stdint.h>

#include "boot/multiboot2/mb_parse.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info bi;
	char err[160];
	const uint64_t phys = 0x10000;

	if (mb2_parse(data, size, phys, &bi, err, sizeof err) != 0) {
		CHECK(strncmp(err, "mb2: ", 5) == 0);
		return 0;
	}
	check_boot_info(&bi, BOOT_PATH_MB2);
	/* the RSDP copy lies inside the structure */
	if (bi.rsdp) {
		CHECK(bi.rsdp >= phys + 16);
		CHECK(bi.rsdp + 20 <= phys + size);
	}
	check_memmap_chain(&bi);
	return 0;
}
