#!/usr/bin/env bash
# Builds rackboot's test OS: a Debian kernel plus a busybox-static initramfs whose /init
# (scripts/test-os/init) boots like the CoreOS/Flatcar PXE image as far as rackboot can see.
#
#   scripts/build-test-os.sh [OUT_DIR]        (default: <repo>/.cache/test-os)
#
# Outputs OUT_DIR/vmlinuz, OUT_DIR/initrd.img and OUT_DIR/manifest.json. Only Debian packages are
# used: the kernel comes from the linux-image-<abi>-amd64 .deb that linux-image-amd64 depends on,
# fetched with `apt-get download` into OUT_DIR/cache and unpacked with dpkg-deb (never installed).
# Nothing is installed: a missing tool is reported with the Debian package that provides it.
# A second run with the same inputs only checks them; a changed init, udhcpc script, module list
# or kernel package rebuilds what depends on it.
#
# Environment:
#   TEST_OS_KERNEL_PACKAGE  kernel package to use (default: what linux-image-amd64 depends on)
#   TEST_OS_MODULES         modules to include with their dependencies (default: "virtio_pci
#                           virtio_net virtio_blk e1000 vfat nls_cp437 nls_ascii nls_utf8";
#                           vfat: the install tests' disk image)
#   TEST_OS_BINARIES        host programs copied in with their shared libraries, for the install
#                           script (default: "/usr/bin/bash /usr/sbin/sfdisk"; Debian packages bash,
#                           fdisk)
#   TEST_OS_CACHE           where the .deb and the unpacked kernel/modules are kept
#                           (default: OUT_DIR/cache)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
out_dir=${1:-$repo_root/.cache/test-os}
modules=${TEST_OS_MODULES:-virtio_pci virtio_net virtio_blk e1000 vfat nls_cp437 nls_ascii nls_utf8}
binaries=${TEST_OS_BINARIES:-/usr/bin/bash /usr/sbin/sfdisk}
init_src=$script_dir/test-os/init
udhcpc_src=$script_dir/test-os/udhcpc.script
busybox_bin=/bin/busybox

