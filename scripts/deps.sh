#!/bin/sh
# Installs what netev needs, if it is missing (Debian/Ubuntu):
#   sh scripts/deps.sh        to build and run (cc, make, cmake)
#   sh scripts/deps.sh test   also to run every test (python3, valgrind, strace,
#                             pkg-config, and for the Windows build under Wine:
#                             gcc-mingw-w64-x86-64, wine64, wine)
set -e
need=""
command -v cmake >/dev/null 2>&1 || need="$need cmake"
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v make >/dev/null 2>&1 || need="$need make"
if [ "${1:-}" = test ]; then
    command -v python3 >/dev/null 2>&1 || need="$need python3"
    command -v valgrind >/dev/null 2>&1 || need="$need valgrind"
    command -v strace >/dev/null 2>&1 || need="$need strace"
    command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
    # Debian's wine64 runs 64-bit programs without the i386 architecture;
    # "wine" adds the /usr/bin/wine launcher.
    command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need="$need gcc-mingw-w64-x86-64"
    [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || need="$need wine64"
    command -v wine >/dev/null 2>&1 || need="$need wine"
elif [ -n "${1:-}" ]; then
    echo "usage: sh scripts/deps.sh [test]" >&2
    exit 2
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "netev needs:$need -- install them with: apt-get install$need" >&2
    exit 1
fi
echo "installing:$need" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
