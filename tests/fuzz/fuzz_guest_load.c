/* libFuzzer: arbitrary image bytes through the Multiboot loaders and the
 * Linux bzImage loader (with part of the input as its initrd) into a small
 * guest RAM; nothing may be written outside it.  Seeds: corpus/guest_load
 * (gen_corpus.py writes a bzImage that fits in this RAM). */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "kernel/guest_load.h"

static uint8_t ram[(2u << 20) + 4096] __attribute__((aligned(4096)));

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gmem g;
	struct guest_boot b;
	char err[128];
	struct guest_module m = { data, size < 64 ? size : 64, "mod" };
	memset(ram + (2u << 20), 0x5a, 4096);
	gmem_init(&g);
	gmem_add(&g, 0, 2u << 20, GMEM_RAM, (uint64_t)(uintptr_t)ram, 0);
	guest_load_multiboot1(&g, data, size, "x", &m, 1, &b, err, sizeof(err));
	guest_load_multiboot2(&g, data, size, "x", &m, 1, 0xf0000, &b, err, sizeof(err));
	struct guest_module rd = { data, size < 8192 ? size : 8192, "initrd" };
	guest_load_linux(&g, data, size, "console=ttyS0", &rd, 0xf0000, &b, err, sizeof(err));
	for (unsigned i = 0; i < 4096; i++)
		if (ram[(2u << 20) + i] != 0x5a)
			__builtin_trap();
	return 0;
}
