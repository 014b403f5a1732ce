#!/usr/bin/env bash
# Runs VPP instances as test peers for `npm run test:vpp`, without hugepages or DPDK (root).
#
#   scripts/vpp-peer.sh check PREFIX
#   scripts/vpp-peer.sh start PREFIX NAME [--netns NS] [--poll-sleep-usec N] [--workers N]
#   scripts/vpp-peer.sh stop  PREFIX NAME
#   scripts/vpp-peer.sh cli   PREFIX NAME COMMAND...
#
# PREFIX is a VPP install (PREFIX/bin/vpp, its plugins, PREFIX/share/vpp/api). This script does not
# build VPP: build it from FD.io's source with FD.io's own build documentation; docs/vpp.md says
# which plugins the project needs. `check` names exactly what an install lacks.
#
# start: an instance with its own runtime dir ($TSVPP_VPP_RUN_DIR/NAME, default /run/tsvpp-vpp/NAME)
#   holding startup.conf, api.sock, cli.sock, stats.sock, memif.sock (VPP puts memif socket id 0,
#   "memif.sock", in its runtime dir), vpp.log
#   and vpp.pid, and its own api-segment prefix (NAME), optionally inside network namespace NS
#   (af_packet then attaches to that namespace's links). Returns once VPP answers on its CLI socket
#   and its API socket exists, printing one JSON line with the paths and pid; on failure prints
#   the end of VPP's log, removes what it made and exits 1.
#   --workers N: N worker threads, the main thread on CPU 0 and worker i on CPU i (VPP pins them);
#   without it, no workers: the main thread forwards too.
# stop: SIGTERM (SIGKILL after 10 s) and removal of everything start made, /dev/shm/NAME-* included.
#   Idempotent: stopping an instance that is not running only removes its leftovers.
# cli: vppctl against the instance. vppctl itself exits 0 when the command failed; this exits 1
#   when VPP's answer is a CLI error ("<command path>: <why>", or "unknown input").
set -euo pipefail

REQUIRED_PLUGINS=(memif af_packet tap ping vxlan nat cnat acl)
OPTIONAL_PLUGINS=(arping)
# .api.json files the project's tests and agent use, relative to PREFIX/share/vpp/api.
REQUIRED_API=(core/memclnt core/vpe core/vlib core/interface core/ip core/ip_neighbor core/l2
  plugins/memif plugins/af_packet plugins/tapv2 plugins/ping plugins/vxlan plugins/nat44_ed plugins/cnat plugins/acl)
RUN_BASE=${TSVPP_VPP_RUN_DIR:-/run/tsvpp-vpp}

die() { echo "vpp-peer: $*" >&2; exit 1; }
usage() { sed -n '4,7p' "$0" | sed 's/^# //' >&2; exit 2; }

