#!/usr/bin/env bash
# Builds the tsvpp node-agent image (deploy/daemonset.yaml's tsvpp:latest) as an OCI image-layout
# tar, which `ctr images import` and `podman load` take. No base image and no registry: the root
# filesystem is made from Debian packages (apt-get download + dpkg-deb, cached) and npm.
#
#   bash scripts/build-image.sh [--out FILE] [--name REF] [--node-version V | --node PATH]
#
#   --out           the image tar (default: tsvpp-image.tar in the repository)
#   --name          the image reference (default: docker.io/library/tsvpp:latest, what `image: tsvpp:latest` means)
#   --node-version  the Node.js release to ship (default: the version of the `node` on PATH, the one
#                   the project was built and tested with), from npm's node-linux-<arch> package
#                   (Node's official build; Debian 12's nodejs is 18 and tsvpp needs Node >= 20)
#   --node          ship this Node.js binary instead
#   Node's shared libraries (libc6, libstdc++6, libgcc-s1) come from Debian packages and are
#   checked to suffice.
#
# What the image holds:
#   /usr/local/bin/node; /opt/tsvpp: the npm package (npm pack: dist/, the shipped .api.json files and
#   .proto files, deploy/, docs/) with its production dependencies (npm ci --omit=dev);
#   iproute2 (ip), busybox-static (/bin/sh, cp, nsenter, sysctl, ...), nftables (nft: the agent's
#   masquerade table), host-local from containernetworking-plugins (in /usr/lib/cni), and the
#   shared libraries they need; no type
#   declarations, source maps or other systems' koffi builds (175 MiB rather than 280).
# Needs: a Debian/Ubuntu host with apt (no root needed), GNU tar, npm, and the project's devDependencies
# (it compiles dist/ when src/ is newer).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/tsvpp-image.tar
name=docker.io/library/tsvpp:latest
node=
node_version=
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --node) node=$2; shift 2 ;;
    --node-version) node_version=${2#v}; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for t in apt-get apt-cache dpkg-deb tar npm; do command -v "$t" >/dev/null || { echo "build-image: $t not found" >&2; exit 2; }; done
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tsvpp-image
if [[ -z "$node" ]]; then
  # Node's official Linux build as npm ships it (package node-linux-<arch>: bin/node), cached.
  [[ -n "$node_version" ]] || node_version=$(node -p process.versions.node 2>/dev/null) \
    || { echo "build-image: no node on PATH to take the version from (--node-version V)" >&2; exit 2; }
  case $(uname -m) in
    x86_64) narch=x64 ;; aarch64) narch=arm64 ;;
    *) echo "build-image: no node-linux package for $(uname -m) (--node PATH)" >&2; exit 2 ;;
  esac
  mkdir -p "$cache/node"
  tgz=$cache/node/node-linux-$narch-$node_version.tgz
  if [[ ! -s "$tgz" ]]; then
    echo "build-image: fetching node-linux-$narch@$node_version from npm into $cache/node"
    part=$(mktemp -d "$cache/node/part-XXXXXX") # a download cut short never looks complete
    (cd "$part" && npm pack "node-linux-$narch@$node_version" --pack-destination . --loglevel=error >/dev/null) \
      || { rm -rf "$part"; echo "build-image: npm has no node-linux-$narch@$node_version (--node-version V or --node PATH)" >&2; exit 1; }
    mv "$part/node-linux-$narch-$node_version.tgz" "$tgz" && rm -rf "$part"
  fi
  mkdir -p "$cache/node/$node_version"
  [[ -x "$cache/node/$node_version/node" ]] || tar -xzf "$tgz" -C "$cache/node/$node_version" --strip-components=2 --no-same-owner package/bin/node
  node=$cache/node/$node_version/node
fi
[[ -x "$node" ]] || { echo "build-image: $node is not an executable Node.js binary" >&2; exit 2; }

