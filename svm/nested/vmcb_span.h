/*
 * vmcb_span: a byte range of struct vmcb, and its copy.  The nested SVM
 * code moves VMCBs field group by field group (what VMRUN reads, what
 * #VMEXIT writes back, what a clean bit covers), never whole pages.
 */
#ifndef NESTOR_SVM_NESTED_VMCB_SPAN_H
#define NESTOR_SVM_NESTED_VMCB_SPAN_H
#include <stdint.h>

struct nsvm_span {
	uint16_t off, len;      /* byte range of struct vmcb */
};

/* Copy one span (the same offset in both).  Most spans are one or two
 * quadwords, where the call into memcpy costs more than the copy (every
 * nested VMRUN and #VMEXIT copies a dozen); longer ones go to memcpy,
 * whose string move is cheaper per byte than a loop. */
static inline void nsvm_span_copy(uint8_t *dst, const uint8_t *src, const struct nsvm_span *s)
{
	const uint8_t *from = src + s->off;
	uint8_t *to = dst + s->off;
	if (s->len > 16) {
		__builtin_memcpy(to, from, s->len);
		return;
	}
	unsigned i = 0;
	for (; i + 8 <= s->len; i += 8) {
		uint64_t q;
		__builtin_memcpy(&q, from + i, 8);
		__builtin_memcpy(to + i, &q, 8);
	}
	for (; i < s->len; i++)
		to[i] = from[i];
}
#endif
