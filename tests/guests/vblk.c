/*
 * The virtio-blk test guest (issue 7): drives Nestor's virtio-blk device
 * end to end with the driver in rt/virtio_drv.h.
 *
 * It finds the device on its command line (`virtio_mmio.device=4K@<base>:
 * <gsi>`, appended by Nestor), takes its interrupt through the IOAPIC
 * (level-triggered, as virtio-mmio's line is), and then:
 *   - feature negotiation: VERSION_1 offered, FEATURES_OK refused without it;
 *   - split ring: GET_ID; a pattern written over the whole disk in requests
 *     of different sizes (512 B .. 64 KiB, up to 16 in flight, chains of up
 *     to 18 descriptors), FLUSH, read back (indirect tables) and compared;
 *     a read at / across the end of the disk gives IOERR;
 *   - interrupts counted: one per kick without EVENT_IDX, none with
 *     NO_INTERRUPT, one per batch with EVENT_IDX's used_event;
 *   - the data survives a device reset; the packed ring with EVENT_IDX and
 *     indirect tables writes and reads a second pattern;
 *   - hostile driver moves: a split queue size that is not a power of two,
 *     a kick before DRIVER_OK, a descriptor pointing beyond RAM and a
 *     descriptor loop (both: DEVICE_NEEDS_RESET, a configuration
 *     interrupt, nothing used; the device works again after a reset), a
 *     read into a device-readable buffer (IOERR);
 *   - a second device (the same image, `ro`): RO offered, writes IOERR.
 * With `bench` on the command line it measures 4 KiB reads instead
 * (BENCHVBLK lines, tests/integ/run.py --bench; docs/benchmarks.md).
 */
#include <stdio.h>
#include <string.h>
#include "tests/guests/rt/rt.h"
#include "tests/guests/rt/virtio_drv.h"
#include "drivers/virtio/virtio_blk.h"

#define VEC_VBLK   0x50
#define DISK_MAX   (2u << 20)           /* the biggest disk this guest checks */
#define NSLOT      32
#define QSIZE      256
#define SECTOR     512u

#define F(bit) (1ull << (bit))

static uint8_t ring_area[GVQ_AREA_BYTES] __attribute__((aligned(4096)));
static uint8_t mirror[DISK_MAX] __attribute__((aligned(4096)));   /* what the disk should hold */
static uint8_t readback[DISK_MAX] __attribute__((aligned(4096)));

struct blk_hdr { uint32_t type, reserved; uint64_t sector; };

struct slot {
	struct blk_hdr hdr;
	volatile uint8_t status;
	bool busy, write;
	uint32_t data_len;
	struct gvq_desc itable[VQ_MAX_CHAIN];
};
static struct slot slots[NSLOT];

static struct vmmio dev;
static struct gvq q;
static uint64_t capacity;               /* sectors */
static uint32_t khz;
static volatile unsigned irq_used, irq_config, irq_total;

/* ---- interrupts: IOAPIC pin -> vector, level-triggered ---------------------- */

#define IOAPIC ((volatile uint32_t *)0xfec00000ull)
static void ioapic_wr(uint32_t reg, uint32_t v) { IOAPIC[0] = reg; IOAPIC[4] = v; }

