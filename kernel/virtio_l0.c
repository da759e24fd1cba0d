/*
 * The kernel side of the virtio devices: disks into L0 memory, MMIO pages
 * and IOAPIC pins, the L0 switch for the network cards, register
 * accesses under each device's lock, the log.  The device
 * logic is in drivers/virtio/ (pure, host-tested); see virtio_l0.h for the
 * guest's view and docs/virtio.md for the whole picture.
 */
#include <stdio.h>
#include <string.h>
#include "kernel/virtio_l0.h"
#include "kernel/vcpu.h"
#include "kernel/boot_modules.h"
#include "kernel/log.h"
#include "drivers/virtio/virtio_blk.h"
#include "drivers/virtio/virtio_console.h"
#include "drivers/virtio/virtio_net.h"
#include "drivers/virtio/virtio_mmio.h"
#include "mm/frame.h"

#define PAGE 4096ull

struct virtio_l0_dev {
	/* The device model; each starts with its struct virtio_dev, so
	 * model.vd is the transport-neutral device whatever the kind. */
	union {
		struct virtio_dev vd;
		struct virtio_blk blk;
		struct virtio_console cons;
		struct virtio_net net;
	} model;
	struct virtio_mmio mmio;    /* its transport                          */
	enum cfg_device_kind kind;
	struct spinlock *lock;      /* the VM's virtio lock, or the switch's  */
	struct vm *vm;
	struct console_line line;   /* virtio-console: its own line in the log */
	unsigned index;
	uint64_t gpa;
	unsigned gsi;
	const char *file;
	uint64_t disk_bytes;
	char name[32];              /* "virtio-blk@0xd0001000"                */
	uint64_t bad_accesses;      /* register accesses the device refused  */
	unsigned log_lines;         /* lines logged for it so far            */
};

struct virtio_l0 {
	struct spinlock lock;
	unsigned count;
	struct virtio_l0_dev dev[VIRTIO_L0_MAX_DEVS];
	char cmdline[CFG_CMDLINE_MAX];
};

/*
 * The L0 switch between all VMs' virtio-net devices, and the one lock for
 * it and for every net device: a frame sent by one VM is written into
 * another VM's receive queue under it, so two VMs sending to each other
 * at once cannot take two device locks in opposite orders.  Order:
 * net_lock -> the receiving VM's dev_lock (its interrupt line).
 */
static struct vnet_switch net_switch;
static struct spinlock net_lock;
static bool net_switch_ready;
static unsigned net_devices_made;   /* for default MACs */

/* The configuration's virtio devices, in order: device i of the VM is the
 * i-th of them (virtio-blk, virtio-console, virtio-net). */
static bool is_virtio(enum cfg_device_kind k)
{
	return k == CFG_DEV_VIRTIO_BLK || k == CFG_DEV_VIRTIO_CONSOLE || k == CFG_DEV_VIRTIO_NET;
}

static unsigned virtio_devices(const struct vm_config *cfg, const struct cfg_device **out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cfg->device_count && i < CFG_MAX_DEVICES; i++)
		if (is_virtio(cfg->devices[i].kind)) {
			if (n < max)
				out[n] = &cfg->devices[i];
			n++;
		}
	return n;
}

void virtio_l0_acpi(const struct vm_config *cfg, struct guest_acpi_cfg *c)
{
	const struct cfg_device *devs[VIRTIO_L0_MAX_DEVS];
	unsigned n = virtio_devices(cfg, devs, VIRTIO_L0_MAX_DEVS);
	if (n > VIRTIO_L0_MAX_DEVS)
		n = VIRTIO_L0_MAX_DEVS;         /* virtio_l0_create refuses the VM */
	for (unsigned i = 0; i < n && c->n_mmio_devs < GUEST_ACPI_MAX_MMIO_DEVS; i++)
		c->mmio_devs[c->n_mmio_devs++] = (struct guest_acpi_mmio_dev){
			.gpa = VIRTIO_L0_BASE + i * VIRTIO_L0_PAGE, .size = VIRTIO_L0_PAGE,
			.gsi = VIRTIO_L0_GSI_BASE + i,
		};
}

