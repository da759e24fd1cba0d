/*
 * config: parser for nestor.cfg.  The format is described for users in
 * docs/config.md; this file is the reference.
 *
 * Shape of the code:
 *   config_parse()      splits the text into lines
 *   parse_line()        strips comments, then a header or a "key = value"
 *   apply_key()         looks the key up in a table and calls its setter
 *   set_*()             check one value and store it
 *   finish_vm()         checks that need the whole [vm] section
 *
 * The input is never copied as a whole and never NUL-terminated: we work on
 * (pointer, length) slices, so a line may be of any length and a stray NUL
 * byte cannot silently cut a line short.  Only values that pass their
 * checks are copied into the fixed-size fields of struct nestor_config.
 *
 * Only memcpy and memset are used from the C library, because the gnu-efi
 * loader that also links this file has nothing else (not even memcmp).
 */
#include "config.h"
#include "textbuf.h"

#include <string.h>

/* ---- small string helpers (no libc beyond mem*) ---------------------- */

/* A piece of the input text; not NUL-terminated. */
struct str {
	const char *p;
	size_t n;
};

static bool mem_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static size_t c_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static struct str str_of(const char *s)
{
	struct str r = { s, c_strlen(s) };

	return r;
}

static bool str_eq(struct str s, const char *lit)
{
	size_t n = c_strlen(lit);

	return s.n == n && mem_eq(s.p, lit, n);
}

static bool str_starts(struct str s, const char *lit)
{
	size_t n = c_strlen(lit);

	return s.n >= n && mem_eq(s.p, lit, n);
}

static struct str str_from(struct str s, size_t i)
{
	struct str r = { s.p + i, s.n - i };

	return r;
}

static struct str str_upto(struct str s, size_t i)
{
	struct str r = { s.p, i };

	return r;
}