static void on_vblk(void)
{
	uint32_t s = vm_rd(&dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	vm_wr(&dev, VIRTIO_MMIO_INTERRUPT_ACK, s);   /* the line drops */
	irq_total++;
	if (s & VIRTIO_INT_USED)
		irq_used++;
	if (s & VIRTIO_INT_CONFIG)
		irq_config++;
	lapic_wr(0xb0, 0);                           /* EOI: the pin may fire again */
}

static void interrupts_on(unsigned gsi)
{
	lapic_wr(0xf0, 0x1ff);                       /* LAPIC software-enabled */
	lapic_wr(0x80, 0);                           /* TPR 0 */
	rt_irq_register(VEC_VBLK, on_vblk);
	ioapic_wr(0x10 + 2 * gsi + 1, 0);            /* destination APIC 0 */
	ioapic_wr(0x10 + 2 * gsi, VEC_VBLK | (1u << 15));   /* fixed, level, active high */
	sti();
}

/* ---- requests ------------------------------------------------------------------ */

static unsigned seg_bytes = 4096;       /* data split into descriptors of this size */
static bool use_indirect;

static struct slot *slot_get(void)
{
	for (unsigned i = 0; i < NSLOT; i++)
		if (!slots[i].busy) {
			slots[i].busy = true;
			return &slots[i];
		}
	return NULL;
}

/* Queue one request: header, data (device-writable for IN/GET_ID unless
 * data_readable), status.  0, or -1 if the ring is full. */
static int submit(struct slot *s, uint32_t type, uint64_t sector, void *data, uint32_t len,
		  bool data_readable)
{
	struct gvq_buf b[VQ_MAX_CHAIN];
	unsigned n = 0;
	s->hdr = (struct blk_hdr){ .type = type, .sector = sector };
	s->status = 0xee;
	s->write = type == VIRTIO_BLK_T_OUT;
	s->data_len = len;
	b[n++] = (struct gvq_buf){ (uint64_t)&s->hdr, sizeof(s->hdr), false };
	for (uint32_t off = 0; off < len && n < VQ_MAX_CHAIN - 1; off += seg_bytes) {
		uint32_t l = len - off < seg_bytes ? len - off : seg_bytes;
		b[n++] = (struct gvq_buf){ (uint64_t)data + off, l, !data_readable };
	}
	b[n++] = (struct gvq_buf){ (uint64_t)&s->status, 1, true };
	return gvq_add(&q, b, n, s, use_indirect ? s->itable : NULL);
}

static void kick(void)
{
	if (gvq_kick_needed(&q))
		gvq_kick(&dev, 0);
}

/* Wait (polling, with interrupts on) for a used buffer: false after ~2 s. */
static bool wait_used(void)
{
	uint64_t end = rdtsc() + 2000ull * khz;
	while (!gvq_has_used(&q))
		if (rdtsc() > end)
			return false;
		else
			cpu_relax();
	return true;
}

/* Collect one completion: the slot, with *len the bytes the device wrote. */
static struct slot *complete_one(uint32_t *len)
{
	if (!wait_used())
		return NULL;
	void *c = gvq_get(&q, len);
	if (c == NULL || c == GVQ_BAD)
		return NULL;
	struct slot *s = c;
	s->busy = false;
	return s;
}

/* One request, waited for: its status (0xee: no answer, 0xdd: bad used). */
static uint8_t do_one(uint32_t type, uint64_t sector, void *data, uint32_t len, bool data_readable,
		      uint32_t *used_len)
{
	struct slot *s = slot_get();
	uint32_t l = 0;
	if (!s || submit(s, type, sector, data, len, data_readable)) {
		if (s)
			s->busy = false;
		return 0xdd;
	}
	kick();
	struct slot *d = complete_one(&l);
	if (used_len)
		*used_len = l;
	return d == s ? s->status : 0xdd;
}

/*
 * A pass over the whole disk: requests of sizes[] sectors in turn, up to
 * depth in flight, one kick per fill.  write: mirror -> disk; else disk ->
 * readback.  Returns the requests that failed (status or used length).
 */
static unsigned whole_disk(bool write, const uint32_t *sizes, unsigned nsizes, unsigned depth,
			   unsigned *requests)
{
	uint64_t sector = 0;
	unsigned inflight = 0, k = 0, bad = 0, n_req = 0;
	uint8_t *buf = write ? mirror : readback;
	while (sector < capacity || inflight) {
		while (inflight < depth && sector < capacity) {
			uint32_t n = sizes[k % nsizes];
			if (n > capacity - sector)
				n = (uint32_t)(capacity - sector);
			struct slot *s = slot_get();
			if (!s)
				break;
			if (submit(s, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector, buf + sector * SECTOR,
				   n * SECTOR, write)) {
				s->busy = false;   /* ring full: wait for some to come back */
				break;
			}
			k++;
			n_req++;
			inflight++;
			sector += n;
		}
		kick();
		uint32_t len;
		struct slot *s = complete_one(&len);
		if (!s)
			return bad + inflight + 1000;    /* the device stopped answering */
		do {
			inflight--;
			uint32_t want = s->write ? 1 : s->data_len + 1;
			if (s->status != VIRTIO_BLK_S_OK || len != want) {
				if (bad++ < 4)
					rt_printf("vblk: request at sector %lu: status %u, used length %u (want %u)\n",
						  (unsigned long)s->hdr.sector, s->status, len, want);
			}
		} while (gvq_has_used(&q) && (s = complete_one(&len)) != NULL);
	}
	if (requests)
		*requests = n_req;
	return bad;
}

static void fill_pattern(uint32_t seed)
{
	uint32_t *w = (uint32_t *)mirror;
	for (uint64_t i = 0; i < capacity * SECTOR / 4; i++)
		w[i] = ((uint32_t)i * 2654435761u) ^ seed;
}

static unsigned sectors_differing(void)
{
	unsigned bad = 0;
	for (uint64_t s = 0; s < capacity; s++)
		if (memcmp(mirror + s * SECTOR, readback + s * SECTOR, SECTOR))
			bad++;
	return bad;
}

/* ---- bring-up ------------------------------------------------------------------- */

static uint64_t bring_up_n(unsigned num, uint64_t want, bool driver_ok)
{
	const char *why = "";
	uint64_t f = gvq_bring_up(&dev, &q, ring_area, num, want, driver_ok, &why);
	memset(slots, 0, sizeof(slots));
	if (!f)
		rt_printf("vblk: bring-up failed: %s (status %#x)\n", why, vm_status(&dev));
	return f;
}

static uint64_t bring_up(uint64_t want, bool driver_ok)
{
	return bring_up_n(QSIZE, want, driver_ok);
}

/* Status bits 0..7 as the device shows them. */
static bool needs_reset(void) { return vm_status(&dev) & VIRTIO_STATUS_NEEDS_RESET; }

/* The data tests over one ring format. */
static const uint32_t write_sizes[] = { 1, 8, 3, 128, 16, 2, 64, 5, 32, 7, 24, 9 };
static const uint32_t read_sizes[] = { 128, 1, 16, 2, 64, 8, 3, 32, 120 };

static void data_tests(const char *ring, uint32_t seed, bool write_first)
{
	char name[96];
	unsigned reqs = 0, bad;
	if (write_first) {
		fill_pattern(seed);
		seg_bytes = 4096;            /* chains up to 2 + 16 descriptors */
		use_indirect = false;
		bad = whole_disk(true, write_sizes, sizeof(write_sizes) / 4, 16, &reqs);
		snprintf(name, sizeof(name), "%s: pattern written over the whole disk, sizes 512 B..64 KiB, 16 in flight", ring);
		rt_check(bad == 0, name, "%u of %u requests failed", bad, reqs);
		uint32_t len = 0;
		uint8_t st = do_one(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, &len);
		snprintf(name, sizeof(name), "%s: FLUSH", ring);
		rt_check(st == VIRTIO_BLK_S_OK && len == 1, name, "status %u, used length %u", st, len);
	}
	memset(readback, 0x5a, capacity * SECTOR);
	seg_bytes = 16384;
	use_indirect = true;                 /* one ring slot per request when offered */
	bad = whole_disk(false, read_sizes, sizeof(read_sizes) / 4, 16, &reqs);
	snprintf(name, sizeof(name), "%s: whole disk read back, %s", ring,
		 q.indirect ? "indirect tables" : "direct chains");
	rt_check(bad == 0, name, "%u of %u requests failed", bad, reqs);
	unsigned diff = sectors_differing();
	snprintf(name, sizeof(name), "%s: every sector holds the pattern", ring);
	rt_check(diff == 0, name, "%u of %lu sectors differ", diff, (unsigned long)capacity);
	use_indirect = false;
}

/* n single-request kicks with interrupts as asked: used interrupts taken.
 * one_for_all: ask for one interrupt after the n-th (EVENT_IDX). */
static unsigned kicks_and_interrupts(unsigned n, bool on, bool one_for_all)
{
	/* a chain is 3 descriptors here: header, one sector, status */
	gvq_interrupts(&q, on, one_for_all ? (uint16_t)(q.packed ? 3 * n : n) : 1);
	unsigned before = irq_used;
	struct slot *s[NSLOT];
	for (unsigned i = 0; i < n; i++) {
		s[i] = slot_get();
		submit(s[i], VIRTIO_BLK_T_IN, i, readback + i * SECTOR, SECTOR, false);
		kick();                          /* served at once, during this exit */
		if (!one_for_all && on)
			gvq_interrupts(&q, on, 1);
	}
	uint32_t len;
	for (unsigned i = 0; i < n; i++)
		complete_one(&len);
	rt_delay_tsc(khz);                      /* a late interrupt would be counted too */
	gvq_interrupts(&q, true, 1);
	return irq_used - before;
}

/* ---- hostile moves ---------------------------------------------------------------- */

static void hostile_queue_size(void)
{
	vm_set_status(&dev, 0);
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vm_driver_features(&dev, F(VIRTIO_F_VERSION_1));
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	gvq_init(&q, ring_area, 100, false, false, false);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_NUM, 100);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uint64_t)q.desc);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(uint64_t)q.avail);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(uint64_t)q.used);
	vm_wr(&dev, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK(needs_reset() && vm_rd(&dev, VIRTIO_MMIO_QUEUE_READY) == 0,
	      "hostile: split queue size 100 (not a power of two): DEVICE_NEEDS_RESET, queue not ready");
	vm_set_status(&dev, 0);
	CHECK(vm_status(&dev) == 0, "hostile: a reset clears DEVICE_NEEDS_RESET");
}

