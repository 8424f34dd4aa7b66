#!/bin/sh
# Installs what `make bench` needs beyond the build (Debian/Ubuntu): the
# libraries of the benchmark peers, gnuplot for the plot, pkg-config to find
# the libraries, taskset to pin processes.  The main build never needs them.
set -e
need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
command -v taskset >/dev/null 2>&1 || need="$need util-linux"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if command -v dpkg-query >/dev/null 2>&1; then
  for p in libuv1-dev libevent-dev libev-dev liburing-dev; do
    have_pkg "$p" || need="$need $p"
  done
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "make bench needs:$need -- install them with: apt-get install$need" >&2
  exit 1
fi
echo "installing:$need" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
