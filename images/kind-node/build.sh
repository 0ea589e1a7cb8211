#!/usr/bin/env bash
# build.sh builds faultline's offline kind node image from Debian packages and Go modules: nothing
# is pulled from a container registry. See README.md ("kind clusters, offline").
#
#   DOCKER_HOST=unix:///run/faultline-docker/docker.sock images/kind-node/build.sh
#
# Needs root (debootstrap, a temporary containerd), debootstrap, containerd/ctr, docker and go.
# The result is tagged faultline/kind-node:v1.34.4-KEY and saved to
# ~/.cache/faultline/kind/node-image-v1.34.4-KEY.tar, where KEY digests every input (the tooling
# modules' go.mod/go.sum, this directory, the node programs' sources, the Go version), so a
# changed input builds a new image and an unchanged one loads from the cache in seconds. The
# last line of output is the image's tag; ~/.cache/faultline/kind/node-image.ref names it too.
set -euo pipefail

K8S_VERSION=v1.34.4
# the tags `kubeadm config images list --kubernetes-version v1.34.4` prints; etcd is 3.6.8
# (tools/etcd) under the tag kubeadm expects
ETCD_TAG=3.6.5-0
COREDNS_VERSION=v1.12.1
PAUSE_TAG=3.10.1
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,dbus,containerd,runc,iptables,conntrack,iproute2,ca-certificates,kmod,util-linux,mount,procps,ethtool,socat,libseccomp2,nftables

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${FAULTLINE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/faultline}/kind
GO=${GO:-go}
DOCKER=${DOCKER:-docker}
log() { echo "kind-image: $*" >&2; }

inputs() {
  cd "$ROOT"
  find images/kind-node tools/k8s tools/etcd clusters/kind/internal/cmd/faultline-cni clusters/kind/internal/cmd/faultline-pause clusters/kind/internal/nodenet \
    -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -path 'images/kind-node/*' \) \
    ! -name '*_test.go' ! -name 'README*' | LC_ALL=C sort | xargs sha256sum
  sha256sum go.mod go.sum
  echo "$K8S_VERSION $ETCD_TAG $COREDNS_VERSION $PAUSE_TAG $SUITE $PACKAGES $($GO env GOVERSION)"
}
KEY=$(inputs | sha256sum | cut -c1-12)
TAG=faultline/kind-node:$K8S_VERSION-$KEY
TAR=$CACHE/node-image-$K8S_VERSION-$KEY.tar
mkdir -p "$CACHE"

done_with() { echo "$1 $TAR" > "$CACHE/node-image.ref"; echo "$1"; }
if $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG is loaded"; done_with "$TAG"; exit 0
fi
if [[ -f $TAR ]]; then
  log "loading $TAG from $TAR"; $DOCKER load -q -i "$TAR" >&2; done_with "$TAG"; exit 0
fi

[[ $(id -u) == 0 ]] || { log "needs root (debootstrap, containerd)"; exit 1; }
start=$(date +%s)
WORK=$CACHE/work-$KEY
rm -rf "$WORK"; mkdir -p "$WORK/images"
cleanup() {
  if [[ -n ${CTRD_PID:-} ]] && [[ -e /proc/$CTRD_PID ]]; then kill "$CTRD_PID"; wait "$CTRD_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- Go binaries, statically linked, pinned by the tooling modules (cached by their inputs) ---
gobuild() { # dir ldflags out pkgs...
  local dir=$1 ld=$2 out=$3; shift 3
  (cd "$dir" && GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod $GO build -trimpath -ldflags "-s -w $ld" -o "$out" "$@")
}
BINKEY=$( (cd "$ROOT" && find tools/k8s tools/etcd images/kind-node/tools clusters/kind/internal/cmd/faultline-cni clusters/kind/internal/cmd/faultline-pause clusters/kind/internal/nodenet \
  -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) ! -name '*_test.go' | LC_ALL=C sort | xargs sha256sum; \
  sha256sum go.mod go.sum; $GO env GOVERSION; echo "$K8S_VERSION $COREDNS_VERSION") | sha256sum | cut -c1-12)