static void hostile_kick_before_driver_ok(void)
{
	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1), false);
	char id[VIRTIO_BLK_ID_BYTES];
	struct slot *s = slot_get();
	submit(s, VIRTIO_BLK_T_GET_ID, 0, id, sizeof(id), false);
	gvq_kick(&dev, 0);
	rt_delay_tsc(khz);
	CHECK(f && !gvq_has_used(&q) && !needs_reset(), "hostile: a kick before DRIVER_OK is ignored");
	vm_set_status(&dev, vm_status(&dev) | VIRTIO_STATUS_DRIVER_OK);
	gvq_kick(&dev, 0);
	uint32_t len = 0;
	struct slot *d = complete_one(&len);
	CHECK(d == s && s->status == VIRTIO_BLK_S_OK,
	      "hostile: the same request is served once DRIVER_OK is set");
}

/* A chain the device must refuse as a whole: NEEDS_RESET, a configuration
 * interrupt (DRIVER_OK is set), nothing used; after a reset all is well. */
static void expect_needs_reset(const char *name)
{
	char n2[120];
	rt_delay_tsc(khz);
	bool used = gvq_has_used(&q);
	snprintf(n2, sizeof(n2), "%s: DEVICE_NEEDS_RESET, config interrupt, nothing used", name);
	rt_check(needs_reset() && !used && irq_config == 1, n2, "status %#x, used %d, config interrupts %u",
		 vm_status(&dev), used, irq_config);
	gvq_kick(&dev, 0);                      /* ignored now */
	rt_delay_tsc(khz);
	snprintf(n2, sizeof(n2), "%s: later kicks ignored until a reset", name);
	rt_check(!gvq_has_used(&q) && needs_reset(), n2, "status %#x", vm_status(&dev));
	irq_config = 0;
	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1), true);
	uint8_t st = do_one(VIRTIO_BLK_T_IN, 0, readback, SECTOR, false, NULL);
	snprintf(n2, sizeof(n2), "%s: after a reset the device serves again", name);
	rt_check(f && st == VIRTIO_BLK_S_OK && !memcmp(readback, mirror, SECTOR), n2, "status %u", st);
}