plugin_dir() {
  local p=$1 d
  for d in "$p"/lib/*-linux-gnu/vpp_plugins "$p"/lib64/vpp_plugins "$p"/lib/vpp_plugins; do
    [[ -d $d ]] && { echo "$d"; return 0; }
  done
  return 1
}

# Prints what PREFIX lacks, one item a line; nothing when it is complete.
lacks() {
  local p=$1 pd f
  [[ -x $p/bin/vpp ]] || echo "$p/bin/vpp (the VPP binary)"
  [[ -x $p/bin/vppctl ]] || echo "$p/bin/vppctl (VPP's CLI client; VPP_TOOLS=vppctl)"
  if pd=$(plugin_dir "$p"); then
    for f in "${REQUIRED_PLUGINS[@]}"; do
      [[ -f $pd/${f}_plugin.so ]] || echo "plugin $f: $pd/${f}_plugin.so"
    done
  else
    echo "the plugin directory (PREFIX/lib/<multiarch>/vpp_plugins): plugins ${REQUIRED_PLUGINS[*]}"
  fi
  for f in "${REQUIRED_API[@]}"; do
    [[ -f $p/share/vpp/api/$f.api.json ]] || echo "API definitions $p/share/vpp/api/$f.api.json"
  done
}

check() {
  local p=$1 missing
  [[ -d $p ]] || die "$p: no such directory (PREFIX must be a VPP install prefix, e.g. /usr or where 'ninja install' put it)"
  missing=$(lacks "$p")
  if [[ -n $missing ]]; then
    echo "vpp-peer: the VPP install at $p lacks:" >&2
    sed 's/^/  - /' <<<"$missing" >&2
    echo "vpp-peer: build VPP with at least the plugins ${REQUIRED_PLUGINS[*]} (VPP_PLUGINS=$(IFS=,; echo "${REQUIRED_PLUGINS[*]}")) and install it to $p; see docs/vpp.md" >&2
    return 1
  fi
  echo "vpp-peer: $p has vpp, vppctl, the plugins ${REQUIRED_PLUGINS[*]} and their API definitions"
}

check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$ ]] || die "instance name '$1' must be 1-32 of [A-Za-z0-9_-] (it is the api-segment prefix and a directory name)"
}

# The pid of NAME's VPP if it is running (and really is that instance), else nothing.
live_pid() {
  local run=$1 pid
  [[ -f $run/vpp.pid ]] || return 0
  pid=$(tr -dc 0-9 <"$run/vpp.pid")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$run/startup.conf" && echo "$pid"
  return 0
}

write_conf() {
  local run=$1 name=$2 pd=$3 sleep_us=$4 workers=$5 f
  {
    echo "unix {"
    echo "  nodaemon"
    echo "  runtime-dir $run"
    echo "  cli-listen $run/cli.sock"
    echo "  log $run/vpp.log"
    echo "  pidfile $run/vpp.pid"
    echo "  nosyslog"
    [[ $sleep_us -gt 0 ]] && echo "  poll-sleep-usec $sleep_us"
    echo "}"
    [[ $workers -gt 0 ]] && echo "cpu { main-core 0 corelist-workers 1-$workers }"
    echo "socksvr { socket-name $run/api.sock }"
    echo "api-segment { prefix $name }"
    echo "memory { main-heap-size 512M main-heap-page-size 4k }"
    echo "buffers { buffers-per-numa 16384 page-size 4k }"
    echo "statseg { socket-name $run/stats.sock page-size 4k }"
    echo "plugins {"
    echo "  plugin default { disable }"
    for f in "${REQUIRED_PLUGINS[@]}" "${OPTIONAL_PLUGINS[@]}"; do
      [[ -f $pd/${f}_plugin.so ]] && echo "  plugin ${f}_plugin.so { enable }"
    done
    echo "}"
  } >"$run/startup.conf"
}

remove_leftovers() {
  local run=$1 name=$2
  rm -rf -- "$run"
  rm -f -- /dev/shm/"$name"-*
}

start() {
  local p=$1 name=$2; shift 2
  local netns='' sleep_us=100 workers=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --netns) netns=${2:?--netns needs a namespace name}; shift 2 ;;
      --poll-sleep-usec) sleep_us=${2:?--poll-sleep-usec needs a number}; [[ $sleep_us =~ ^[0-9]+$ ]] || die "--poll-sleep-usec $sleep_us: not a whole number"; shift 2 ;;
      --workers) workers=${2:?--workers needs a number}; [[ $workers =~ ^[0-9]+$ ]] || die "--workers $workers: not a whole number"; shift 2
        (( workers < $(nproc) )) || die "--workers $workers: this machine has $(nproc) CPUs, and CPU 0 is the main thread's" ;;
      *) die "start: unknown option $1 (expected --netns NS, --poll-sleep-usec N, --workers N)" ;;
    esac
  done
  check_name "$name"
  [[ $(id -u) -eq 0 ]] || die "start: VPP needs root here (it maps its buffers and opens raw sockets)"
  check "$p" >/dev/null || { check "$p" || true; exit 1; }
  [[ -z $netns || -e /var/run/netns/$netns ]] || die "start: network namespace $netns does not exist (ip netns add $netns)"
  local run=$RUN_BASE/$name pd
  pd=$(plugin_dir "$p")
  [[ -z $(live_pid "$run") ]] || die "start: an instance named $name is already running (pid $(live_pid "$run")); stop it first"
  remove_leftovers "$run" "$name"
  mkdir -p -- "$run"
  write_conf "$run" "$name" "$pd" "$sleep_us" "$workers"
  local -a cmd=("$p/bin/vpp" -c "$run/startup.conf")
  [[ -n $netns ]] && cmd=(ip netns exec "$netns" "${cmd[@]}")
  # Its own session: a Ctrl-C meant for the caller does not kill it uncleanly; stop does.
  setsid "${cmd[@]}" </dev/null >"$run/stdout.log" 2>&1 &
  local launcher=$! pid='' out
  for _ in $(seq 1 300); do
    if ! kill -0 "$launcher" 2>/dev/null; then
      echo "vpp-peer: VPP exited during start-up; its output:" >&2
      tail -n 30 "$run/stdout.log" "$run/vpp.log" 2>/dev/null >&2 || true
      remove_leftovers "$run" "$name"
      exit 1
    fi
    out=$("$p/bin/vppctl" -s "$run/cli.sock" show version 2>/dev/null || true)
    if [[ $out == vpp* && -S $run/api.sock ]]; then pid=$(live_pid "$run"); break; fi
    sleep 0.1
  done
  if [[ -z $pid ]]; then
    echo "vpp-peer: VPP (pid $launcher) did not answer on $run/cli.sock within 30 s; its output:" >&2
    tail -n 30 "$run/stdout.log" "$run/vpp.log" 2>/dev/null >&2 || true
    kill -KILL "$launcher" 2>/dev/null || true
    remove_leftovers "$run" "$name"
    exit 1
  fi
  printf '{"name":"%s","pid":%s,"version":"%s","runtimeDir":"%s","apiSocket":"%s/api.sock","cliSocket":"%s/cli.sock","statsSocket":"%s/stats.sock","memifSocket":"%s/memif.sock","log":"%s/vpp.log","netns":"%s","apiDir":"%s/share/vpp/api"}\n' \
    "$name" "$pid" "$(awk '{sub(/^v/, "", $2); print $2; exit}' <<<"$out")" "$run" "$run" "$run" "$run" "$run" "$run" "$netns" "$p"
}

stop() {
  local name=$2 run pid
  check_name "$name"
  run=$RUN_BASE/$name
  pid=$(live_pid "$run")
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "vpp-peer: $name (pid $pid) still running 10 s after SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  remove_leftovers "$run" "$name"
}

cli() {
  local p=$1 name=$2 out; shift 2
  check_name "$name"
  [[ -S $RUN_BASE/$name/cli.sock ]] || die "cli: no instance named $name ($RUN_BASE/$name/cli.sock missing)"
  out=$("$p/bin/vppctl" -s "$RUN_BASE/$name/cli.sock" "$@" 2>&1)
  printf '%s\n' "$out"
  # VPP reports a failed command as "<command path>: <why>" (e.g. "show: unknown input `foo'").
  ! head -n 1 <<<"$out" | grep -qE "^$1( [a-z0-9_-]+)*: |unknown input"
}

[[ $# -ge 2 ]] || usage
cmd=$1; prefix=${2%/}; shift 2
case $cmd in
  check) [[ $# -eq 0 ]] || usage; check "$prefix" ;;
  start) [[ $# -ge 1 ]] || usage; start "$prefix" "$@" ;;
  stop) [[ $# -eq 1 ]] || usage; stop "$prefix" "$1" ;;
  cli) [[ $# -ge 2 ]] || usage; cli "$prefix" "$@" ;;
  build) die "build: not provided. Build VPP from FD.io's source with FD.io's build documentation (docs/vpp.md lists the plugins the project needs), then: $0 check PREFIX" ;;
  *) usage ;;
esac
