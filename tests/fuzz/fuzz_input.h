/*
 * The fuzz input as a stream of little-endian integers, for the harnesses
 * that decode their input into a sequence of operations: fuzz_take()
 * reads `bytes` bytes (1..8), and zeros once the input is used up, so
 * every input, however short, is a complete run.
 */
#ifndef NESTOR_FUZZ_INPUT_H
#define NESTOR_FUZZ_INPUT_H
#include <stddef.h>
#include <stdint.h>

struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		if (in->n > 0) {
			v |= (uint64_t)*in->p++ << (8 * i);
			in->n--;
		}
	}
	return v;
}
#endif