static void hostile_beyond_ram(void)
{
	bring_up(F(VIRTIO_F_VERSION_1), true);
	irq_config = 0;
	struct slot *s = slot_get();
	/* data 1 MiB past the end of RAM: nothing is there */
	uint64_t beyond = (rt_boot.ram_bytes + (1u << 20)) & ~0xfffull;
	submit(s, VIRTIO_BLK_T_IN, 0, (void *)beyond, SECTOR, false);
	gvq_kick(&dev, 0);
	expect_needs_reset("hostile: descriptor beyond RAM");
}

static void hostile_loop(void)
{
	/* a queue of 8: the walk meets its 9th descriptor before the device's
	 * own chain limit (VQ_MAX_CHAIN), so the loop is named as such */
	bring_up_n(8, F(VIRTIO_F_VERSION_1), true);
	irq_config = 0;
	struct slot *s = slot_get();
	s->hdr = (struct blk_hdr){ .type = VIRTIO_BLK_T_IN };
	/* 0 -> 1 -> 0 -> ...: both device-readable, so only the loop is wrong */
	q.desc[0] = (struct gvq_desc){ (uint64_t)&s->hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	q.desc[1] = (struct gvq_desc){ (uint64_t)&s->hdr, 16, VIRTQ_DESC_F_NEXT, 0 };
	q.avail[2] = 0;
	gvq_barrier();
	q.avail[1] = 1;
	gvq_kick(&dev, 0);
	expect_needs_reset("hostile: descriptor loop");
}

static void hostile_wrong_direction(void)
{
	bring_up(F(VIRTIO_F_VERSION_1), true);
	uint8_t st = do_one(VIRTIO_BLK_T_IN, 0, readback, SECTOR, true, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR && !needs_reset(),
	      "hostile: a read into a device-readable buffer gives IOERR (request refused, device fine)");
}

/* The second device: the same image, read-only (`ro` in the config). */
static void second_device_ro(void)
{
	struct vmmio first = dev;
	uint64_t size;
	if (!gvq_find_device(rt_boot.cmdline, 1, &dev, &size)) {
		CHECK(false, "ro: a second virtio_mmio.device= on the command line");
		dev = first;
		return;
	}
	rt_printf("vblk: second device at %#lx, GSI %u (polled)\n", (unsigned long)dev.base, dev.gsi);
	CHECK(vm_device_features(&dev) & F(VIRTIO_BLK_F_RO), "ro: the second device offers VIRTIO_BLK_F_RO");
	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_RO), true);
	CHECK(f & F(VIRTIO_BLK_F_RO), "ro: RO negotiated");
	memset(readback, 0, SECTOR);
	uint8_t st = do_one(VIRTIO_BLK_T_IN, 3, readback, SECTOR, false, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && vm_config64(&dev, VIRTIO_BLK_CFG_CAPACITY) == capacity,
	      "ro: reads work, same capacity");
	st = do_one(VIRTIO_BLK_T_OUT, 3, mirror, SECTOR, true, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "ro: a write gives IOERR");
	vm_set_status(&dev, 0);
	dev = first;
}

