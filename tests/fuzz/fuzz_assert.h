/*
 * CHECK(cond): the fuzz targets' assertion.  A failed check prints what
 * broke and aborts, which libFuzzer reports as a crash with the input that
 * caused it.  Unlike assert() it stays on whatever NDEBUG says.
 */
#ifndef NESTOR_FUZZ_ASSERT_H
#define NESTOR_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {                                                     \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n",         \
				__FILE__, __LINE__, #cond);                  \
			abort();                                             \
		}                                                            \
	} while (0)

#endif