/* The device core's log hook: one line per event, with the VM's name.
 * The core already thins out repeated events; a guest that resets the
 * device and breaks it again in a loop still ends up here each time, so
 * each device has a budget of lines. */
#define LOG_LINES_MAX 256

static void dev_log(void *ctx, bool fatal, const char *what, uint64_t value)
{
	struct virtio_l0_dev *d = ctx;
	if (++d->log_lines > LOG_LINES_MAX) {
		if (d->log_lines == LOG_LINES_MAX + 1)
			log_warn("vm %s: %s: %u log lines: quiet from here", d->vm->cfg->name, d->name,
				 LOG_LINES_MAX);
		return;
	}
	if (fatal)
		log_warn("vm %s: %s: %s: DEVICE_NEEDS_RESET (status %#lx)", d->vm->cfg->name, d->name,
			 what, value);
	else
		log_info("vm %s: %s: %s (%#lx)", d->vm->cfg->name, d->name, what, value);
}

/* The transport's interrupt line -> the VM's IOAPIC pin (called under the
 * virtio lock; vm_set_irq takes dev_lock inside it). */
static void dev_set_irq(void *ctx, bool level)
{
	struct virtio_l0_dev *d = ctx;
	vm_set_irq(d->vm, d->gsi, level);
}

static void *alloc_bytes(uint64_t bytes)
{
	uint64_t pa = frame_alloc_pages((bytes + PAGE - 1) / PAGE, 0);
	return pa ? (void *)(uintptr_t)pa : NULL;   /* L0 maps host memory 1:1 */
}

static int create_blk(struct vm *vm, struct virtio_l0_dev *d, const struct cfg_device *c,
		      const struct boot_info *bi)
{
	const char *vmname = vm->cfg->name;
	const struct boot_module *m = boot_module_find(bi, c->arg);
	if (!m) {
		log_err("vm %s: disk %s not loaded", vmname, c->arg);
		return -1;
	}
	/* Whole sectors: a tail shorter than 512 bytes is not part of the disk. */
	uint64_t bytes = m->size & ~(uint64_t)(VIRTIO_BLK_SECTOR - 1);
	if (bytes == 0) {
		log_err("vm %s: disk %s is smaller than one sector (%lu bytes)", vmname, c->arg, m->size);
		return -1;
	}
	uint8_t *disk = alloc_bytes(bytes);
	if (!disk) {
		log_err("vm %s: no memory for the %lu KiB of disk %s", vmname, bytes >> 10, c->arg);
		return -1;
	}
	memcpy(disk, (const void *)(uintptr_t)m->addr, bytes);
	/* GET_ID answers the file name (at most 20 bytes: the field's size). */
	char id[VIRTIO_BLK_ID_BYTES + 1];
	snprintf(id, sizeof(id), "%s", c->arg);
	struct virtio_blk_params p = {
		.mem = &vm->mem, .disk = disk, .disk_bytes = bytes, .read_only = c->read_only,
		.id = id, .ring_features = VIRTIO_RING_FEATURES,
	};
	if (virtio_blk_init(&d->model.blk, &p)) {
		log_err("vm %s: cannot set up virtio-blk for %s", vmname, c->arg);
		return -1;
	}
	d->file = c->arg;
	d->disk_bytes = bytes;
	return 0;
}

/* virtio-console: its lines go to the L0 log as the UART's do
 * ("[vmname] text", kernel/vm.c), assembled apart from the UART's, so a
 * guest writing to both at once never gets the two mixed in one line. */
static void console_output(void *ctx, const char *bytes, size_t len)
{
	struct virtio_l0_dev *d = ctx;
	for (size_t i = 0; i < len; i++)
		vm_console_putc_line(d->vm, &d->line, bytes[i]);
}