/* ---- the benchmark --------------------------------------------------------------------- */

static uint64_t total_exits(void)
{
	struct hc_exit_stats st;
	rt_hypercall(HC_EXIT_STATS, (uint64_t)&st, sizeof(st), 0);
	return st.total;
}

#define B_DEPTH   32
#define B_BATCHES 16
#define B_ROUNDS  3

static void bench_one(const char *vendor, const char *op, bool evidx, bool kick_each)
{
	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1) | (evidx ? F(VIRTIO_F_EVENT_IDX) : 0), true);
	if (!f)
		return;
	uint64_t best = ~0ull, best_exits = 0, best_irqs = 0, sector = 0;
	seg_bytes = 4096;
	use_indirect = false;
	for (unsigned r = 0; r < B_ROUNDS + 1; r++) {     /* round 0 warms up */
		uint64_t e0 = total_exits(), i0 = irq_used, t0 = rdtsc();
		for (unsigned b = 0; b < B_BATCHES; b++) {
			gvq_interrupts(&q, true, B_DEPTH);
			for (unsigned i = 0; i < B_DEPTH; i++) {
				struct slot *s = slot_get();
				submit(s, VIRTIO_BLK_T_IN, sector, readback + sector * SECTOR, 4096, false);
				sector = (sector + 8) % (capacity & ~7ull);
				if (kick_each)
					kick();
			}
			if (!kick_each)
				kick();
			uint32_t len;
			for (unsigned i = 0; i < B_DEPTH; i++)
				if (!complete_one(&len))
					return;
		}
		uint64_t t = rdtsc() - t0, e = total_exits() - e0 - 1, irqs = irq_used - i0;
		if (r > 0 && t < best) {
			best = t;
			best_exits = e;
			best_irqs = irqs;
		}
	}
	unsigned n = B_BATCHES * B_DEPTH;
	rt_printf("BENCHVBLK %s %s %lu %lu %lu %u\n", vendor, op, (unsigned long)(best / n),
		  (unsigned long)(best_exits * 100 / n), (unsigned long)(best_irqs * 100 / n), khz);
}

