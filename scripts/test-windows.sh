#!/bin/sh
# Cross-builds netev for Windows with mingw-w64 and runs the test suite under
# Wine (CTest starts each program through scripts/wine-run.sh), then stops this
# build's wineserver rather than leaving it to time out.
#   MINGW_BUILD=build-mingw JOBS=2 sh scripts/test-windows.sh
set -e
build=${MINGW_BUILD:-build-mingw}
jobs=${JOBS:-2}
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    $CMAKE_FLAGS
cmake --build "$build" -j"$jobs"
cache="$build/CMakeCache.txt"
wineserver=$(sed -n 's/^NETEV_WINESERVER:FILEPATH=//p' "$cache")
prefix=$(sed -n 's/^NETEV_WINEPREFIX:PATH=//p' "$cache")
if [ ! -x "$wineserver" ]; then
    echo "wine64 is missing: run scripts/deps.sh" >&2
    exit 1
fi
start=$(date +%s)
status=0
# A wineserver that lingers between tests exits a few seconds after the last
# one; a test starting at that moment fails with "wine client error".  Keep one
# up for the whole run instead (stopped below).
mkdir -p "$prefix"
WINEPREFIX="$prefix" "$wineserver" -p
# A test that times out runs once more: on a fresh prefix Wine's wineserver has
# crashed mid-run ("wineserver crashed, please enable coredumps"), hanging the
# test it served (t_scale_wsa; once in six fresh-prefix runs here).  A test that fails, rather
# than hangs, is not run again.
(cd "$build" && ctest --output-on-failure -j"$jobs" --repeat after-timeout:2) || status=$?
WINEPREFIX="$prefix" "$wineserver" -k 2>/dev/null || true
# Wine processes of this prefix that outlived their wineserver (a server
# killed or crashed earlier) are ours too: stop them by PID (never this
# script or its callers, should they carry the same WINEPREFIX).
mine=" $$ "
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
    mine="$mine$p "
done
for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}
    pid=${pid%/environ}
    case "$mine" in *" $pid "*) continue ;; esac
    # 2>/dev/null comes first: a process may exit between the glob and the read.
    if tr '\0' '\n' 2>/dev/null <"$env" | grep -qx "WINEPREFIX=$prefix"; then
        kill -9 "$pid" 2>/dev/null || true
    fi
done
echo "Windows suite under Wine: $(($(date +%s) - start)) s (prefix $prefix)"
exit $status
