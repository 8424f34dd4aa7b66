#!/bin/sh
# Runs a cross-built Windows program under Wine for CTest (CMAKE_CROSSCOMPILING_EMULATOR).
#   wine-run.sh WINE WINESERVER PREFIX PROGRAM [ARGS...]
# (CMake passes the first three: use ${CMAKE_CROSSCOMPILING_EMULATOR} as a
# prefix to run any cross-built program, e.g. from a Python test driver.)
# One prefix serves the whole test run: the first caller initialises it
# (wineboot, ~10 s once) under a lock while the others wait; afterwards a test
# starts in tens of milliseconds because the wineserver stays up between
# tests (it exits by itself a few seconds after the last one).
#
# The program's output goes through a file: the wineserver and Wine's service
# processes, started by whichever test came first, inherit its standard output,
# and CTest would wait for them to close a pipe (seconds per test).
set -e
wine=$1 wineserver=$2 prefix=$3
shift 3
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINESERVER="$wineserver"
unset DISPLAY WAYLAND_DISPLAY
if [ ! -f "$prefix/.netev-ready" ]; then
    mkdir -p "$(dirname "$prefix")"
    (
        flock 9
        if [ ! -f "$prefix/.netev-ready" ]; then
            # 9>&-: Wine's daemons, started here, must not inherit the lock
            # (they live as long as the wineserver, and the lock with them).
            "$wine" wineboot --init 9>&- >"$prefix.log" 2>&1 || { cat "$prefix.log" >&2; exit 1; }
            touch "$prefix/.netev-ready"
        fi
    ) 9>"$prefix.lock"
fi
# For servers that a test driver starts and stops by PID: NETEV_WINE_EXEC=1
# makes this process become the Windows program (SIGTERM ends it).  Wine's
# daemons are started first by a no-op program with no inherited output.
if [ -n "$NETEV_WINE_EXEC" ]; then
    "$wine" cmd.exe /c exit </dev/null >/dev/null 2>&1 || true
    exec "$wine" "$@"
fi
out=$(mktemp -p "$(dirname "$prefix")")
status=0
"$wine" "$@" </dev/null >"$out" 2>&1 || status=$?
cat "$out"
rm -f "$out"
exit $status