BIN=$CACHE/bin-$BINKEY
if [[ ! -f $BIN/.done ]]; then
  rm -rf "$BIN.tmp"; mkdir -p "$BIN.tmp/cni"
  kver=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kver+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=34 -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  log "building Kubernetes $K8S_VERSION (about 4 min cold on 2 cores), etcd, CoreDNS $COREDNS_VERSION (about 3 min cold), CNI plugins"
  gobuild "$ROOT/tools/k8s" "$kver" "$BIN.tmp/" k8s.io/kubernetes/cmd/{kubelet,kubeadm,kubectl,kube-proxy,kube-apiserver,kube-controller-manager,kube-scheduler}
  gobuild "$ROOT/tools/etcd" "" "$BIN.tmp/etcd" go.etcd.io/etcd/server/v3
  gobuild "$HERE/tools/coredns" "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" "$BIN.tmp/coredns" github.com/coredns/coredns
  gobuild "$HERE/tools/cni" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v1.7.1" "$BIN.tmp/cni/" \
    github.com/containernetworking/plugins/plugins/{main/ptp,main/bridge,main/loopback,ipam/host-local,meta/portmap}
  (cd "$ROOT" && CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w" -o "$BIN.tmp/" ./clusters/kind/internal/cmd/faultline-cni ./clusters/kind/internal/cmd/faultline-pause)
  touch "$BIN.tmp/.done"; rm -rf "$BIN"; mv "$BIN.tmp" "$BIN"
  rm -rf $(ls -d "$CACHE"/bin-* | grep -v "^$BIN$") # older builds
fi
mkdir -p "$WORK/bin" "$WORK/cni"
cp -a "$BIN/." "$WORK/bin/"; mv "$WORK/bin/cni/"* "$WORK/cni/"

# --- Debian root file system (cached: debootstrap takes about 3 minutes) ---------------------
ROOTFS_TAR=$CACHE/rootfs-$SUITE-$(echo "$PACKAGES $MIRROR" | sha256sum | cut -c1-12).tar
if [[ ! -f $ROOTFS_TAR ]]; then
  log "debootstrap $SUITE (minbase + $PACKAGES)"
  rm -rf "$WORK/debootstrap"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$WORK/debootstrap" "$MIRROR" >&2
  rm -rf "$WORK/debootstrap"/var/cache/apt/archives/*.deb "$WORK/debootstrap"/var/lib/apt/lists/*
  tar -C "$WORK/debootstrap" --numeric-owner -cf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$WORK/debootstrap"
fi
R=$WORK/rootfs
mkdir -p "$R"
tar -C "$R" --numeric-owner -xf "$ROOTFS_TAR"

# --- component images: a static binary (kube-proxy: plus iptables) in an otherwise empty image --
# copy a rootfs binary and every shared library it loads into dir
copy_with_libs() { # dir path...
  local dir=$1; shift
  local f lib
  for f in "$@"; do
    mkdir -p "$dir/$(dirname "$f")"; cp -a "$R$f" "$dir$f"
    for lib in $(chroot "$R" ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
      mkdir -p "$dir$(dirname "$lib")"
      cp -L "$R$lib" "$dir$lib"
    done
  done
}
component() { # name tag entrypoint-json dir
  local name=$1 tag=$2 ep=$3 dir=$4
  mkdir -p "$dir"/{etc,tmp,run,var/run}
  echo 'root:x:0:0:root:/root:/sbin/nologin' > "$dir/etc/passwd"
  tar -C "$dir" --numeric-owner -c . | $DOCKER import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    ${ep:+--change "ENTRYPOINT $ep"} - "$tag" >/dev/null
  $DOCKER save -o "$WORK/images/$name.tar" "$tag"
  $DOCKER rmi "$tag" >/dev/null
  rm -rf "$dir"
}
log "component images"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  d=$WORK/img/$c; mkdir -p "$d/usr/local/bin"; cp "$WORK/bin/$c" "$d/usr/local/bin/"
  component "$c" "registry.k8s.io/$c:$K8S_VERSION" "" "$d"
done
d=$WORK/img/etcd; mkdir -p "$d/usr/local/bin"; cp "$WORK/bin/etcd" "$d/usr/local/bin/"
component etcd "registry.k8s.io/etcd:$ETCD_TAG" "" "$d"
d=$WORK/img/coredns; mkdir -p "$d"; cp "$WORK/bin/coredns" "$d/coredns"
component coredns "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" '["/coredns"]' "$d"
d=$WORK/img/pause; mkdir -p "$d"; cp "$WORK/bin/faultline-pause" "$d/pause"
component pause "registry.k8s.io/pause:$PAUSE_TAG" '["/pause"]' "$d"
d=$WORK/img/kube-proxy; mkdir -p "$d/usr/local/bin"; cp "$WORK/bin/kube-proxy" "$d/usr/local/bin/"
copy_with_libs "$d" /usr/sbin/xtables-nft-multi /usr/sbin/conntrack $(cd "$R" && ls -d /usr/lib/x86_64-linux-gnu/xtables/*.so)
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-nft-multi "$d/usr/sbin/$t"
done
component kube-proxy "registry.k8s.io/kube-proxy:$K8S_VERSION" "" "$d"

# --- the node's file system ----------------------------------------------------------------
log "node file system"
install -m 0755 "$WORK/bin/"{kubelet,kubeadm,kubectl} "$R/usr/bin/"
install -m 0755 "$WORK/bin/faultline-cni" "$R/usr/local/bin/"
mkdir -p "$R/opt/cni/bin" "$R/etc/cni/net.d" "$R/etc/kubernetes/manifests" "$R/var/lib/kubelet"
install -m 0755 "$WORK/cni/"* "$R/opt/cni/bin/"
cp -a "$HERE/files/." "$R/"
echo "$K8S_VERSION" > "$R/kind/version"
inputs > "$R/kind/faultline-inputs.txt"
chroot "$R" dpkg-query -W > "$R/kind/faultline-packages.txt"
# units: ours on, the ones a container cannot use off
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
for u in kubelet.service faultline-cni.service; do
  ln -sf "/etc/systemd/system/$u" "$R/etc/systemd/system/multi-user.target.wants/$u"
done
ln -sf /lib/systemd/system/containerd.service "$R/etc/systemd/system/multi-user.target.wants/containerd.service"
for u in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
         systemd-modules-load.service systemd-remount-fs.service systemd-logind.service \
         systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
         e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
ln -sf /lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
echo "faultline-kind-node" > "$R/etc/hostname"
: > "$R/etc/fstab"

# the images, imported into the node's containerd store now (a temporary containerd on this
# machine, the same Debian build as the node's) so that a node starts with them
log "importing the component images into the node's containerd store"
CT=$WORK/containerd-state
mkdir -p "$CT"
cat > "$WORK/containerd.toml" <<TOML
version = 2
root = "$R/var/lib/containerd"
state = "$CT/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CT/containerd.sock"
[ttrpc]
  address = "$CT/containerd.sock.ttrpc"
TOML
containerd --config "$WORK/containerd.toml" > "$WORK/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do [[ -S $CT/containerd.sock ]] && break; sleep 0.1; done
for t in "$WORK/images/"*.tar; do
  ctr --address "$CT/containerd.sock" -n k8s.io images import --snapshotter overlayfs "$t" >&2
done
ctr --address "$CT/containerd.sock" -n k8s.io images ls -q > "$R/kind/faultline-images.txt"
kill "$CTRD_PID"; wait "$CTRD_PID" || true; CTRD_PID=
cat "$R/kind/faultline-images.txt" >&2

# --- the image ---------------------------------------------------------------------------------
log "docker import (about 1 GB)"
tar -C "$R" --numeric-owner -c . | $DOCKER import - "$TAG-rootfs" >/dev/null
# docker import rejects STOPSIGNAL; a one-line build adds it (systemd halts on SIGRTMIN+3)
mkdir -p "$WORK/ctx"
cat > "$WORK/ctx/Dockerfile" <<DOCKERFILE
FROM $TAG-rootfs
STOPSIGNAL SIGRTMIN+3
ENV container=docker
ENTRYPOINT ["/usr/local/bin/faultline-entrypoint", "/sbin/init"]
LABEL io.faultline.kind-node.inputs=$KEY io.faultline.kubernetes=$K8S_VERSION
DOCKERFILE
DOCKER_BUILDKIT=0 $DOCKER build -q -t "$TAG" "$WORK/ctx" >&2
$DOCKER rmi "$TAG-rootfs" >/dev/null 2>&1 || true
$DOCKER save -o "$TAR.tmp" "$TAG" && mv "$TAR.tmp" "$TAR"
# earlier builds: their tarballs and tags
for old in "$CACHE"/node-image-*.tar; do [[ $old == "$TAR" ]] || rm -f "$old"; done
for old in $($DOCKER images --format '{{.Repository}}:{{.Tag}}' faultline/kind-node); do
  [[ $old == "$TAG" ]] || $DOCKER rmi "$old" >/dev/null 2>&1 || true
done
log "built $TAG in $(( $(date +%s) - start )) s; saved to $TAR ($(du -h "$TAR" | cut -f1))"
done_with "$TAG"
