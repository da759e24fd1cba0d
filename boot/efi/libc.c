/*
 * libc.c: the C library functions kernel/config.c needs that gnu-efi's
 * libefi does not provide.  libefi 3.0.15 has memcpy and memset (the
 * compiler may also emit calls to them), but not memcmp.
 */
#include <stddef.h>

int memcmp(const void *a, const void *b, size_t n);

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}