static int create_console(struct vm *vm, struct virtio_l0_dev *d)
{
	struct virtio_console_params p = {
		.mem = &vm->mem, .output = console_output, .output_ctx = d,
		.ring_features = VIRTIO_RING_FEATURES,
	};
	if (virtio_console_init(&d->model.cons, &p)) {
		log_err("vm %s: cannot set up virtio-console", vm->cfg->name);
		return -1;
	}
	return 0;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "52:54:00:12:34:56" (checked by the config parser) or "" -> a MAC; the
 * default is locally administered, 52:54:00:4e:53:<n>, n counting the
 * NICs made so far. */
static void mac_from_config(const char *s, uint8_t mac[VNET_ETH_ALEN])
{
	if (s[0] == '\0') {
		static const uint8_t base[VNET_ETH_ALEN - 1] = { 0x52, 0x54, 0x00, 0x4e, 0x53 };
		memcpy(mac, base, sizeof(base));
		mac[VNET_ETH_ALEN - 1] = (uint8_t)(net_devices_made + 1);
		return;
	}
	for (unsigned i = 0; i < VNET_ETH_ALEN; i++)
		mac[i] = (uint8_t)(hex_digit(s[3 * i]) << 4 | hex_digit(s[3 * i + 1]));
}

static int create_net(struct vm *vm, struct virtio_l0_dev *d, const struct cfg_device *c)
{
	struct virtio_net_params p = { .mem = &vm->mem, .sw = &net_switch, .ring_features = VIRTIO_RING_FEATURES };
	mac_from_config(c->arg, p.mac);
	spin_lock(&net_lock);
	if (!net_switch_ready) {
		vnet_switch_init(&net_switch);
		net_switch_ready = true;
	}
	/* Two NICs with one MAC would make the switch's table flap between
	 * their ports: allowed (a configuration may mean it), but said. */
	for (unsigned i = 0; i < net_switch.nports; i++)
		if (memcmp(net_switch.port[i]->mac, p.mac, VNET_ETH_ALEN) == 0)
			log_warn("vm %s: virtio-net MAC %02x:%02x:%02x:%02x:%02x:%02x is also switch port %u's",
				 vm->cfg->name, p.mac[0], p.mac[1], p.mac[2], p.mac[3], p.mac[4], p.mac[5], i);
	int r = virtio_net_init(&d->model.net, &p);
	if (r == 0)
		net_devices_made++;
	spin_unlock(&net_lock);
	if (r) {
		log_err("vm %s: cannot set up virtio-net (at most %u on the switch)", vm->cfg->name,
			VNET_MAX_PORTS);
		return -1;
	}
	d->lock = &net_lock;
	return 0;
}

static const char *kind_name(enum cfg_device_kind k)
{
	return k == CFG_DEV_VIRTIO_BLK ? "virtio-blk" : k == CFG_DEV_VIRTIO_NET ? "virtio-net" : "virtio-console";
}

static int create_device(struct vm *vm, struct virtio_l0_dev *d, const struct cfg_device *c,
			 const struct boot_info *bi)
{
	int r;
	d->kind = c->kind;
	d->lock = &vm->virtio->lock;
	if (c->kind == CFG_DEV_VIRTIO_BLK)
		r = create_blk(vm, d, c, bi);
	else if (c->kind == CFG_DEV_VIRTIO_CONSOLE)
		r = create_console(vm, d);
	else
		r = create_net(vm, d, c);
	if (r)
		return r;
	d->model.vd.log = dev_log;
	d->model.vd.log_ctx = d;
	virtio_mmio_init(&d->mmio, &d->model.vd, dev_set_irq, d);
	return 0;
}

int virtio_l0_create(struct vm *vm, const struct boot_info *bi)
{
	const struct vm_config *cfg = vm->cfg;
	const struct cfg_device *devs[VIRTIO_L0_MAX_DEVS];
	unsigned n = virtio_devices(cfg, devs, VIRTIO_L0_MAX_DEVS);

	if (n == 0)
		return 0;
	if (n > VIRTIO_L0_MAX_DEVS) {
		log_err("vm %s: %u virtio devices, at most %u", cfg->name, n, VIRTIO_L0_MAX_DEVS);
		return -1;
	}
	struct virtio_l0 *vl = alloc_bytes(sizeof(*vl));   /* zeroed */
	if (!vl) {
		log_err("vm %s: no memory for its virtio devices", cfg->name);
		return -1;
	}
	vm->virtio = vl;        /* its lock is the devices' (net: the switch's) */
	int len = snprintf(vl->cmdline, sizeof(vl->cmdline), "%s", cfg->cmdline);
	for (unsigned i = 0; i < n; i++) {
		struct virtio_l0_dev *d = &vl->dev[i];
		d->vm = vm;
		d->index = i;
		d->gpa = VIRTIO_L0_BASE + i * VIRTIO_L0_PAGE;
		d->gsi = VIRTIO_L0_GSI_BASE + i;
		snprintf(d->name, sizeof(d->name), "%s@%#lx", kind_name(devs[i]->kind), d->gpa);
		/* An MMIO page: never mapped by NPT01/EPT01, so every access
		 * exits; overlapping RAM (a VM of more than 3.25 GiB) fails. */
		if (gmem_add(&vm->mem, d->gpa, VIRTIO_L0_PAGE, GMEM_MMIO, 0, i + 1)) {
			log_err("vm %s: cannot place %s in its memory map (RAM there?)", cfg->name, d->name);
			return -1;
		}
		if (create_device(vm, d, devs[i], bi)) {
			vm->virtio = NULL;
			return -1;
		}
		vl->count++;
		/* Linux's form; not for Linux itself, which finds the DSDT entry. */
		if (cfg->format != CFG_FMT_LINUX && len >= 0 && len < (int)sizeof(vl->cmdline))
			len += snprintf(vl->cmdline + len, sizeof(vl->cmdline) - (size_t)len,
					"%svirtio_mmio.device=4K@%#lx:%u", len ? " " : "", d->gpa, d->gsi);
		if (d->kind == CFG_DEV_VIRTIO_BLK) {
			log_info("vm %s: %s: %s, %lu KiB%s, GSI %u", cfg->name, d->name, d->file,
				 d->disk_bytes >> 10, devs[i]->read_only ? " read-only" : "", d->gsi);
		} else if (d->kind == CFG_DEV_VIRTIO_NET) {
			const uint8_t *m = d->model.net.port.mac;
			log_info("vm %s: %s: MAC %02x:%02x:%02x:%02x:%02x:%02x, switch port %u, MTU %u, GSI %u",
				 cfg->name, d->name, m[0], m[1], m[2], m[3], m[4], m[5], d->model.net.port.index,
				 VNET_MTU, d->gsi);
		} else {
			log_info("vm %s: %s: console, GSI %u", cfg->name, d->name, d->gsi);
		}
	}
	if (len < 0 || len >= (int)sizeof(vl->cmdline)) {
		log_err("vm %s: command line with the virtio_mmio.device= parameters longer than %u bytes",
			cfg->name, CFG_CMDLINE_MAX - 1);
		vm->virtio = NULL;
		return -1;
	}
	return 0;
}

const char *virtio_l0_cmdline(const struct vm *vm)
{
	return vm->virtio ? vm->virtio->cmdline : vm->cfg->cmdline;
}

/* Device i has work left (or not): its bit in vm->virtio_pending, the
 * run loop's cheap test.  Called under the device's lock, so that a set
 * by one vCPU's kick and a clear by another's poll cannot cross. */
static void note_pending(struct vm *vm, const struct virtio_l0_dev *d)
{
	if (d->model.vd.work_pending)
		__atomic_or_fetch(&vm->virtio_pending, 1u << d->index, __ATOMIC_RELEASE);
	else
		__atomic_and_fetch(&vm->virtio_pending, ~(1u << d->index), __ATOMIC_RELEASE);
}

int virtio_l0_mmio(struct vm *vm, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	struct virtio_l0 *vl = vm->virtio;
	if (!vl || gpa < VIRTIO_L0_BASE || gpa >= VIRTIO_L0_BASE + vl->count * VIRTIO_L0_PAGE)
		return -1;
	struct virtio_l0_dev *d = &vl->dev[(gpa - VIRTIO_L0_BASE) / VIRTIO_L0_PAGE];
	uint32_t off = (uint32_t)(gpa & (VIRTIO_L0_PAGE - 1)), v32 = (uint32_t)*val;
	int r;
	spin_lock(d->lock);
	if (write) {
		r = virtio_mmio_write(&d->mmio, off, size, v32);
		note_pending(vm, d);    /* a kick may have left work */
	} else {
		r = virtio_mmio_read(&d->mmio, off, size, &v32);
	}
	uint64_t bad = r ? ++d->bad_accesses : 0;
	spin_unlock(d->lock);
	if (!write)
		*val = v32;             /* 0 for what the device refused */
	/* 1st, 2nd, 4th, 8th...: a guest repeating a mistake cannot flood. */
	if (bad && (bad & (bad - 1)) == 0)
		log_info("vm %s: %s: %u-byte %s at offset %#x ignored (%lu so far)", vm->cfg->name, d->name,
			 size, write ? "write" : "read", off, bad);
	return 0;
}

void virtio_l0_poll(struct vm *vm)
{
	struct virtio_l0 *vl = vm->virtio;
	if (!vl)
		return;
	for (unsigned i = 0; i < vl->count; i++) {
		struct virtio_l0_dev *d = &vl->dev[i];
		if (!(vm->virtio_pending & (1u << i)))
			continue;
		spin_lock(d->lock);
		virtio_dev_poll(&d->model.vd);
		note_pending(vm, d);
		spin_unlock(d->lock);
	}
}

void virtio_l0_vm_ended(struct vm *vm)
{
	struct virtio_l0 *vl = vm->virtio;
	for (unsigned i = 0; vl && i < vl->count; i++)
		if (vl->dev[i].kind == CFG_DEV_VIRTIO_NET) {
			spin_lock(&net_lock);
			vnet_switch_port_down(&net_switch, vl->dev[i].model.net.port.index);
			spin_unlock(&net_lock);
		}
}

void virtio_l0_report(const struct vm *vm)
{
	const struct virtio_l0 *vl = vm->virtio;
	for (unsigned i = 0; vl && i < vl->count; i++) {
		const struct virtio_l0_dev *d = &vl->dev[i];
		const struct virtio_dev *vd = &d->model.vd;
		if (d->kind == CFG_DEV_VIRTIO_BLK) {
			const struct virtio_blk *b = &d->model.blk;
			kprint("vm %s: %s: %lu kicks (%lu ignored), %lu interrupts, %lu requests "
			       "(%lu KiB read, %lu KiB written, %lu IOERR, %lu UNSUPP), status %#x\n",
			       vm->cfg->name, d->name, vd->kicks, vd->kicks_ignored, vd->interrupts,
			       b->requests, b->bytes_read >> 10, b->bytes_written >> 10, b->ioerr, b->unsupp,
			       vd->status);
		} else if (d->kind == CFG_DEV_VIRTIO_CONSOLE) {
			const struct virtio_console *c = &d->model.cons;
			kprint("vm %s: %s: %lu kicks (%lu ignored), %lu interrupts, %lu chains, %lu bytes "
			       "(%lu dropped, %lu writable chains), status %#x\n",
			       vm->cfg->name, d->name, vd->kicks, vd->kicks_ignored, vd->interrupts, c->chains,
			       c->bytes, c->bytes_dropped, c->writable_chains, vd->status);
		} else {
			/* Read without the switch lock: a snapshot of counters. */
			const struct virtio_net *n = &d->model.net;
			const struct vnet_port *p = &n->port;
			kprint("vm %s: %s: %lu kicks (%lu ignored), %lu interrupts, %lu frames sent, %lu received "
			       "(%lu KiB in, %lu KiB out); dropped: %lu no receive buffer, %lu refused, "
			       "%lu bad length, %lu writable tx, %lu offload; status %#x\n",
			       vm->cfg->name, d->name, vd->kicks, vd->kicks_ignored, vd->interrupts, n->tx_frames,
			       n->rx_frames, p->rx_bytes >> 10, p->tx_bytes >> 10, p->rx_no_buffer, p->rx_refused,
			       n->tx_bad_length, n->tx_bad_direction, n->tx_bad_offload, vd->status);
		}
	}
}