/* Index of the first c in s, or s.n if there is none. */
static size_t str_find(struct str s, char c)
{
	size_t i = 0;

	while (i < s.n && s.p[i] != c)
		i++;
	return i;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static struct str trim(struct str s)
{
	while (s.n && is_space(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_space(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* VM names and builtin: names: [A-Za-z0-9_-]+ of at most max characters. */
static bool is_name(struct str s, size_t max)
{
	if (s.n == 0 || s.n > max)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Copy a checked slice into a fixed field; callers have checked that it
 * fits with its NUL. */
static void copy_str(char *dst, struct str s)
{
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
}

/* ---- numbers ---------------------------------------------------------- */

enum num_result { NUM_OK, NUM_BAD, NUM_OVERFLOW };

/* Decimal digits only: no sign, no spaces, no empty string. */
static enum num_result parse_dec(struct str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0)
		return NUM_BAD;
	for (size_t i = 0; i < s.n; i++) {
		unsigned d;

		if (!is_digit(s.p[i]))
			return NUM_BAD;
		d = (unsigned)(s.p[i] - '0');
		/* v * 10 + d must not wrap: test before doing it. */
		if (v > (UINT64_MAX - d) / 10)
			return NUM_OVERFLOW;
		v = v * 10 + d;
	}
	*out = v;
	return NUM_OK;
}

/* "0x" followed by hex digits (any number of leading zeros). */
static enum num_result parse_hex(struct str s, uint64_t *out)
{
	uint64_t v = 0;

	if (!str_starts(s, "0x") && !str_starts(s, "0X"))
		return NUM_BAD;
	s = str_from(s, 2);
	if (s.n == 0)
		return NUM_BAD;
	for (size_t i = 0; i < s.n; i++) {
		int d = hex_value(s.p[i]);

		if (d < 0)
			return NUM_BAD;
		if (v >> 60)	/* the next shift would drop set bits */
			return NUM_OVERFLOW;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return NUM_OK;
}

/* A size: decimal digits with an optional K, M or G (powers of 1024). */
static enum num_result parse_size(struct str s, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;
	enum num_result r;

	if (s.n) {
		switch (s.p[s.n - 1]) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		default: break;
		}
	}
	if (shift)
		s.n--;
	r = parse_dec(s, &v);
	if (r != NUM_OK)
		return r;
	if (v > (UINT64_MAX >> shift))
		return NUM_OVERFLOW;
	*out = v << shift;
	return NUM_OK;
}

/* ---- keyword tables --------------------------------------------------- */

struct word {
	const char *name;
	int value;
};

static const struct word exit_words[] = {
	{ "halt", CFG_EXIT_HALT },
	{ "qemu", CFG_EXIT_QEMU },
	{ "bochs", CFG_EXIT_BOCHS },
};

static const struct word selftest_words[] = {
	{ "none", CFG_SELFTEST_NONE },
	{ "null", CFG_SELFTEST_NULL },
	{ "write-text", CFG_SELFTEST_WRITE_TEXT },
	{ "exec-data", CFG_SELFTEST_EXEC_DATA },
	{ "stack", CFG_SELFTEST_STACK },
};

static const struct word log_words[] = {
	{ "error", 0 }, { "warn", 1 }, { "info", 2 }, { "debug", 3 },
	{ "0", 0 }, { "1", 1 }, { "2", 2 }, { "3", 3 },
};

static const struct word format_words[] = {
	{ "auto", CFG_FMT_AUTO },
	{ "multiboot1", CFG_FMT_MULTIBOOT1 },
	{ "multiboot2", CFG_FMT_MULTIBOOT2 },
	{ "elf64", CFG_FMT_ELF64 },
	{ "flat", CFG_FMT_FLAT },
	{ "linux", CFG_FMT_LINUX },
};

static const struct word onoff_words[] = {
	{ "off", 0 },
	{ "on", 1 },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool word_value(const struct word *w, size_t n, struct str s, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (str_eq(s, w[i].name)) {
			*out = w[i].value;
			return true;
		}
	}
	return false;
}

static const char *word_name(const struct word *w, size_t n, int value)
{
	for (size_t i = 0; i < n; i++)
		if (w[i].value == value)
			return w[i].name;
	return "?";
}

/* Devices: what may follow the kind after a ':'. */
enum dev_arg { DEV_ARG_NONE, DEV_ARG_FILE, DEV_ARG_MAC_OPTIONAL };

struct dev_def {
	const char *name;
	enum cfg_device_kind kind;
	enum dev_arg arg;
};

static const struct dev_def dev_defs[] = {
	{ "uart", CFG_DEV_UART, DEV_ARG_NONE },
	{ "virtio-console", CFG_DEV_VIRTIO_CONSOLE, DEV_ARG_NONE },
	{ "virtio-blk", CFG_DEV_VIRTIO_BLK, DEV_ARG_FILE },
	{ "virtio-net", CFG_DEV_VIRTIO_NET, DEV_ARG_MAC_OPTIONAL },
};

const char *cfg_exit_mode_name(enum cfg_exit_mode mode)
{
	return word_name(exit_words, COUNT(exit_words), (int)mode);
}

const char *cfg_format_name(enum cfg_image_format format)
{
	return word_name(format_words, COUNT(format_words), (int)format);
}

const char *cfg_device_name(enum cfg_device_kind kind)
{
	for (size_t i = 0; i < COUNT(dev_defs); i++)
		if (dev_defs[i].kind == kind)
			return dev_defs[i].name;
	return "?";
}

/* ---- error messages ----------------------------------------------------- */

/* Messages go through kernel/textbuf.h, which appends to a fixed buffer,
 * silently truncating; cap 0 means "no error record wanted" and every
 * append does nothing. */
/* Quote a piece of user input.  It is shortened and its unprintable bytes
 * replaced, so that a hostile line cannot flood or garble the console. */
#define QUOTE_MAX 32
static void m_quoted(struct textbuf *m, struct str s)
{
	tb_char(m, '\'');
	for (size_t i = 0; i < s.n && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s.p[i];

		tb_char(m, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
	if (s.n > QUOTE_MAX)
		tb_str(m, "...");
	tb_char(m, '\'');
}

static struct textbuf error_at(struct cfg_error *err, unsigned line)
{
	struct textbuf m = { NULL, 0, 0 };

	if (err) {
		err->line = line;
		err->msg[0] = '\0';
		m.buf = err->msg;
		m.cap = sizeof(err->msg);
	}
	return m;
}

/* ---- parser state ------------------------------------------------------- */

#define MAX_KEYS 16

struct parser {
	struct nestor_config *cfg;
	struct cfg_error *err;
	unsigned line;        /* current line, from 1; 0 = L0 command line */
	struct vm_config *vm; /* [vm] being filled; NULL in the global part */
	struct str key;       /* the "key = value" being applied */
	struct str val;
	bool quoted;          /* val was written "like this" */
	bool repeat_ok;       /* command line: a later word simply wins */
	/* Line where each key of the current section was set (0 = not yet):
	 * catches repeats and lets finish_vm() point at the right line. */
	unsigned key_line[MAX_KEYS];
};

static struct textbuf fail(struct parser *p)
{
	return error_at(p->err, p->line);
}

/* "bad value 'X' for 'KEY' (WHY)": the common shape of value errors. */
static int bad_value(struct parser *p, struct str val, const char *why)
{
	struct textbuf m = fail(p);

	tb_str(&m, "bad value ");
	m_quoted(&m, val);
	tb_str(&m, " for ");
	m_quoted(&m, p->key);
	tb_str(&m, " (");
	tb_str(&m, why);
	tb_char(&m, ')');
	return -1;
}

static int too_long(struct parser *p, size_t max)
{
	struct textbuf m = fail(p);

	tb_str(&m, "value for ");
	m_quoted(&m, p->key);
	tb_str(&m, " too long (max ");
	tb_u64(&m, max);
	tb_str(&m, " characters)");
	return -1;
}

static int set_word(struct parser *p, const struct word *w, size_t n,
		    const char *hint, int *out)
{
	if (!word_value(w, n, p->val, out))
		return bad_value(p, p->val, hint);
	return 0;
}

static int set_onoff(struct parser *p, bool *out)
{
	int v = 0;

	if (set_word(p, onoff_words, COUNT(onoff_words), "on or off", &v))
		return -1;
	*out = v != 0;
	return 0;
}

/* A file name: printable ASCII without spaces or quotes, so that it can be
 * looked up on a FAT ESP or as a Multiboot module string unchanged; or
 * builtin:NAME for an image linked into Nestor. */
static int check_path(struct parser *p, struct str s)
{
	if (s.n == 0)
		return bad_value(p, s, "empty file name");
	if (s.n >= CFG_PATH_MAX)
		return too_long(p, CFG_PATH_MAX - 1);
	if (str_starts(s, CFG_BUILTIN_PREFIX)) {
		struct str name = str_from(s, c_strlen(CFG_BUILTIN_PREFIX));

		if (!is_name(name, CFG_NAME_MAX - 1))
			return bad_value(p, s, "builtin:NAME");
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c <= ' ' || c >= 0x7f || c == '"')
			return bad_value(p, s, "no spaces or quotes in file names");
	}
	return 0;
}

/* ---- global keys ---------------------------------------------------------- */

static int set_exit(struct parser *p)
{
	int v = 0;

	if (set_word(p, exit_words, COUNT(exit_words), "halt, qemu or bochs", &v))
		return -1;
	p->cfg->exit_mode = (enum cfg_exit_mode)v;
	return 0;
}

static int set_log(struct parser *p)
{
	int v = 0;

	if (set_word(p, log_words, COUNT(log_words),
		     "0..3 or error, warn, info, debug", &v))
		return -1;
	p->cfg->log_level = (unsigned)v;
	return 0;
}

static int set_selftest(struct parser *p)
{
	int v = 0;

	if (set_word(p, selftest_words, COUNT(selftest_words),
		     "none, null, write-text, exec-data or stack", &v))
		return -1;
	p->cfg->selftest = (enum cfg_selftest)v;
	return 0;
}

static int set_global_trace(struct parser *p)
{
	return set_onoff(p, &p->cfg->trace);
}

static int set_vmcs_shadow(struct parser *p)
{
	return set_onoff(p, &p->cfg->vmcs_shadow);
}

/* ---- [vm] keys ------------------------------------------------------------- */

static int set_memory(struct parser *p)
{
	uint64_t v = 0;

	switch (parse_size(p->val, &v)) {
	case NUM_BAD:
		return bad_value(p, p->val, "a size such as 512M or 2G");
	case NUM_OVERFLOW:
		return bad_value(p, p->val, "does not fit in 64 bits");
	case NUM_OK:
		break;
	}
	if (v < CFG_MIN_MEMORY)
		return bad_value(p, p->val, "less than 1M");
	if (v > CFG_MAX_MEMORY)
		return bad_value(p, p->val, "more than 64G");
	/* Guest RAM is mapped with 4K second-stage pages at the least. */
	if (v & 0xfff)
		return bad_value(p, p->val, "not a multiple of 4K");
	p->vm->memory_bytes = v;
	return 0;
}

static int set_vcpus(struct parser *p)
{
	uint64_t v = 0;

	if (parse_dec(p->val, &v) != NUM_OK || v < 1 || v > CFG_MAX_VCPUS)
		return bad_value(p, p->val, "1..64");
	p->vm->vcpus = (uint32_t)v;
	return 0;
}

static int set_image(struct parser *p)
{
	if (check_path(p, p->val))
		return -1;
	copy_str(p->vm->image, p->val);
	p->vm->image_line = p->line;
	return 0;
}

static int set_format(struct parser *p)
{
	int v = 0;

	if (set_word(p, format_words, COUNT(format_words),
		     "auto, multiboot1, multiboot2, elf64, flat, linux", &v))
		return -1;
	p->vm->format = (enum cfg_image_format)v;
	return 0;
}

static int set_load_addr(struct parser *p)
{
	switch (parse_hex(p->val, &p->vm->load_addr)) {
	case NUM_BAD:
		return bad_value(p, p->val, "hex such as 0x100000");
	case NUM_OVERFLOW:
		return bad_value(p, p->val, "does not fit in 64 bits");
	case NUM_OK:
		break;
	}
	return 0;
}

static int set_cmdline(struct parser *p)
{
	if (p->val.n >= CFG_CMDLINE_MAX)
		return too_long(p, CFG_CMDLINE_MAX - 1);
	copy_str(p->vm->cmdline, p->val);
	return 0;
}

static int set_module(struct parser *p)
{
	struct vm_config *vm = p->vm;

	if (vm->module_count == CFG_MAX_MODULES) {
		struct textbuf m = fail(p);

		tb_str(&m, "too many modules in [vm ");
		tb_str(&m, vm->name);
		tb_str(&m, "] (max 4)");
		return -1;
	}
	if (check_path(p, p->val))
		return -1;
	copy_str(vm->modules[vm->module_count], p->val);
	vm->module_lines[vm->module_count] = p->line;
	vm->module_count++;
	return 0;
}

/* The Linux initrd: kept as the VM's module (finish_vm checks that it is
 * the only one, and that the format is linux). */
static int set_initrd(struct parser *p)
{
	if (set_module(p))
		return -1;
	p->vm->initrd = true;
	return 0;
}

/* "52:54:00:12:34:56": six hex pairs, and a unicast address (bit 0 of the
 * first octet clear), since a NIC cannot own a multicast address. */
static bool is_mac(struct str s)
{
	if (s.n != 17)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (i % 3 == 2 ? s.p[i] != ':' : hex_value(s.p[i]) < 0)
			return false;
	}
	return (hex_value(s.p[1]) & 1) == 0;
}

static int set_device_arg(struct parser *p, const struct dev_def *d,
			  struct str arg, bool has_arg, struct cfg_device *dev)
{
	switch (d->arg) {
	case DEV_ARG_NONE:
		if (has_arg)
			return bad_value(p, p->val, "this device takes no ':'");
		return 0;
	case DEV_ARG_FILE: {
		/* "FILE" or "FILE ro" (file names have no spaces). */
		size_t sp = str_find(arg, ' ');
		struct str opt = trim(str_from(arg, sp));

		if (!has_arg)
			return bad_value(p, p->val, "virtio-blk:FILE [ro]");
		arg = str_upto(arg, sp);
		if (check_path(p, arg))
			return -1;
		if (opt.n != 0 && !str_eq(opt, "ro"))
			return bad_value(p, opt, "after the file only 'ro' may follow");
		dev->read_only = opt.n != 0;
		break;
	}
	case DEV_ARG_MAC_OPTIONAL:
		if (!has_arg)
			return 0;
		if (!is_mac(arg))
			return bad_value(p, arg, "unicast MAC like 52:54:00:12:34:56");
		break;
	}
	copy_str(dev->arg, arg);
	return 0;
}

static int set_device(struct parser *p)
{
	struct vm_config *vm = p->vm;
	size_t colon = str_find(p->val, ':');
	struct str kind = str_upto(p->val, colon);
	bool has_arg = colon < p->val.n;
	struct str arg = has_arg ? str_from(p->val, colon + 1) : str_from(p->val, colon);
	struct cfg_device dev;

	if (vm->device_count == CFG_MAX_DEVICES) {
		struct textbuf m = fail(p);

		tb_str(&m, "too many devices in [vm ");
		tb_str(&m, vm->name);
		tb_str(&m, "] (max 8)");
		return -1;
	}
	memset(&dev, 0, sizeof(dev));
	for (size_t i = 0; i < COUNT(dev_defs); i++) {
		if (!str_eq(kind, dev_defs[i].name))
			continue;
		if (set_device_arg(p, &dev_defs[i], arg, has_arg, &dev))
			return -1;
		dev.kind = dev_defs[i].kind;
		dev.line = p->line;
		vm->devices[vm->device_count++] = dev;
		return 0;
	}
	return bad_value(p, p->val,
			 "uart, virtio-console, virtio-blk:FILE [ro], virtio-net[:MAC]");
}

static int set_nested(struct parser *p)
{
	return set_onoff(p, &p->vm->nested);
}

static int set_vm_trace(struct parser *p)
{
	return set_onoff(p, &p->vm->trace);
}

static int set_teach(struct parser *p)
{
	return set_onoff(p, &p->vm->teach);
}

/* ---- key tables -------------------------------------------------------------- */

struct key_def {
	const char *name;
	int (*set)(struct parser *p);
	bool repeatable;
};

static const struct key_def global_keys[] = {
	{ "exit", set_exit, false },
	{ "log", set_log, false },
	{ "trace", set_global_trace, false },
	{ "vmcs_shadow", set_vmcs_shadow, false },
	{ "selftest", set_selftest, false },
};

/* Named indices, for finish_vm() to find where a key was set. */
enum vm_key {
	VK_MEMORY, VK_VCPUS, VK_IMAGE, VK_FORMAT, VK_LOAD_ADDR, VK_CMDLINE,
	VK_MODULE, VK_INITRD, VK_DEVICE, VK_NESTED, VK_TRACE, VK_TEACH, VK_COUNT
};

static const struct key_def vm_keys[VK_COUNT] = {
	[VK_MEMORY] = { "memory", set_memory, false },
	[VK_VCPUS] = { "vcpus", set_vcpus, false },
	[VK_IMAGE] = { "image", set_image, false },
	[VK_FORMAT] = { "format", set_format, false },
	[VK_LOAD_ADDR] = { "load_addr", set_load_addr, false },
	[VK_CMDLINE] = { "cmdline", set_cmdline, false },
	[VK_MODULE] = { "module", set_module, true },
	[VK_INITRD] = { "initrd", set_initrd, false },
	[VK_DEVICE] = { "device", set_device, true },
	[VK_NESTED] = { "nested", set_nested, false },
	[VK_TRACE] = { "trace", set_vm_trace, false },
	[VK_TEACH] = { "teach", set_teach, false },
};

_Static_assert(VK_COUNT <= MAX_KEYS, "key_line[] too small");
_Static_assert(COUNT(global_keys) <= MAX_KEYS, "key_line[] too small");

static const struct key_def *find_key(const struct key_def *keys, size_t n,
				      struct str name, size_t *index)
{
	for (size_t i = 0; i < n; i++) {
		if (str_eq(name, keys[i].name)) {
			*index = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Unknown key: say where it would have been valid, a common slip being a
 * global key written after the first [vm]. */
static int unknown_key(struct parser *p)
{
	struct textbuf m = fail(p);
	size_t i;

	tb_str(&m, "unknown key ");
	m_quoted(&m, p->key);
	if (p->vm) {
		tb_str(&m, " in [vm ");
		tb_str(&m, p->vm->name);
		tb_char(&m, ']');
		if (find_key(global_keys, COUNT(global_keys), p->key, &i))
			tb_str(&m, " (global keys go before the first [vm])");
	} else if (find_key(vm_keys, VK_COUNT, p->key, &i)) {
		tb_str(&m, " (VM keys go after a [vm NAME] line)");
	}
	return -1;
}

/* p->key and p->val are set: look the key up in the section's table. */
static int apply_key(struct parser *p)
{
	const struct key_def *keys = p->vm ? vm_keys : global_keys;
	size_t n = p->vm ? (size_t)VK_COUNT : COUNT(global_keys);
	size_t i = 0;
	const struct key_def *k = find_key(keys, n, p->key, &i);

	if (!k)
		return unknown_key(p);
	if (!k->repeatable && !p->repeat_ok && p->key_line[i]) {
		struct textbuf m = fail(p);

		tb_str(&m, "key ");
		m_quoted(&m, p->key);
		tb_str(&m, " repeated (first set on line ");
		tb_u64(&m, p->key_line[i]);
		tb_char(&m, ')');
		return -1;
	}
	if (k->set(p))
		return -1;
	p->key_line[i] = p->line;
	return 0;
}

/* ---- sections -------------------------------------------------------------- */

/* Checks that need the whole section, run when it ends. */
static int finish_vm(struct parser *p)
{
	struct vm_config *vm = p->vm;
	struct textbuf m;

	if (!vm)
		return 0;
	if (!vm->image[0]) {
		m = error_at(p->err, vm->line);
		tb_str(&m, "[vm ");
		tb_str(&m, vm->name);
		tb_str(&m, "] has no image");
		return -1;
	}
	/* A flat binary has no header saying where it goes. */
	if (vm->format == CFG_FMT_FLAT && !p->key_line[VK_LOAD_ADDR]) {
		m = error_at(p->err, p->key_line[VK_FORMAT]);
		tb_str(&m, "'format' flat needs a 'load_addr'");
		return -1;
	}
	if (p->key_line[VK_LOAD_ADDR] && vm->format != CFG_FMT_FLAT) {
		m = error_at(p->err, p->key_line[VK_LOAD_ADDR]);
		tb_str(&m, "'load_addr' is only for format = flat");
		return -1;
	}
	/* Linux takes one initrd, named as such; Multiboot takes modules. */
	if (p->key_line[VK_INITRD] && vm->format != CFG_FMT_LINUX) {
		m = error_at(p->err, p->key_line[VK_INITRD]);
		tb_str(&m, "'initrd' is only for format = linux (Multiboot guests take 'module')");
		return -1;
	}
	if (p->key_line[VK_MODULE] && vm->format == CFG_FMT_LINUX) {
		m = error_at(p->err, p->key_line[VK_MODULE]);
		tb_str(&m, "format = linux takes no 'module' (its initramfs is 'initrd = FILE')");
		return -1;
	}
	if (p->key_line[VK_LOAD_ADDR] && vm->load_addr >= vm->memory_bytes) {
		m = error_at(p->err, p->key_line[VK_LOAD_ADDR]);
		tb_str(&m, "'load_addr' is beyond the memory of [vm ");
		tb_str(&m, vm->name);
		tb_char(&m, ']');
		return -1;
	}
	return 0;
}

static int start_vm(struct parser *p, struct str name)
{
	struct nestor_config *cfg = p->cfg;
	struct vm_config *vm;
	struct textbuf m;

	if (cfg->vm_count == CFG_MAX_VMS) {
		m = fail(p);
		tb_str(&m, "too many VMs (max 8)");
		return -1;
	}
	for (uint32_t i = 0; i < cfg->vm_count; i++) {
		if (str_eq(name, cfg->vms[i].name)) {
			m = fail(p);
			tb_str(&m, "duplicate VM name ");
			m_quoted(&m, name);
			tb_str(&m, " (first on line ");
			tb_u64(&m, cfg->vms[i].line);
			tb_char(&m, ')');
			return -1;
		}
	}
	vm = &cfg->vms[cfg->vm_count++];
	memset(vm, 0, sizeof(*vm));
	copy_str(vm->name, name);
	vm->memory_bytes = CFG_DEFAULT_MEMORY;
	vm->vcpus = 1;
	vm->format = CFG_FMT_AUTO;
	vm->line = p->line;
	p->vm = vm;
	memset(p->key_line, 0, sizeof(p->key_line));
	return 0;
}

/* "[vm NAME]", already trimmed and starting with '['. */
static int parse_header(struct parser *p, struct str s)
{
	struct str inner, type, name;
	size_t sp;
	struct textbuf m;

	if (s.p[s.n - 1] != ']') {
		m = fail(p);
		tb_str(&m, "section header without ']'");
		return -1;
	}
	inner = trim(str_from(str_upto(s, s.n - 1), 1));
	if (inner.n == 0) {
		m = fail(p);
		tb_str(&m, "empty section header");
		return -1;
	}
	for (sp = 0; sp < inner.n && !is_space(inner.p[sp]); sp++)
		;
	type = str_upto(inner, sp);
	name = trim(str_from(inner, sp));
	if (!str_eq(type, "vm")) {
		m = fail(p);
		tb_str(&m, "unknown section type ");
		m_quoted(&m, type);
		tb_str(&m, " (only [vm NAME])");
		return -1;
	}
	if (!is_name(name, CFG_NAME_MAX - 1)) {
		m = fail(p);
		tb_str(&m, "bad VM name ");
		m_quoted(&m, name);
		tb_str(&m, " (1-31 of A-Z a-z 0-9 _ -)");
		return -1;
	}
	if (finish_vm(p))
		return -1;
	return start_vm(p, name);
}

/* A value starting with '"' runs to the next '"', which must end it; the
 * quotes are dropped.  Other values are taken as written, so a Linux
 * command line may contain quotes of its own (foo="a b"). */
static int unquote(struct parser *p)
{
	struct str v = p->val;
	size_t close;
	struct textbuf m;

	p->quoted = false;
	if (v.n == 0 || v.p[0] != '"')
		return 0;
	close = 1 + str_find(str_from(v, 1), '"');
	if (close != v.n - 1) {
		m = fail(p);
		tb_str(&m, "text after the closing quote of ");
		m_quoted(&m, p->key);
		return -1;
	}
	p->val = str_upto(str_from(v, 1), v.n - 2);
	p->quoted = true;
	return 0;
}

static bool is_key(struct str s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!is_lower(s.p[i]) && !is_digit(s.p[i]) && s.p[i] != '_')
			return false;
	return s.n > 0;
}

/* "key = value", already trimmed and non-empty. */
static int parse_assignment(struct parser *p, struct str s)
{
	size_t eq = str_find(s, '=');
	struct textbuf m;

	if (eq == s.n) {
		m = fail(p);
		tb_str(&m, "expected 'key = value' or '[vm NAME]', not ");
		m_quoted(&m, s);
		return -1;
	}
	p->key = trim(str_upto(s, eq));
	p->val = trim(str_from(s, eq + 1));
	if (!is_key(p->key)) {
		m = fail(p);
		tb_str(&m, "bad key ");
		m_quoted(&m, p->key);
		return -1;
	}
	if (unquote(p))
		return -1;
	/* An explicit "" is a deliberate empty value (e.g. no cmdline). */
	if (p->val.n == 0 && !p->quoted) {
		m = fail(p);
		tb_str(&m, "missing value for ");
		m_quoted(&m, p->key);
		return -1;
	}
	return apply_key(p);
}

/* Cut a '#' comment that is not inside double quotes. */
static int strip_comment(struct parser *p, struct str *s)
{
	bool in_quotes = false;
	struct textbuf m;

	for (size_t i = 0; i < s->n; i++) {
		if (s->p[i] == '"')
			in_quotes = !in_quotes;
		else if (s->p[i] == '#' && !in_quotes) {
			s->n = i;
			return 0;
		}
	}
	if (in_quotes) {
		m = fail(p);
		tb_str(&m, "unterminated quote");
		return -1;
	}
	return 0;
}

/* Control bytes have no business in a text config; a NUL in particular
 * usually means a binary or a wrongly sized buffer was handed to us. */
static int check_bytes(struct parser *p, struct str s)
{
	static const char hex[] = "0123456789abcdef";
	struct textbuf m;

	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '\t' || (c >= 0x20 && c != 0x7f))
			continue;
		m = fail(p);
		if (c == 0) {
			tb_str(&m, "NUL byte in line");
		} else {
			tb_str(&m, "control character 0x");
			tb_char(&m, hex[c >> 4]);
			tb_char(&m, hex[c & 15]);
			tb_str(&m, " in line");
		}
		return -1;
	}
	return 0;
}

static int parse_line(struct parser *p, struct str s)
{
	if (check_bytes(p, s) || strip_comment(p, &s))
		return -1;
	s = trim(s);
	if (s.n == 0)
		return 0;
	if (s.p[0] == '[')
		return parse_header(p, s);
	return parse_assignment(p, s);
}

/* ---- public API -------------------------------------------------------------- */

void config_init(struct nestor_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->exit_mode = CFG_EXIT_HALT;
	cfg->log_level = CFG_DEFAULT_LOG_LEVEL;
	cfg->trace = false;
	cfg->vmcs_shadow = true;
}

static void parser_init(struct parser *p, struct nestor_config *cfg,
			struct cfg_error *err)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->err = err;
	if (err) {
		err->line = 0;
		err->msg[0] = '\0';
	}
}

int config_parse(const char *text, size_t len, struct nestor_config *cfg,
		 struct cfg_error *err)
{
	struct parser p;
	size_t pos = 0;

	config_init(cfg);
	parser_init(&p, cfg, err);
	if (!text)
		len = 0;
	/* Windows editors may start a file on the ESP with a UTF-8 BOM. */
	if (len >= 3 && mem_eq(text, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len) {
		struct str line = { text + pos, 0 };

		while (pos + line.n < len && line.p[line.n] != '\n')
			line.n++;
		pos += line.n + 1;
		p.line++;
		if (line.n && line.p[line.n - 1] == '\r') /* CRLF */
			line.n--;
		if (parse_line(&p, line))
			return -1;
	}
	return finish_vm(&p);
}

int config_apply_cmdline(struct nestor_config *cfg, const char *cmdline,
			 struct cfg_error *err)
{
	struct parser p;
	struct str rest = str_of(cmdline ? cmdline : "");
	bool first = true;

	parser_init(&p, cfg, err);
	p.repeat_ok = true;
	for (;;) {
		struct str word;
		size_t eq;

		rest = trim(rest);
		if (rest.n == 0)
			return 0;
		for (word.p = rest.p, word.n = 0;
		     word.n < rest.n && !is_space(rest.p[word.n]); word.n++)
			;
		rest = str_from(rest, word.n);
		eq = str_find(word, '=');
		if (eq == word.n && first) { /* the kernel's file name */
			first = false;
			continue;
		}
		first = false;
		if (eq == word.n) {
			struct textbuf m = fail(&p);

			tb_str(&m, "command line: expected key=value, not ");
			m_quoted(&m, word);
			return -1;
		}
		p.key = str_upto(word, eq);
		p.val = str_from(word, eq + 1);
		if (apply_key(&p))
			return -1;
	}
}

bool config_is_builtin(const char *path)
{
	return str_starts(str_of(path), CFG_BUILTIN_PREFIX);
}

static int check_file(const char *name, unsigned line, const char *what,
		      const struct vm_config *vm,
		      bool (*exists)(const char *name, void *ctx), void *ctx,
		      struct cfg_error *err)
{
	struct textbuf m;

	if (config_is_builtin(name) || exists(name, ctx))
		return 0;
	m = error_at(err, line);
	tb_str(&m, "file ");
	m_quoted(&m, str_of(name));
	tb_str(&m, " not found (");
	tb_str(&m, what);
	tb_str(&m, " of [vm ");
	tb_str(&m, vm->name);
	tb_str(&m, "])");
	return -1;
}

int config_check_files(const struct nestor_config *cfg,
		       bool (*exists)(const char *name, void *ctx), void *ctx,
		       struct cfg_error *err)
{
	for (uint32_t v = 0; v < cfg->vm_count && v < CFG_MAX_VMS; v++) {
		const struct vm_config *vm = &cfg->vms[v];

		if (check_file(vm->image, vm->image_line, "image", vm, exists,
			       ctx, err))
			return -1;
		for (uint32_t i = 0; i < vm->module_count && i < CFG_MAX_MODULES; i++)
			if (check_file(vm->modules[i], vm->module_lines[i],
				       vm->initrd ? "initrd" : "module", vm, exists, ctx, err))
				return -1;
		for (uint32_t i = 0; i < vm->device_count && i < CFG_MAX_DEVICES; i++) {
			const struct cfg_device *d = &vm->devices[i];

			if (d->kind == CFG_DEV_VIRTIO_BLK &&
			    check_file(d->arg, d->line, "disk", vm, exists,
				       ctx, err))
				return -1;
		}
	}
	return 0;
}
