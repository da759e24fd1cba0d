/*
 * A bounded text builder: characters, strings and decimal numbers
 * appended into a caller's buffer, always NUL-terminated, silently cut at
 * its capacity.  Pure and header-only: the config parser's messages (also
 * in the UEFI loader) and the trace dump lines use it.
 */
#ifndef NESTOR_TEXTBUF_H
#define NESTOR_TEXTBUF_H
#include <stddef.h>
#include <stdint.h>

struct textbuf {
	char *buf;
	size_t cap;   /* bytes in buf, the NUL included */
	size_t len;
};

static inline void tb_char(struct textbuf *t, char c)
{
	if (t->len + 1 < t->cap) {
		t->buf[t->len++] = c;
		t->buf[t->len] = '\0';
	}
}

static inline void tb_str(struct textbuf *t, const char *s)
{
	while (*s)
		tb_char(t, *s++);
}

static inline void tb_u64(struct textbuf *t, uint64_t v)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		tb_char(t, digits[--n]);
}
#endif
