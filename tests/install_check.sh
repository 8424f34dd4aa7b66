#!/bin/sh
# `cmake --install` gives a usable library: headers, static and shared
# libraries and netev.pc, enough to build the README's example with pkg-config.
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in include/netev.h lib/libnetev.a lib/pkgconfig/netev.pc; do
    [ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$tmp"/prefix/lib/libnetev.so* >/dev/null || { echo "FAIL: shared library not installed"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc -o "$tmp/example" "$src/examples/readme_echo.c" $(pkg-config --cflags --libs netev) -Wl,-rpath,"$tmp/prefix/lib"
cc -o "$tmp/example_static" "$src/examples/readme_echo.c" $(pkg-config --cflags netev) "$tmp/prefix/lib/libnetev.a"
echo "installed and linked: $(pkg-config --modversion netev)"
