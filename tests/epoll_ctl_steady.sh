#!/bin/sh
# A steady echo workload makes no epoll_ctl calls: the count for 20,000 round
# trips must equal the count for 10 (registrations and removals only).
set -eu
pingpong=$1
count() {
    strace -f -qq -e trace=epoll_ctl -o "$tmp" env NETEV_BACKEND=epoll "$pingpong" "$1" >/dev/null
    grep -c epoll_ctl "$tmp" || true
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
few=$(count 10)
many=$(count 20000)
echo "epoll_ctl calls: $few for 10 round trips, $many for 20000"
[ "$few" -gt 0 ] || { echo "FAIL: no epoll_ctl at all: is strace tracing the right program?"; exit 1; }
[ "$few" = "$many" ] || { echo "FAIL: epoll_ctl count grows with traffic"; exit 1; }