say() { echo "build-test-os: $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- prerequisites ---------------------------------------------------------------------------
PATH="$PATH:/usr/sbin:/sbin"   # depmod and modprobe live in /usr/sbin
missing=()
need() { # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)")
}
need apt-get apt
need apt-cache apt
need dpkg-deb dpkg
need dpkg-query dpkg
need depmod kmod
need modprobe kmod
need cpio cpio
need gzip gzip
need awk mawk
need sha256sum coreutils
need flock util-linux
need ldd libc-bin
for b in $binaries; do
  [ -x "$b" ] || missing+=("$b (apt-get install $(case "${b##*/}" in bash) echo bash ;; sfdisk) echo fdisk ;; *) echo "the package that has $b" ;; esac))")
done
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || [ ! -x "$busybox_bin" ]; then
  missing+=("$busybox_bin from busybox-static (apt-get install busybox-static; it replaces the dynamic busybox)")
fi
[ -r "$init_src" ] || missing+=("$init_src (part of the repository)")
[ -r "$udhcpc_src" ] || missing+=("$udhcpc_src (part of the repository)")
if [ "${#missing[@]}" -gt 0 ]; then
  say "missing prerequisites:"
  for m in "${missing[@]}"; do say "  - $m"; done
  exit 2
fi

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
cache_dir=${TEST_OS_CACHE:-$out_dir/cache}
mkdir -p "$cache_dir"
# Concurrent builds (parallel test files) take turns; the second one finds the work done.
exec 9>"$out_dir/.lock"
flock -w 900 9 || die "another build holds $out_dir/.lock for 15 minutes"

# --- the kernel package ------------------------------------------------------------------------
kernel_pkg=${TEST_OS_KERNEL_PACKAGE:-}
if [ -z "$kernel_pkg" ]; then
  kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1) || true
fi
deb=
if [ -n "$kernel_pkg" ]; then
  deb=$(find "$cache_dir" -maxdepth 1 -name "${kernel_pkg}_*_amd64.deb" | sort -V | tail -n 1)
  if [ -z "$deb" ]; then
    say "downloading $kernel_pkg (apt-get download)"
    if (cd "$cache_dir" && apt-get -q -o APT::Sandbox::User=root download "$kernel_pkg" >&2); then
      deb=$(find "$cache_dir" -maxdepth 1 -name "${kernel_pkg}_*_amd64.deb" | sort -V | tail -n 1)
    else
      # Offline, or the mirror moved on: an older cached kernel still makes a working test OS.
      deb=$(find "$cache_dir" -maxdepth 1 -name 'linux-image-[0-9]*_amd64.deb' | sort -V | tail -n 1)
      [ -n "$deb" ] || die "apt-get download $kernel_pkg failed (network to the Debian mirror? apt-get update?)"
      say "apt-get download $kernel_pkg failed; using the cached ${deb##*/}"
    fi
  fi
else
  # No package lists (fresh container before apt-get update): fall back to a cached kernel.
  deb=$(find "$cache_dir" -maxdepth 1 -name 'linux-image-[0-9]*_amd64.deb' | sort -V | tail -n 1)
  [ -n "$deb" ] || die "apt-cache does not know linux-image-amd64: run 'apt-get update' first"
  say "apt-cache does not know linux-image-amd64; using the cached ${deb##*/}"
fi
if [ -z "$deb" ] || [ ! -s "$deb" ]; then die "no kernel .deb for ${kernel_pkg:-linux-image-amd64} in $cache_dir"; fi
deb_name=${deb##*/}
kernel_pkg=${deb_name%%_*}
kernel_pkg_version=$(dpkg-deb -f "$deb" Version)

# --- inputs, and the fast path -----------------------------------------------------------------
busybox_sha=$(sha256sum "$busybox_bin" | cut -d' ' -f1)
inputs_sha=$(
  {
    echo "deb=$deb_name"
    echo "modules=$modules"
    echo "busybox=$busybox_sha"
    for b in $binaries; do sha256sum "$b" | cut -d' ' -f1; done
    sha256sum "$init_src" "$udhcpc_src" "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
)
manifest=$out_dir/manifest.json
if [ -s "$manifest" ] && [ -s "$out_dir/vmlinuz" ] && [ -s "$out_dir/initrd.img" ] \
  && grep -q "\"inputsSha256\": \"$inputs_sha\"" "$manifest" \
  && grep -q "\"sha256\": \"$(sha256sum "$out_dir/vmlinuz" | cut -d' ' -f1)\"" "$manifest" \
  && grep -q "\"sha256\": \"$(sha256sum "$out_dir/initrd.img" | cut -d' ' -f1)\"" "$manifest"; then
  say "up to date: $out_dir ($kernel_pkg $kernel_pkg_version)"
  exit 0
fi

started=$(date +%s.%N)

# --- kernel and modules, cached per (package, module list) --------------------------------------
kcache_key=$(printf '%s\n%s\n' "$deb_name" "$modules" | sha256sum | cut -c1-16)
kcache=$cache_dir/kernel-$kcache_key
if [ ! -s "$kcache/done" ]; then
  say "unpacking $deb_name"
  rm -rf "$kcache" "$kcache.tmp"
  mkdir -p "$kcache.tmp"
  root=$kcache.tmp/root
  dpkg-deb -x "$deb" "$root"
  versions=()
  for d in "$root"/lib/modules/*/; do versions+=("$(basename "$d")"); done
  [ "${#versions[@]}" -eq 1 ] || die "expected one kernel in $deb_name, found: ${versions[*]}"
  kver=${versions[0]}
  [ -s "$root/boot/vmlinuz-$kver" ] || die "$deb_name has no /boot/vmlinuz-$kver"
  # Debian generates modules.dep at install time (postinst); the .deb does not carry it.
  depmod -b "$root" "$kver"
  mkdir -p "$kcache.tmp/modules"
  : >"$kcache.tmp/modules.list"
  for m in $modules; do
    deps=$(modprobe -d "$root" -S "$kver" --show-depends "$m") || die "modprobe: no module $m in $kver"
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      rel=${path#"$root/lib/modules/$kver/"}
      target=${rel%.xz}
      target=${target%.zst}
      target=${target%.gz}
      grep -qxF "$target" "$kcache.tmp/modules.list" && continue
      mkdir -p "$kcache.tmp/modules/$(dirname "$target")"
      # busybox insmod loads plain .ko files only: decompress what Debian compressed.
      case "$rel" in
        *.ko.xz) command -v xz >/dev/null || die "$rel is xz-compressed: apt-get install xz-utils"
                 xz -dc "$path" >"$kcache.tmp/modules/$target" ;;
        *.ko.zst) command -v zstd >/dev/null || die "$rel is zstd-compressed: apt-get install zstd"
                  zstd -qdc "$path" >"$kcache.tmp/modules/$target" ;;
        *.ko.gz) gzip -dc "$path" >"$kcache.tmp/modules/$target" ;;
        *) cp "$path" "$kcache.tmp/modules/$target" ;;
      esac
      echo "$target" >>"$kcache.tmp/modules.list"
    done <<<"$deps"
  done
  cp "$root/boot/vmlinuz-$kver" "$kcache.tmp/vmlinuz"
  echo "$kver" >"$kcache.tmp/kernel-version"
  rm -rf "$root"   # 400 MB unpacked; the .deb stays cached
  echo "$deb_name" >"$kcache.tmp/done"
  mv "$kcache.tmp" "$kcache"
  # Drop caches of other kernels or module lists.
  find "$cache_dir" -maxdepth 1 -name 'kernel-*' ! -name "kernel-$kcache_key" -exec rm -rf {} +
fi
kver=$(cat "$kcache/kernel-version")

# --- initramfs ------------------------------------------------------------------------------------
stage=$(mktemp -d "$out_dir/.stage.XXXXXX")
trap 'rm -rf "$stage" "$out_dir"/.initrd.img.* "$out_dir"/.vmlinuz.* "$out_dir"/.manifest.json.*' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,etc,root,lib/modules}
cp "$busybox_bin" "$stage/bin/busybox"
"$busybox_bin" --list-full | while read -r applet; do
  [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
cp -a "$kcache/modules" "$stage/lib/modules/$kver"
# bash and sfdisk for the install script, with the shared libraries ldd names (same paths as on the host)
for b in $binaries; do
  mkdir -p "$stage$(dirname "$b")"
  rm -f "$stage$b"
  cp -L "$b" "$stage$b"
  ldd "$b" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
done
cp "$kcache/modules.list" "$stage/etc/modules.list"
install -m 0755 "$init_src" "$stage/init"
install -m 0755 "$udhcpc_src" "$stage/etc/udhcpc.script"
echo "rackboot-test-os kernel=$kver package=$kernel_pkg_version" >"$stage/etc/test-os-release"
: >"$stage/etc/resolv.conf"
echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
chmod 1777 "$stage/tmp"
# The kernel wants /dev/console in the initramfs for init's first output; creating the node needs
# root. Without it /init reattaches to /dev/console once devtmpfs is mounted.
if [ "$(id -u)" = 0 ]; then
  mknod -m 600 "$stage/dev/console" c 5 1
  mknod -m 666 "$stage/dev/null" c 1 3
fi
find "$stage" -exec touch -h -d @0 {} +
tmp_initrd=$(mktemp "$out_dir/.initrd.img.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z \
  | cpio --quiet --null -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$tmp_initrd"
tmp_kernel=$(mktemp "$out_dir/.vmlinuz.XXXXXX")
cp "$kcache/vmlinuz" "$tmp_kernel"
chmod 0644 "$tmp_initrd" "$tmp_kernel"

kernel_sha=$(sha256sum "$tmp_kernel" | cut -d' ' -f1)
initrd_sha=$(sha256sum "$tmp_initrd" | cut -d' ' -f1)
module_json=$(sed 's/.*/"&"/' "$kcache/modules.list" | paste -sd, - | sed 's/,/, /g')
tmp_manifest=$(mktemp "$out_dir/.manifest.json.XXXXXX")
cat >"$tmp_manifest" <<EOF
{
  "kernelVersion": "$kver",
  "kernelPackage": "$kernel_pkg",
  "kernelPackageVersion": "$kernel_pkg_version",
  "busyboxSha256": "$busybox_sha",
  "modules": [$module_json],
  "files": {
    "vmlinuz": { "bytes": $(stat -c %s "$tmp_kernel"), "sha256": "$kernel_sha" },
    "initrd.img": { "bytes": $(stat -c %s "$tmp_initrd"), "sha256": "$initrd_sha" }
  },
  "inputsSha256": "$inputs_sha",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
chmod 0644 "$tmp_manifest"
mv "$tmp_kernel" "$out_dir/vmlinuz"
mv "$tmp_initrd" "$out_dir/initrd.img"
mv "$tmp_manifest" "$manifest"
say "built $out_dir: kernel $kver ($kernel_pkg $kernel_pkg_version), initrd $(stat -c %s "$out_dir/initrd.img") bytes, $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
