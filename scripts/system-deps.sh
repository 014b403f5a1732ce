#!/usr/bin/env bash
# Installs the Debian (bookworm) packages that the system tests need, and nothing else.
#
#   bash scripts/system-deps.sh [--check] [--vpp]
#
# --vpp: also what the real-VPP suite (npm run test:vpp) needs beyond npm test: tcpdump to see on
# which pod interface service traffic arrives.
#
# * Idempotent and quick when everything is present: a package counts as present when dpkg says
#   "install ok installed" AND the file the tests actually use exists (so a half-removed package
#   or a missing PMD .so is still caught).
# * As root: runs `apt-get update` only when something is missing, then installs the missing
#   packages non-interactively without recommends.
# * Not root (or --check): prints exactly which packages are missing and the command to install
#   them, and exits 1. Exits 0 when all are present.
set -euo pipefail

check_only=0
vpp=0
for a in "$@"; do
  case $a in
    --check) check_only=1 ;;
    --vpp) vpp=1 ;;
    *) echo "system-deps: unknown option $a (expected --check, --vpp)" >&2; exit 2 ;;
  esac
done

# package | file that proves the package is usable ("-" = dpkg status alone)
#   dpdk-dev      ships /usr/bin/dpdk-testpmd on bookworm (dpdk itself ships only the *.py helpers)
#   dpdk          the EAL runtime libraries and the PMD plugin dir layout
#   librte-net-memif23  the memif poll-mode driver that EAL auto-loads from the plugin dir
#   etcd-server / etcd-client  etcd and etcdctl for the CNI/KSR tests
#   iproute2      `ip -j` as the independent reader of what the rtnetlink code did (the product runs no ip)
#   linux-libc-dev / libc6-dev  the kernel's and glibc's headers: the netlink layout table is checked against them
#   containernetworking-plugins  the reference CNI plugins (/usr/lib/cni) for the CNI tests
#   containerd / runc  the container runtime that drives tsvpp-cni in the CRI tests (and runs the agent image)
#   busybox-static  the one binary of the CRI tests' sandbox image
#   nftables      nft, for the agent's masquerade table (cluster networking) and its tests
#   iputils-ping  ping across a tc redirect (cni-linux-tc) and, on real VPP, between pods and VPP
DEPS=(
  "dpdk-dev|/usr/bin/dpdk-testpmd"
  "dpdk|-"
  "librte-net-memif23|/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0/librte_net_memif.so.23"
  "etcd-server|/usr/bin/etcd"
  "etcd-client|/usr/bin/etcdctl"
  "iproute2|/usr/sbin/ip"
  "linux-libc-dev|/usr/include/linux/rtnetlink.h"
  "libc6-dev|/usr/include/x86_64-linux-gnu/bits/socket.h"
  "containernetworking-plugins|/usr/lib/cni/bridge"
  "containerd|/usr/bin/containerd"
  "runc|/usr/sbin/runc"
  "busybox-static|/bin/busybox"
  "nftables|/usr/sbin/nft"
  "iputils-ping|/usr/bin/ping"
)
((vpp)) && DEPS+=("tcpdump|/usr/bin/tcpdump")

# The PMD path above is the amd64 one; on other architectures fall back to dpkg status only.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

missing=()
for entry in "${DEPS[@]}"; do
  pkg=${entry%%|*}
  file=${entry#*|}
  file=${file//x86_64-linux-gnu/$multiarch}
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]] || { [[ "$file" != "-" ]] && [[ ! -e "$file" ]]; }; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "system-deps: all present (${#DEPS[@]} packages)"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if ((check_only)) || [[ "$(id -u)" != 0 ]]; then
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: install them as root with:" >&2
  echo "  $cmd" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
# Another process (a parallel job, unattended-upgrades) may hold the dpkg lock: wait for it
# rather than failing at once.
lock=(-o DPkg::Lock::Timeout=300)
apt-get "${lock[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}"

# Re-check, so a package whose name resolved but whose key file is still absent fails here,
# not later inside a test.
still=()
for entry in "${DEPS[@]}"; do
  pkg=${entry%%|*}
  file=${entry#*|}
  file=${file//x86_64-linux-gnu/$multiarch}
  if [[ "$file" != "-" ]] && [[ ! -e "$file" ]]; then still+=("$pkg ($file)"); fi
done
if ((${#still[@]})); then
  echo "system-deps: installed, but these files are still missing: ${still[*]}" >&2
  exit 1
fi
echo "system-deps: done"