static void bench(void)
{
	const char *vendor = rt_is_amd() ? "svm" : "vmx";
	if (capacity < 64) {
		CHECK(false, "bench: a disk of at least 32 KiB");
		return;
	}
	/* one kick per request (what a driver without request batching does),
	 * an interrupt asked for per batch of 32 */
	bench_one(vendor, "vblk_4k", true, true);
	bench_one(vendor, "vblk_4k_noevidx", false, true);
	/* 32 requests, one kick */
	bench_one(vendor, "vblk_4k_batch32", true, false);
	vm_set_status(&dev, 0);
}

/* ---- the test ------------------------------------------------------------------------ */

void guest_main(void)
{
	uint64_t size = 0;
	if (!rt_under_nestor()) {
		rt_printf("vblk: needs Nestor's virtio-blk device; skipped\n");
		return;
	}
	khz = cpuid(0x40000010, 0).eax;
	if (!khz)
		khz = 1000000;
	rt_printf("vblk: command line \"%s\"\n", rt_boot.cmdline ? rt_boot.cmdline : "");
	bool found = rt_boot.cmdline && gvq_find_device(rt_boot.cmdline, 0, &dev, &size);
	CHECK(found, "discovery: virtio_mmio.device= on the command line");
	if (!found)
		return;
	rt_printf("vblk: virtio-mmio at %#lx, %lu bytes, GSI %u\n", (unsigned long)dev.base,
		  (unsigned long)size, dev.gsi);
	CHECK(vm_rd(&dev, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MMIO_MAGIC && vm_rd(&dev, VIRTIO_MMIO_VERSION_REG) == 2 &&
	      vm_rd(&dev, VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_BLOCK,
	      "discovery: magic \"virt\", version 2, device 2 (block)");
	interrupts_on(dev.gsi);

	uint64_t offered = vm_device_features(&dev);
	rt_printf("vblk: device features %#lx\n", (unsigned long)offered);
	CHECK((offered & F(VIRTIO_F_VERSION_1)) && (offered & F(VIRTIO_F_RING_PACKED)) &&
	      (offered & F(VIRTIO_F_EVENT_IDX)) && (offered & F(VIRTIO_F_INDIRECT_DESC)) &&
	      (offered & F(VIRTIO_BLK_F_FLUSH)),
	      "features: VERSION_1, RING_PACKED, EVENT_IDX, INDIRECT_DESC and FLUSH offered");
	vm_set_status(&dev, 0);
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vm_driver_features(&dev, F(VIRTIO_BLK_F_FLUSH));
	vm_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(!(vm_status(&dev) & VIRTIO_STATUS_FEATURES_OK), "features: FEATURES_OK refused without VERSION_1");

	capacity = vm_config64(&dev, VIRTIO_BLK_CFG_CAPACITY);
	rt_printf("vblk: capacity %lu sectors (%lu KiB), seg_max %u, blk_size %u\n", (unsigned long)capacity,
		  (unsigned long)(capacity / 2), vm_rd(&dev, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX),
		  vm_rd(&dev, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE));
	CHECK(capacity > 0 && capacity * SECTOR <= DISK_MAX, "config: capacity between 1 sector and 2 MiB");
	if (capacity == 0 || capacity * SECTOR > DISK_MAX)
		return;

	if (rt_boot.cmdline && strstr(rt_boot.cmdline, "bench")) {
		bench();
		return;
	}

	/* split ring, no EVENT_IDX */
	uint64_t f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_BLK_F_FLUSH), true);
	CHECK(f == (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_BLK_F_FLUSH)),
	      "split: features accepted, queue of 256 ready, DRIVER_OK");
	char id[VIRTIO_BLK_ID_BYTES + 1];
	memset(id, 0, sizeof(id));
	uint32_t len = 0;
	uint8_t st = do_one(VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, false, &len);
	rt_printf("vblk: GET_ID \"%s\"\n", id);
	CHECK(st == VIRTIO_BLK_S_OK && len == VIRTIO_BLK_ID_BYTES + 1 && id[0], "split: GET_ID");
	data_tests("split", 0x13572468, true);
	st = do_one(VIRTIO_BLK_T_IN, capacity, readback, SECTOR, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "split: a read at the capacity gives IOERR");
	st = do_one(VIRTIO_BLK_T_IN, capacity - 1, readback, 2 * SECTOR, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "split: a read across the end of the disk gives IOERR");
	st = do_one(99, 0, NULL, 0, false, NULL);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "split: an unknown request type gives UNSUPP");
	unsigned n = kicks_and_interrupts(16, true, false);
	rt_check(n == 16, "interrupts: without EVENT_IDX, 16 kicks of one request: 16 interrupts", "%u", n);
	n = kicks_and_interrupts(16, false, false);
	rt_check(n == 0, "interrupts: with VIRTQ_AVAIL_F_NO_INTERRUPT: none", "%u", n);

	/* split ring with EVENT_IDX; the disk kept the data over the reset */
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX), true);
	CHECK(f & F(VIRTIO_F_EVENT_IDX), "split+event_idx: EVENT_IDX negotiated");
	data_tests("split+event_idx (after a device reset)", 0, false);
	n = kicks_and_interrupts(16, true, true);
	rt_check(n == 1, "interrupts: with EVENT_IDX, used_event 15 ahead, 16 kicks: 1 interrupt", "%u", n);
	n = kicks_and_interrupts(16, false, false);
	rt_check(n == 0, "interrupts: with EVENT_IDX, used_event far behind: none", "%u", n);

	/* packed ring with EVENT_IDX and indirect tables, a second pattern */
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED) | F(VIRTIO_F_INDIRECT_DESC) |
		     F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_BLK_F_FLUSH), true);
	CHECK((f & F(VIRTIO_F_RING_PACKED)) && q.packed, "packed: RING_PACKED negotiated");
	data_tests("packed", 0x2468ace1, true);
	n = kicks_and_interrupts(16, true, true);
	rt_check(n == 1, "interrupts: packed, driver event on the last slot, 16 kicks: 1 interrupt", "%u", n);
	n = kicks_and_interrupts(16, false, false);
	rt_check(n == 0, "interrupts: packed, driver event DISABLE: none", "%u", n);
	/* packed without EVENT_IDX, ENABLE: one interrupt per kick */
	f = bring_up(F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED), true);
	n = kicks_and_interrupts(16, true, false);
	rt_check(q.packed && n == 16, "interrupts: packed, driver event ENABLE, 16 kicks: 16 interrupts", "%u", n);

	hostile_queue_size();
	hostile_kick_before_driver_ok();
	hostile_beyond_ram();
	hostile_loop();
	hostile_wrong_direction();
	second_device_ro();
	vm_set_status(&dev, 0);
	rt_printf("vblk: %u interrupts (%u used-buffer, %u configuration)\n", irq_total, irq_used, irq_config);
}
