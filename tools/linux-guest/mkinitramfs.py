#!/usr/bin/env python3
"""Build the Linux test guest's initramfs: a cpio archive in the "newc"
format (Linux Documentation/driver-api/early-userspace/buffer-format.rst)
holding busybox (from Debian's busybox-static) with a symlink per applet,
/init (tools/linux-guest/init), /bin/nestor-exit and /dev/console, and
optionally more programs and kernel modules:

    mkinitramfs.py OUT.cpio BUSYBOX INIT NESTOR_EXIT
                   [--bin PROGRAM]... [--modules DIR --load NAME[:PARAMS]]...

--load kvm_amd:nested=1 puts kvm_amd.ko into /lib/modules with every module
it depends on (the "depends=" of each module's .modinfo section, since
Debian's package has no modules.dep), decompressed if it is a .ko.xz or
.ko.gz (busybox insmod loads plain ELF), and writes /etc/modules.load:
one "NAME PARAMS" line per module, dependencies first.  /init loads them
in that order with insmod.

Written directly rather than by cpio(1): the device node /dev/console
(which the kernel opens as init's stdin/stdout before init runs) needs no
root rights this way, and the archive is byte-for-byte reproducible
(fixed inode numbers, owners and times).  Uncompressed: the kernel then
has nothing to inflate, which under an emulator is time saved.
"""
import argparse
import gzip
import lzma
import os
import struct
import subprocess


def newc(entries):
    """entries: (name, mode, data, rdev_major, rdev_minor) -> archive bytes."""
    out = bytearray()

    def pad4():
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data, rmaj, rmin) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
        nb = name.encode() + b"\0"
        fields = [ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(nb), 0]
        out.extend(b"070701" + b"".join(b"%08x" % f for f in fields))
        out.extend(nb)
        pad4()
        out.extend(data)
        pad4()
    return bytes(out)


DIR, FILE, LINK, CHR = 0o040755, 0o100755, 0o120777, 0o020600


def applets(busybox):
    """The applets' install paths (bin/sh, usr/bin/awk, ...), asked of the
    busybox binary itself (a static x86-64 program, runs on the host)."""
    r = subprocess.run([busybox, "--list-full"], stdout=subprocess.PIPE, check=True, text=True)
    return sorted(set(p.strip().lstrip("/") for p in r.stdout.split() if p.strip()))


def modinfo(elf):
    """The key=value strings of a module's .modinfo section (ELF64 LE)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ValueError("not an ELF64 module")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)
    sections = [struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = sections[shstrndx][4]
    for name_off, _type, _flags, _addr, off, size in sections:
        name = elf[strtab_off + name_off:elf.index(b"\0", strtab_off + name_off)]
        if name == b".modinfo":
            return [kv.decode(errors="replace") for kv in elf[off:off + size].split(b"\0") if kv]
    return []


def module_index(moddir):
    """Module name (dashes as underscores, as the kernel names them) ->
    path, for every .ko, .ko.xz and .ko.gz under moddir."""
    index = {}
    for dirpath, _dirs, files in os.walk(moddir):
        for f in files:
            for ext in (".ko", ".ko.xz", ".ko.gz"):
                if f.endswith(ext):
                    index[f[:-len(ext)].replace("-", "_")] = os.path.join(dirpath, f)
    return index


def read_module(path):
    data = open(path, "rb").read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    return data


def modules_in_load_order(moddir, wanted):
    """wanted: [(name, params)] -> [(name, params, ELF bytes)], every
    dependency before the modules that need it, each module once."""
    index = module_index(moddir)
    order, seen = [], {}

    def visit(name, params, path):
        if name in seen:
            return
        if name not in index:
            raise SystemExit(f"mkinitramfs: module {name} not in {moddir}" + (f" (needed by {path[-1]})" if path else ""))
        elf = read_module(index[name])
        seen[name] = True
        for kv in modinfo(elf):
            if kv.startswith("depends="):
                for dep in filter(None, kv[len("depends="):].split(",")):
                    visit(dep.replace("-", "_"), "", path + [name])
        order.append((name, params, elf))

    for name, params in wanted:
        visit(name.replace("-", "_"), params, [])
    return order


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("busybox")
    ap.add_argument("init")
    ap.add_argument("nestor_exit")
    ap.add_argument("--bin", action="append", default=[], help="a program for /bin")
    ap.add_argument("--modules", help="the kernel's lib/modules/<version> directory")
    ap.add_argument("--load", action="append", default=[], help="NAME[:PARAMS], e.g. kvm_amd:nested=1")
    a = ap.parse_args()
    out, busybox, init, nexit = a.out, a.busybox, a.init, a.nestor_exit
    dirs = ["bin", "dev", "etc", "lib", "lib/modules", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin",
            "usr/sbin"]
    entries = [(d, DIR, b"", 0, 0) for d in dirs]
    entries.append(("dev/console", CHR, b"", 5, 1))
    entries.append(("bin/busybox", FILE, open(busybox, "rb").read(), 0, 0))
    for path in applets(busybox):
        if path != "bin/busybox" and os.path.dirname(path) in dirs:
            entries.append((path, LINK, b"/bin/busybox", 0, 0))
    entries.append(("bin/nestor-exit", FILE, open(nexit, "rb").read(), 0, 0))
    for prog in a.bin:
        entries.append(("bin/" + os.path.basename(prog), FILE, open(prog, "rb").read(), 0, 0))
    if a.load:
        if not a.modules:
            raise SystemExit("mkinitramfs: --load needs --modules DIR")
        wanted = [(w.split(":", 1)[0], w.split(":", 1)[1] if ":" in w else "") for w in a.load]
        load = []
        for name, params, elf in modules_in_load_order(a.modules, wanted):
            entries.append((f"lib/modules/{name}.ko", FILE & ~0o111, elf, 0, 0))
            load.append(f"{name} {params}".rstrip())
        entries.append(("etc/modules.load", FILE & ~0o111, ("\n".join(load) + "\n").encode(), 0, 0))
    entries.append(("init", FILE, open(init, "rb").read(), 0, 0))
    data = newc(entries)
    with open(out + ".new", "wb") as fh:
        fh.write(data)
    os.replace(out + ".new", out)
    print(f"linux-guest: {out}: {len(entries)} entries, {len(data)} bytes")


if __name__ == "__main__":
    main()
