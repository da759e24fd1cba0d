#!/bin/sh
# Fetch the Linux guest's binaries from Debian into a cache (docs/linux-guests.md):
#   OUT/vmlinuz          the kernel of linux-image-<version>-cloud-amd64
#   OUT/kernel-version   which package it came from
#   OUT/busybox          /bin/busybox of busybox-static
#   OUT/modules/         the kernel's modules (lib/modules/<version>/ of the
#                        same package), for mkinitramfs.py --load
# The .deb files stay in OUT/debs.  Idempotent, and offline once cached:
# when both files exist nothing is asked of apt; when the .debs are in
# OUT/debs they are only unpacked again.  The kernel package is the one
# Debian's meta-package linux-image-cloud-amd64 depends on today, unless
# LINUX_GUEST_PKG names one (e.g. linux-image-6.1.0-57-cloud-amd64).
set -eu
out=${1:?usage: fetch.sh OUTDIR}
mkdir -p "$out/debs"
[ -s "$out/vmlinuz" ] && [ -s "$out/busybox" ] && [ -s "$out/kernel-version" ] &&
	[ -e "$out/modules/modules.builtin" ] && exit 0

# The .deb of a package in the cache, if any.
cached() { ls "$out/debs/$1"_*.deb 2>/dev/null | head -n 1; }

# Resolve and download a package unless a .deb of it is cached.
fetch() {
	[ -n "$(cached "$1")" ] && return 0
	echo "linux-guest: apt-get download $1"
	(cd "$out/debs" && apt-get download "$1" >download.log 2>&1) || {
		cat "$out/debs/download.log" >&2
		echo "linux-guest: cannot download $1 (offline? run 'apt-get update' as root)" >&2
		exit 1
	}
}

pkg=${LINUX_GUEST_PKG:-}
if [ -z "$pkg" ]; then
	# A cached kernel package wins: offline runs keep working.
	deb=$(ls "$out"/debs/linux-image-*-cloud-amd64_*.deb 2>/dev/null | sort | tail -n 1)
	if [ -n "$deb" ]; then
		pkg=$(basename "$deb" | sed 's/_.*//')
	else
		resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n 1; }
		pkg=$(resolve)
		if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
			apt-get update -q >/dev/null 2>&1 || true
			pkg=$(resolve)
		fi
		[ -n "$pkg" ] || { echo "linux-guest: apt-cache knows no linux-image-cloud-amd64" >&2; exit 1; }
	fi
fi
fetch "$pkg"
fetch busybox-static

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$(cached "$pkg")" "$tmp/k"
dpkg-deb -x "$(cached busybox-static)" "$tmp/b"
cp "$(ls "$tmp"/k/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz.new"
cp "$tmp/b/bin/busybox" "$out/busybox.new"
rm -rf "$out/modules"
mv "$(ls -d "$tmp"/k/lib/modules/* | head -n 1)" "$out/modules"
mv "$out/vmlinuz.new" "$out/vmlinuz"
mv "$out/busybox.new" "$out/busybox"
echo "$pkg $(basename "$(ls "$tmp"/k/boot/vmlinuz-*)")" >"$out/kernel-version"
echo "linux-guest: $(cat "$out/kernel-version"), busybox $(basename "$(cached busybox-static)")"
