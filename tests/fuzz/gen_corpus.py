#!/usr/bin/env python3
"""Write the seed corpora for the libFuzzer targets in tests/fuzz/.

    python3 tests/fuzz/gen_corpus.py      # from the repository root

Each seed is a small, valid input in the target's layout (see the comment at
the top of each fuzz_*.c), so the fuzzer starts from structures a real loader
would produce (GRUB for MB2, QEMU -kernel for MB1, a PC E820 map) and mutates
from there.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


PC_E820 = [
    (0x0, 0x9fc00, 1),
    (0x9fc00, 0x400, 2),
    (0xf0000, 0x10000, 2),
    (0x100000, 0x7ee0000, 1),
    (0x7fe0000, 0x20000, 3),
    (0xfeffc000, 0x4000, 2),
    (0xfffc0000, 0x40000, 2),
]

# --- Multiboot2 (spec 1.6, 3.6) ----------------------------------------------


def tag(t, payload):
    body = struct.pack("<II", t, 8 + len(payload)) + payload
    return body + b"\0" * (-len(body) % 8)


def mb2(tags):
    body = b"".join(tags) + struct.pack("<II", 0, 8)
    return struct.pack("<II", 8 + len(body), 0) + body


def mmap_tag(entries, esz=24):
    payload = struct.pack("<II", esz, 0)
    for base, length, typ in entries:
        e = struct.pack("<QQII", base, length, typ, 0)
        payload += e + b"\0" * (esz - len(e))
    return tag(6, payload)


def module_tag(start, end, s):
    return tag(3, struct.pack("<II", start, end) + s + b"\0")


rsdp_v1 = b"RSD PTR " + bytes(12)
rsdp_v2 = b"RSD PTR " + bytes(28)

write("mb2", "grub_full", mb2([
    tag(1, b"console=com1 trace=on\0"),
    tag(2, b"GRUB 2.06\0"),
    tag(4, struct.pack("<II", 639, 130048)),
    module_tag(0x200000, 0x280000, b"/boot/guest.elf root=/dev/vda"),
    module_tag(0x300000, 0x300100, b"nestor.cfg"),
    mmap_tag(PC_E820),
    tag(14, rsdp_v1),
    tag(15, rsdp_v2),
]))
write("mb2", "minimal", mb2([mmap_tag([(0, 0x100000, 1)])]))
write("mb2", "basic_meminfo_only", mb2([tag(4, struct.pack("<II", 639, 64 * 1024))]))
write("mb2", "big_entries", mb2([mmap_tag(PC_E820, esz=32), tag(21, struct.pack("<I", 0x100000))]))

# --- Multiboot1 (spec 0.6.96, 3.3) -------------------------------------------
# Fake physical memory from 0; bytes 0..3 are info_phys as well.


def mb1(flags, cmdline=None, loader=None, mods=(), mmap=(), mem=(639, 130048)):
    mem_img = bytearray(0x400)
    info = 0x10
    struct.pack_into("<I", mem_img, 0, info)
    struct.pack_into("<III", mem_img, info, flags, mem[0], mem[1])
    strings = 0x60

    def put_str(s):
        nonlocal strings
        at = strings
        mem_img[at:at + len(s) + 1] = s + b"\0"
        strings += len(s) + 1
        return at

    if cmdline is not None:
        struct.pack_into("<I", mem_img, info + 16, put_str(cmdline))
    if loader is not None:
        struct.pack_into("<I", mem_img, info + 64, put_str(loader))
    mods_at = 0x180
    for i, (start, end, s) in enumerate(mods):
        struct.pack_into("<IIII", mem_img, mods_at + 16 * i, start, end, put_str(s), 0)
    struct.pack_into("<II", mem_img, info + 20, len(mods), mods_at)
    mmap_at = 0x200
    off = mmap_at
    for base, length, typ in mmap:
        struct.pack_into("<IQQI", mem_img, off, 20, base, length, typ)
        off += 24
    struct.pack_into("<II", mem_img, info + 44, off - mmap_at, mmap_at)
    return bytes(mem_img[:max(off, 0x200)])


write("mb1", "qemu_kernel", mb1((1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9),
                                cmdline=b"/boot/nestor.elf log=debug", loader=b"qemu",
                                mods=[(0x100000, 0x180000, b"/images/guest.elf x"),
                                      (0x180000, 0x180200, b"nestor.cfg")],
                                mmap=PC_E820))
write("mb1", "mem_only", mb1(1 << 0))
write("mb1", "mmap_only", mb1(1 << 6, mmap=PC_E820[:3]))

# --- memmap -------------------------------------------------------------------
# byte 0: number of trailing records that are reservations; then 24-byte records


def memmap(regions, reserves):
    recs = [struct.pack("<QQII", b, l, t, 0) for b, l, t in regions]
    recs += [struct.pack("<QQII", b, l, 0, 0) for b, l in reserves]
    return bytes([len(reserves)]) + b"".join(recs)


write("memmap", "pc", memmap(PC_E820, [(0x100000, 0x123456), (0x200000, 0x80000)]))
write("memmap", "overlaps", memmap([
    (0, 0x10000, 1), (0x4100, 0x100, 2), (0x8000, 0x10000, 3), (0x3000, 0x800, 5),
    (0xfffffffffffff000, 0xfff, 1), (0x800, 0x800, 1),
], [(0x2000, 0x1001)]))
write("memmap", "unsorted", memmap([(0x3000, 0x1000, 1), (0x1000, 0x1000, 1), (0x2000, 0x1000, 1)], []))

# --- guest_load: a Linux bzImage (protocol 2.15 setup header, 64-bit entry)
# small enough for the fuzzer's 2 MiB guest RAM: pref_address 1 MiB,
# init_size 512 KiB, two setup sectors, a 1 KiB kernel.


def bzimage():
    setup_sects, ksize = 2, 1024
    img = bytearray((setup_sects + 1) * 512 + ksize)
    img[0x1f1] = setup_sects
    struct.pack_into("<I", img, 0x1f4, ksize // 16)
    struct.pack_into("<H", img, 0x1fe, 0xaa55)
    img[0x200:0x202] = bytes([0xeb, 0x6a])
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020f)
    img[0x211] = 0x01
    struct.pack_into("<II", img, 0x22c, 0x7fffffff, 0x100000)
    img[0x234] = 1
    struct.pack_into("<HI", img, 0x236, 0x7f, 2047)
    struct.pack_into("<QI", img, 0x258, 0x100000, 0x80000)
    return bytes(img)


write("guest_load", "bzimage", bzimage())
