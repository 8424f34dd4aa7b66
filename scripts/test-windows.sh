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
log="$build/wine-suite.log"
: >"$log"
# Appending, as tee does below: the wineserver keeps writing to it.
WINEPREFIX="$prefix" "$wineserver" -p >>"$log" 2>&1
# A test that times out runs once more: on a fresh prefix Wine's wineserver has
# crashed mid-run ("wineserver crashed, please enable coredumps"), hanging the
# test it served (t_scale_wsa; once in six fresh-prefix runs here).
{ (cd "$build" && ctest --output-on-failure -j"$jobs" --repeat after-timeout:2) 2>&1
  echo "ctest status $?"; } | tee -a "$log"
status=$(sed -n 's/^ctest status //p' "$log" | tail -n 1)
# The same crash can also make a test fail rather than hang (seed_echo_wine:
# "server exited early", in a clean-clone CI run).  Only then are the failed
# tests run once more, on a new wineserver; a failure without the crash is not.
if [ "$status" != 0 ] && grep -q "wineserver crashed" "$log"; then
    echo "wineserver crashed during the run: the failed tests run once more on a new wineserver"
    WINEPREFIX="$prefix" "$wineserver" -k 2>/dev/null || true
    WINEPREFIX="$prefix" "$wineserver" -p
    status=0
    (cd "$build" && ctest --output-on-failure --rerun-failed) || status=$?
fi
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