# The packages the agent runs, and what they depend on (Depends/Pre-Depends, first alternative).
# Left out: debconf (only maintainer scripts use it; none run in an image) and iptables
# (containernetworking-plugins' firewall/portmap use it; the image runs only host-local).
roots=(libc6 libgcc-s1 libstdc++6 iproute2 busybox-static nftables containernetworking-plugins)
skip=" debconf debconf-2.0 iptables "
declare -A seen=() version=() arch=()
wave=("${roots[@]}")
for r in "${roots[@]}"; do seen[$r]=1; done
pkgs=()
while ((${#wave[@]})); do
  # One apt-cache call per wave of new packages (each call reads the whole cache: seconds).
  next=()
  while IFS=$'\t' read -r p v a deps; do
    pkgs+=("$p"); version[$p]=$v; arch[$p]=$a
    for d in $deps; do
      [[ -n "${seen[$d]:-}" || "$skip" == *" $d "* ]] && continue
      seen[$d]=1; next+=("$d")
    done
  done < <(apt-cache show --no-all-versions "${wave[@]}" | awk '
    function flush() { if (p != "") { gsub(/\|[^,]*/, "", d); gsub(/\([^)]*\)/, "", d); gsub(/:any/, "", d); gsub(/,/, " ", d); printf "%s\t%s\t%s\t%s\n", p, v, a, d } p = ""; d = "" }
    /^Package:/ { flush(); p = $2 }
    /^Version:/ { v = $2 }
    /^Architecture:/ { a = $2 }
    /^(Pre-)?Depends:/ { sub(/^[^:]*: /, ""); d = d "," $0 }
    END { flush() }')
  for p in "${wave[@]}"; do [[ -n "${version[$p]:-}" ]] || { echo "build-image: Debian package $p not known to apt (apt-get update?)" >&2; exit 1; }; done
  wave=("${next[@]}")
done

debs_dir=$cache/debs
mkdir -p "$debs_dir"
debs=()
missing=()
for p in "${pkgs[@]}"; do
  # apt-get download's file name: name_version_arch.deb, the epoch's ":" written as %3a.
  v=${version[$p]}
  f=${p}_${v//:/%3a}_${arch[$p]}.deb
  debs+=("$debs_dir/$f")
  [[ -s "$debs_dir/$f" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build-image: downloading ${#missing[@]} Debian package(s) into $debs_dir"
  sandbox=()
  [[ $(id -u) == 0 ]] && sandbox=(-o APT::Sandbox::User=root) # _apt cannot write to root's cache
  (cd "$debs_dir" && apt-get download -q "${sandbox[@]}" "${missing[@]}" >/dev/null)
fi
for d in "${debs[@]}"; do [[ -s "$d" ]] || { echo "build-image: $d missing after apt-get download" >&2; exit 1; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/tsvpp-image-XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
# Debian 12 packages still ship /bin, /lib, ...; the merged-/usr layout keeps them in /usr.
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64} "$rootfs"/{etc,run,tmp,var,opt/tsvpp,usr/local/bin}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$rootfs/$d"; done
ln -s ../run "$rootfs/var/run"
chmod 1777 "$rootfs/tmp"
for deb in "${debs[@]}"; do
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$rootfs" --keep-directory-symlink --no-same-owner
done
rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian,bug}
# Of the reference plugins the agent runs host-local only (the IPAM); the rest is 40 MB.
find "$rootfs/usr/lib/cni" -mindepth 1 -maxdepth 1 ! -name host-local -exec rm -rf {} +
# busybox's applets, where no package put a program of that name (ip stays iproute2's).
while read -r applet; do
  a=${applet##*/}
  [[ -e "$rootfs/usr/bin/$a" || -e "$rootfs/usr/sbin/$a" || -L "$rootfs/usr/bin/$a" || -L "$rootfs/usr/sbin/$a" ]] && continue
  ln -s /bin/busybox "$rootfs/usr/bin/$a"
done < <("$rootfs/bin/busybox" --list)
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"

install -m 0755 "$node" "$rootfs/usr/local/bin/node"
# The shipped node must run on the image's own libraries, not the build host's.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
loader=$(cd "$rootfs" && ls usr/lib/"$multiarch"/ld-linux-*.so.* 2>/dev/null | head -n1)
[[ -n "$loader" ]] || { echo "build-image: no dynamic loader in the image's libc6" >&2; exit 1; }
read -r v node_arch < <("$rootfs/$loader" --library-path "$rootfs/usr/lib/$multiarch" "$rootfs/usr/local/bin/node" -p '`${process.version} ${process.arch}`') \
  || { echo "build-image: $node does not run on the image's libraries" >&2; exit 1; }
major=${v#v}; major=${major%%.*}
((major >= 20)) || { echo "build-image: $node is Node $v; tsvpp needs Node >= 20" >&2; exit 2; }

# The project as npm packs it (package.json "files"), from dist/ (built when a source is newer),
# and its production dependencies from the lockfile.
if [[ ! -f "$repo/dist/src/cli/main.js" ]] || [[ -n "$(find "$repo/src" "$repo/perf" "$repo/fuzz" -name '*.ts' -newer "$repo/dist/src/cli/main.js" -print -quit)" ]]; then
  echo "build-image: compiling (tsc)"
  (cd "$repo" && npx tsc -p tsconfig.json)
fi
app=$rootfs/opt/tsvpp
pkg=$(cd "$repo" && npm pack --ignore-scripts --pack-destination "$work" --loglevel=error | tail -n1)
tar -xzf "$work/$pkg" -C "$app" --strip-components=1 --no-same-owner
find "$app/dist" -name '*.map' -delete
cp "$repo/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
rm -f "$app/package-lock.json"
# Nothing the agent loads: type declarations and source maps of the dependencies, and koffi's
# native builds for other systems (it loads build/koffi/linux_<arch>; glibc here, so no musl).
find "$app/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete
[[ -d "$app/node_modules/koffi/build/koffi/linux_$node_arch" ]] || { echo "build-image: koffi has no build for linux_$node_arch" >&2; exit 1; }
find "$app/node_modules/koffi/build/koffi" -mindepth 1 -maxdepth 1 ! -name "linux_$node_arch" -exec rm -rf {} +

node "$repo/dist/perf/peers/oci-image.js" --rootfs "$rootfs" --name "$name" --out "$out" \
  --entrypoint '["/usr/local/bin/node","/opt/tsvpp/dist/src/cli/main.js"]' --cmd '["agent"]' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --workdir /opt/tsvpp
echo "build-image: $name (node $v, ${#pkgs[@]} Debian packages) -> $out"
