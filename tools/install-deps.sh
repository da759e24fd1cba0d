#!/bin/sh
# Make sure the Debian packages Nestor's build and tests need are present.
# As root it installs what is missing (apt-get); otherwise it names them in
# one message and fails.  Called by make before anything else (stamp file).
set -eu
# package : a file that proves it is installed
need="
qemu-system-x86:/usr/bin/qemu-system-x86_64
ovmf:/usr/share/OVMF/OVMF_CODE.fd
gnu-efi:/usr/lib/crt0-efi-x86_64.o
bochs:/usr/bin/bochs
bochsbios:/usr/share/bochs/BIOS-bochs-latest
vgabios:/usr/share/vgabios/vgabios.bin
grub-pc-bin:/usr/lib/grub/i386-pc/multiboot2.mod
grub-common:/usr/bin/grub-mkrescue
xorriso:/usr/bin/xorriso
mtools:/usr/bin/mcopy
newlib-source:/usr/src/newlib/newlib-3.3.0.tar.xz
libcmocka-dev:/usr/include/cmocka.h
clang:/usr/bin/clang
libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
gcc:/usr/bin/gcc
make:/usr/bin/make
python3:/usr/bin/python3
dpkg:/usr/bin/dpkg-deb
"
missing=""
for entry in $need; do
	pkg=${entry%%:*}; file=${entry#*:}
	[ -e "$file" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null
	exit 0
fi
echo "install-deps: missing Debian packages:$missing" >&2
echo "install-deps: run as root: apt-get install$missing" >&2
exit 1
