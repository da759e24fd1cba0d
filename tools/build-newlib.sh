#!/bin/sh
# Build newlib (Debian's newlib-source) as the freestanding kernel's C library.
# Usage: tools/build-newlib.sh OUTDIR   -> OUTDIR/x86_64-elf/{include,lib/libc.a}
# The host gcc and binutils stand in for an x86_64-elf cross toolchain through
# small wrapper scripts: the target is the same ISA, only the environment differs
# (no glibc headers, no red zone because interrupts use the kernel stack, no PIC).
set -eu
out=$(realpath -m "$1")
src=/usr/src/newlib/newlib-3.3.0.tar.xz
[ -f "$out/x86_64-elf/lib/libc.a" ] && exit 0
[ -f "$src" ] || { echo "build-newlib: $src missing (apt-get install newlib-source)" >&2; exit 1; }
work="$out/work"
rm -rf "$work"; mkdir -p "$work/bin"
gccinc=$(gcc -print-file-name=include)
cat > "$work/bin/x86_64-elf-gcc" <<W
#!/bin/sh
exec gcc -nostdinc -isystem $gccinc -ffreestanding -mno-red-zone -fno-pic -fno-stack-protector -mcmodel=small "\$@"
W
chmod +x "$work/bin/x86_64-elf-gcc"
ln -sf "$work/bin/x86_64-elf-gcc" "$work/bin/x86_64-elf-cc"
for t in ar as ld nm objcopy objdump ranlib readelf strip; do ln -sf "$(command -v $t)" "$work/bin/x86_64-elf-$t"; done
tar -C "$work" -xf "$src"
srcdir=$(find "$work" -maxdepth 1 -type d -name 'newlib-*' | head -1)
mkdir -p "$work/build"
cd "$work/build"
PATH="$work/bin:$PATH" "$srcdir/configure" --target=x86_64-elf --prefix="$out" \
  --disable-multilib --disable-newlib-supplied-syscalls --disable-nls \
  --enable-newlib-nano-malloc=no --disable-newlib-io-float >"$work/configure.log" 2>&1 \
  || { tail -30 "$work/configure.log"; exit 1; }
PATH="$work/bin:$PATH" make -j"$(nproc)" all-target-newlib CFLAGS_FOR_TARGET="-O2 -g" >"$work/make.log" 2>&1 \
  || { tail -40 "$work/make.log"; exit 1; }
PATH="$work/bin:$PATH" make install-target-newlib >"$work/install.log" 2>&1 \
  || { tail -20 "$work/install.log"; exit 1; }
rm -rf "$work"
echo "newlib installed in $out"
