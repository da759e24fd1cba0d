#!/usr/bin/env python3
"""Build the Linux test guest's initramfs: a cpio archive in the "newc"
format (Linux Documentation/driver-api/early-userspace/buffer-format.rst)
holding busybox (from Debian's busybox-static) with a symlink per applet,
/init (tools/linux-guest/init), /bin/nestor-exit and /dev/console.

    mkinitramfs.py OUT.cpio BUSYBOX INIT NESTOR_EXIT

Written directly rather than by cpio(1): the device node /dev/console
(which the kernel opens as init's stdin/stdout before init runs) needs no
root rights this way, and the archive is byte-for-byte reproducible
(fixed inode numbers, owners and times).  Uncompressed: the kernel then
has nothing to inflate, which under an emulator is time saved.
"""
import os
import subprocess
import sys


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


def main():
    out, busybox, init, nexit = sys.argv[1:5]
    dirs = ["bin", "dev", "etc", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin"]
    entries = [(d, DIR, b"", 0, 0) for d in dirs]
    entries.append(("dev/console", CHR, b"", 5, 1))
    entries.append(("bin/busybox", FILE, open(busybox, "rb").read(), 0, 0))
    for path in applets(busybox):
        if path != "bin/busybox" and os.path.dirname(path) in dirs:
            entries.append((path, LINK, b"/bin/busybox", 0, 0))
    entries.append(("bin/nestor-exit", FILE, open(nexit, "rb").read(), 0, 0))
    entries.append(("init", FILE, open(init, "rb").read(), 0, 0))
    data = newc(entries)
    with open(out + ".new", "wb") as fh:
        fh.write(data)
    os.replace(out + ".new", out)
    print(f"linux-guest: {out}: {len(entries)} entries, {len(data)} bytes")


if __name__ == "__main__":
    main()
