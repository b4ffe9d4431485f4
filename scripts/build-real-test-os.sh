#!/usr/bin/env bash
# Builds rackboot's *real* test OS: the Debian kernel and an initramfs made of Debian packages in
# which systemd is PID 1, systemd-networkd configures the NIC, Debian's real Ignition runs at first
# boot, and rackboot-cloudinit applies a cloud-config. docs/testing.md has its contract.
#
#   scripts/build-real-test-os.sh [OUT_DIR]        (default: <repo>/.cache/real-test-os)
#
# Outputs OUT_DIR/vmlinuz, OUT_DIR/initrd.img and OUT_DIR/manifest.json.
#
# How it is made: `apt-get download` fetches systemd, udev, curl, passwd, ignition, the kernel and
# the Depends closure of the first four into OUT_DIR/cache/debs (nothing is installed); they are
# unpacked with dpkg-deb into a pool; the image takes from the pool only the programs it needs and
# the shared libraries those name (resolved by the host's ld.so --list against the pool), systemd's
# units, udev's rules, and the kernel modules for virtio/e1000 NICs and disks. busybox-static
# supplies sh and the small tools. No docs, man pages or locales.
#
# Boot (Flatcar's PXE arrangement): the initramfs is the initrd stage (/etc/initrd-release, so
# systemd runs initrd.target). A tmpfs is mounted on /sysroot and filled with a copy of the OS;
# Ignition's stages run against it when ignition.config.url= and flatcar.first_boot= are given;
# then systemd switch-roots into /sysroot and boots multi-user.target, where rackboot-cloudinit
# applies cloud-config-url=.
#
# A second run with the same inputs only checks them; a changed file under scripts/real-test-os,
# this script, busybox, or a package version rebuilds.
#
# Environment:
#   REAL_TEST_OS_CACHE    where the .debs and the unpacked pool are kept (default OUT_DIR/cache)
#   TEST_OS_KERNEL_PACKAGE  kernel package (default: what linux-image-amd64 depends on)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
out_dir=${1:-$repo_root/.cache/real-test-os}
files_dir=$script_dir/real-test-os
busybox_bin=/bin/busybox
root_packages="systemd udev curl passwd kmod"
extra_packages="ignition"
modules="virtio_pci virtio_net virtio_blk e1000 af_packet"

say() { echo "build-real-test-os: $*" >&2; }
die() { say "error: $*"; exit 1; }

PATH="$PATH:/usr/sbin:/sbin"
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need apt-get apt
need apt-cache apt
need dpkg-deb dpkg
need depmod kmod
need modprobe kmod
need cpio cpio
need gzip gzip
need sha256sum coreutils
need flock util-linux
# zstd: the kernel unpacks it several times faster than gzip, which matters under TCG
if command -v zstd >/dev/null 2>&1; then compress="zstd -q -10 -T0"; else compress="gzip -6n"; fi
ld_so=/lib64/ld-linux-x86-64.so.2
[ -x "$ld_so" ] || missing+=("$ld_so (libc6)")
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || [ ! -x "$busybox_bin" ]; then
  missing+=("$busybox_bin from busybox-static (apt-get install busybox-static)")
fi
[ -d "$files_dir" ] || missing+=("$files_dir (part of the repository)")
if [ "${#missing[@]}" -gt 0 ]; then
  say "missing prerequisites:"
  for m in "${missing[@]}"; do say "  - $m"; done
  exit 2
fi

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
cache_dir=${REAL_TEST_OS_CACHE:-$out_dir/cache}
debs=$cache_dir/debs
mkdir -p "$debs"
exec 9>"$out_dir/.lock"
flock -w 900 9 || die "another build holds $out_dir/.lock for 15 minutes"

# --- which packages ---------------------------------------------------------------------------
kernel_pkg=${TEST_OS_KERNEL_PACKAGE:-}
if [ -z "$kernel_pkg" ]; then
  kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1) || true
fi
# The Depends/Pre-Depends closure, real packages only (apt-cache prints virtual ones in <>).
closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $root_packages 2>/dev/null | grep -v '^[ <]' | sort -u | tr '\n' ' ') || true
wanted="$closure $extra_packages $kernel_pkg"
if [ -z "$closure" ] || [ -z "$kernel_pkg" ]; then
  # No package lists (before apt-get update): build from what is cached, if anything.
  [ -s "$cache_dir/packages.list" ] || die "apt-cache knows neither $root_packages nor linux-image-amd64: run 'apt-get update' first"
  say "apt-cache has no package lists; using the cached set"
  wanted=$(cat "$cache_dir/packages.list")
fi

# --- download what is not cached (one apt-get call for all) -------------------------------------
versions=$(apt-cache policy $wanted 2>/dev/null | awk '/^[^ ]/ { p = $1; sub(":$", "", p) } /Candidate:/ { print p "=" $2 }') || true
to_get=()
for pv in $versions; do
  p=${pv%%=*} v=${pv#*=}
  [ "$v" = "(none)" ] && continue
  fv=${v//:/%3a}
  ls "$debs/${p}_${fv}_"*.deb >/dev/null 2>&1 && continue
  # the busybox test OS may have downloaded the same kernel already (70 MB)
  shared=$(ls "$repo_root/.cache/test-os/cache/${p}_${fv}_"*.deb 2>/dev/null | head -n 1) || true
  if [ -n "$shared" ]; then cp "$shared" "$debs/"; continue; fi
  to_get+=("$pv")
done
if [ "${#to_get[@]}" -gt 0 ]; then
  say "downloading ${#to_get[@]} packages (apt-get download)"
  (cd "$debs" && apt-get -q -o APT::Sandbox::User=root download "${to_get[@]}" >&2) \
    || die "apt-get download failed (network to the Debian mirror? apt-get update?)"
fi
# The newest cached .deb of each wanted package.
deb_files=()
for p in $wanted; do
  f=$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -n 1)
  if [ -n "$f" ]; then deb_files+=("$f"); fi
done
echo "$wanted" >"$cache_dir/packages.list"
kernel_deb=$(printf '%s\n' "${deb_files[@]}" | grep '/linux-image-[0-9]' | tail -n 1) || die "no kernel package in $debs"
printf '%s\n' "${deb_files[@]}" | grep -q '/ignition_' || die "no ignition package in $debs"

# --- inputs, and the fast path -----------------------------------------------------------------
inputs_sha=$(
  {
    printf '%s\n' "${deb_files[@]##*/}" | sort
    echo "modules=$modules compress=$compress"
    sha256sum "$busybox_bin" | cut -d' ' -f1
    (cd "$files_dir" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
)
manifest=$out_dir/manifest.json
if [ -s "$manifest" ] && [ -s "$out_dir/vmlinuz" ] && [ -s "$out_dir/initrd.img" ] \
  && grep -q "\"inputsSha256\": \"$inputs_sha\"" "$manifest" \
  && grep -q "\"sha256\": \"$(sha256sum "$out_dir/initrd.img" | cut -d' ' -f1)\"" "$manifest"; then
  say "up to date: $out_dir"
  exit 0
fi
started=$(date +%s.%N)

# --- the pool: every package unpacked, /usr merged ----------------------------------------------
pool_key=$(printf '%s\n' "${deb_files[@]##*/}" | sort | sha256sum | cut -c1-16)
pool=$cache_dir/pool-$pool_key
if [ ! -s "$pool/.done" ]; then
  say "unpacking ${#deb_files[@]} packages"
  rm -rf "$pool" "$pool.tmp"
  mkdir -p "$pool.tmp"
  for f in "${deb_files[@]}"; do
    case $f in */linux-image-*) continue ;; esac
    dpkg-deb -x "$f" "$pool.tmp"
  done
  for d in bin sbin lib lib64; do
    if [ -d "$pool.tmp/$d" ] && [ ! -L "$pool.tmp/$d" ]; then
      mkdir -p "$pool.tmp/usr/$d"
      cp -a "$pool.tmp/$d/." "$pool.tmp/usr/$d/"
      rm -rf "$pool.tmp/$d"
    fi
    ln -sfn "usr/$d" "$pool.tmp/$d"
  done
  # kernel: vmlinuz and the modules we need, with a fresh modules.dep
  kroot=$pool.tmp/.kernel
  dpkg-deb -x "$kernel_deb" "$kroot"
  kver=$(ls "$kroot/lib/modules")
  [ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one kernel in ${kernel_deb##*/}"
  depmod -b "$kroot" "$kver"
  mkdir -p "$pool.tmp/.modules/lib/modules/$kver"
  for m in $modules; do
    deps=$(modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null) || { say "no module $m in $kver (built in?)"; continue; }
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      rel=${path#"$kroot/lib/modules/$kver/"}
      mkdir -p "$pool.tmp/.modules/lib/modules/$kver/$(dirname "$rel")"
      cp "$path" "$pool.tmp/.modules/lib/modules/$kver/$rel"
    done <<<"$deps"
  done
  cp "$kroot/lib/modules/$kver/modules.order" "$kroot/lib/modules/$kver/modules.builtin"* "$pool.tmp/.modules/lib/modules/$kver/"
  cp "$kroot/boot/vmlinuz-$kver" "$pool.tmp/.vmlinuz"
  echo "$kver" >"$pool.tmp/.kernel-version"
  rm -rf "$kroot"
  echo ok >"$pool.tmp/.done"
  mv "$pool.tmp" "$pool"
  find "$cache_dir" -maxdepth 1 -name 'pool-*' ! -name "pool-$pool_key" -exec rm -rf {} +
fi
kver=$(cat "$pool/.kernel-version")

# --- the image --------------------------------------------------------------------------------
stage=$(mktemp -d "$out_dir/.stage.XXXXXX")
trap 'rm -rf "$stage" "$out_dir"/.initrd.img.* "$out_dir"/.manifest.json.*' EXIT
chmod 0755 "$stage"   # mktemp made it 0700: the root directory of the image
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64,libexec/rackboot} "$stage"/{etc,var,root,proc,sys,dev,run,tmp,sysroot,mnt}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
chmod 1777 "$stage/tmp"
ln -s ../run "$stage/var/run"
mkdir -p "$stage/var/lib" "$stage/var/log" "$stage/var/tmp" && chmod 1777 "$stage/var/tmp"

copy_from_pool() { # copy_from_pool PATH... (files, symlinks or directories; missing ones are an error)
  local p
  for p in "$@"; do
    [ -e "$pool$p" ] || [ -L "$pool$p" ] || die "$p is not in the packages"
    mkdir -p "$stage$(dirname "$p")"
    cp -a "$pool$p" "$stage$(dirname "$p")/"
  done
}
# systemd and udev: PID 1, the units and generators, networkd, journald, udevd, the tools
copy_from_pool /usr/lib/systemd /usr/lib/udev /usr/lib/tmpfiles.d /usr/lib/sysusers.d \
  /usr/lib/x86_64-linux-gnu/systemd /etc/systemd /etc/udev
rm -rf "$stage/usr/lib/systemd/"{boot,user,user-generators,user-preset,user-environment-generators,catalog,portable,ntp-units.d,network/*.network} \
  "$stage/etc/systemd/user"
for b in systemctl journalctl udevadm networkctl systemd-tmpfiles systemd-sysusers systemd-escape \
  systemd-run systemd-notify systemd-cat systemd-machine-id-setup systemd-analyze busctl hostnamectl \
  curl mount umount; do
  copy_from_pool "/usr/bin/$b"
done
for b in useradd usermod userdel groupadd groupdel groupmod chpasswd; do copy_from_pool "/usr/sbin/$b"; done
# Ignition (the binary Debian ships for dracut) and its units, unchanged
ignition_dir=/usr/lib/dracut/modules.d/30ignition
cp "$pool$ignition_dir/ignition" "$stage/usr/bin/ignition"
for u in ignition-fetch-offline.service ignition-fetch.service ignition-disks.service ignition-mount.service \
  ignition-files.service ignition-complete.target ignition-subsequent.target ignition-diskful.target; do
  cp "$pool$ignition_dir/$u" "$stage/usr/lib/systemd/system/$u"
done
mkdir -p "$stage/usr/lib/systemd/system/ignition-complete.target.requires"
for u in ignition-fetch-offline.service ignition-fetch.service ignition-disks.service ignition-mount.service ignition-files.service; do
  ln -s "../$u" "$stage/usr/lib/systemd/system/ignition-complete.target.requires/$u"
done
# busybox for sh and the small tools systemd does not bring
cp "$busybox_bin" "$stage/usr/bin/busybox"
"$busybox_bin" --list | while read -r applet; do
  case $applet in init|linuxrc|mount|umount|halt|poweroff|reboot|modprobe|insmod|rmmod|lsmod|depmod) continue ;; esac
  [ -e "$stage/usr/bin/$applet" ] || [ -e "$stage/usr/sbin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet"
done
# kmod's tools are symlinks to kmod in Debian; udev loads modules itself through libkmod
copy_from_pool /usr/bin/kmod
for t in modprobe insmod rmmod lsmod depmod; do ln -sf ../bin/kmod "$stage/usr/sbin/$t"; done
cp -a "$pool/.modules/lib/modules" "$stage/usr/lib/"
depmod -b "$stage" "$kver"

# shared libraries: whatever ld.so resolves, first from the pool
libpath=$pool/usr/lib/x86_64-linux-gnu:$pool/usr/lib/x86_64-linux-gnu/systemd:$pool/usr/lib
find "$stage/usr" -type f \( -perm -u+x -o -name '*.so*' \) ! -path '*/usr/bin/busybox' -print0 | while IFS= read -r -d '' f; do
  [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || continue   # ELF files only
  "$ld_so" --library-path "$libpath" --list "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'
done | sort -u | while read -r lib; do
  rel=${lib#"$pool"}
  case $rel in /lib/*|/lib64/*) rel=/usr$rel ;; esac
  [ -e "$stage$rel" ] && continue
  [ "$rel" = "$lib" ] && say "warning: $lib comes from the host, not from the packages"
  mkdir -p "$stage$(dirname "$rel")"
  cp -L "$lib" "$stage$rel"
done
[ -e "$stage/usr/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$stage/usr/lib64"; cp -L "$pool/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$stage/usr/lib64/"; }
# libnss_files is inside glibc 2.36; curl wants CA certificates only for https (not used)

# rackboot's parts
install -m 0755 "$files_dir/rackboot-ignition-generator" "$stage/usr/lib/systemd/system-generators/rackboot-ignition-generator"
install -m 0755 "$files_dir/populate-sysroot" "$files_dir/test-callback" "$stage/usr/libexec/rackboot/"
install -m 0755 "$files_dir/rackboot-cloudinit" "$stage/usr/bin/rackboot-cloudinit"
install -m 0755 "$files_dir/setfiles" "$stage/usr/sbin/setfiles"
for u in sysroot.mount rackboot-populate-sysroot.service rackboot-booted.service rackboot-cloudinit.service; do
  install -m 0644 "$files_dir/$u" "$stage/usr/lib/systemd/system/$u"
done
mkdir -p "$stage/etc/systemd/network"
install -m 0644 "$files_dir/99-rackboot-dhcp.network" "$stage/etc/systemd/network/"
want() { # want TARGET UNIT: enable UNIT for TARGET (in /etc, like systemctl enable)
  mkdir -p "$stage/etc/systemd/system/$1.wants"
  ln -sf "/usr/lib/systemd/system/$2" "$stage/etc/systemd/system/$1.wants/$2"
}
mkdir -p "$stage/etc/systemd/system/initrd-root-fs.target.requires"
ln -sf /usr/lib/systemd/system/sysroot.mount "$stage/etc/systemd/system/initrd-root-fs.target.requires/"
ln -sf /usr/lib/systemd/system/rackboot-populate-sysroot.service "$stage/etc/systemd/system/initrd-root-fs.target.requires/"
want initrd.target systemd-networkd.service
want multi-user.target systemd-networkd.service
want network-online.target systemd-networkd-wait-online.service
want multi-user.target rackboot-booted.service
want multi-user.target rackboot-cloudinit.service
want sockets.target systemd-networkd.socket
ln -sf /usr/lib/systemd/system/multi-user.target "$stage/etc/systemd/system/default.target"
ln -s usr/lib/systemd/systemd "$stage/init"
ln -sf /usr/lib/systemd/systemd "$stage/usr/sbin/init"

# /etc: identity, users (networkd and timesyncd run as their own users), nss, journald on the console
cat >"$stage/etc/os-release" <<EOF
PRETTY_NAME="rackboot real test OS (Debian packages, systemd $(dpkg-deb -f "$(printf '%s\n' "${deb_files[@]}" | grep '/systemd_')" Version))"
NAME="rackboot-real-test-os"
ID=rackboot-real-test-os
ID_LIKE=debian
EOF
cp "$stage/etc/os-release" "$stage/etc/initrd-release"
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
systemd-timesync:x:997:997:systemd Time Synchronization:/:/usr/sbin/nologin
messagebus:x:100:102::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
adm:x:4:
tty:x:5:
disk:x:6:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
tape:x:26:
audio:x:29:
video:x:44:
utmp:x:43:
input:x:101:
kvm:x:103:
render:x:104:
sgx:x:105:
systemd-journal:x:999:
systemd-network:x:998:
systemd-timesync:x:997:
messagebus:x:102:
nogroup:x:65534:
EOF
printf 'root:*::0:99999:7:::\n' >"$stage/etc/shadow"
printf 'root:*::\n' >"$stage/etc/gshadow"
chmod 0640 "$stage/etc/shadow" "$stage/etc/gshadow"
printf 'passwd: files systemd\ngroup: files systemd\nshadow: files\nhosts: files dns\n' >"$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
# Debian builds Ignition to relabel for SELinux unless /sysroot/etc/selinux/config says it is off
mkdir -p "$stage/etc/selinux"
printf 'SELINUX=disabled\nSELINUXTYPE=default\n' >"$stage/etc/selinux/config"
: >"$stage/etc/machine-id"   # empty: first boot (presets are applied, Ignition's enabled units start)
ln -sf ../run/systemd/resolve/stub-resolv.conf "$stage/etc/resolv.conf" 2>/dev/null || true
rm -f "$stage/etc/resolv.conf" && : >"$stage/etc/resolv.conf"
mkdir -p "$stage/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nForwardToConsole=yes\nMaxLevelConsole=info\nTTYPath=/dev/ttyS0\n' >"$stage/etc/systemd/journald.conf.d/10-console.conf"
echo "rackboot-real-test-os kernel=$kver" >"$stage/etc/rackboot-test-os-release"

# Under TCG every udev rule and generator costs seconds: keep those a diskless VM with a NIC needs.
keep_rules=" 50-udev-default.rules 60-block.rules 60-persistent-storage.rules 60-serial.rules 64-btrfs.rules 80-drivers.rules 80-net-setup-link.rules 99-systemd.rules "
for r in "$stage"/usr/lib/udev/rules.d/*; do
  case $keep_rules in *" ${r##*/} "*) ;; *) rm -f "$r" ;; esac
done
for g in "$stage"/usr/lib/systemd/system-generators/*; do
  case ${g##*/} in systemd-fstab-generator|systemd-debug-generator|systemd-run-generator|rackboot-ignition-generator) ;; *) rm -f "$g" ;; esac
done
# units that only cost time here (no disk, no utmp readers, no hwdb, no catalog)
for u in systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-journal-catalog-update.service \
  systemd-hwdb-update.service ldconfig.service systemd-firstboot.service systemd-random-seed.service \
  modprobe@dm_mod.service modprobe@loop.service modprobe@fuse.service modprobe@drm.service modprobe@efi_pstore.service \
  modprobe@configfs.service systemd-pstore.service systemd-pcrphase.service systemd-pcrphase-initrd.service \
  systemd-pcrphase-sysinit.service systemd-boot-update.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
  dev-mqueue.mount systemd-repart.service systemd-tpm2-setup.service systemd-ask-password-console.path \
  systemd-ask-password-wall.path getty.target getty-static.service systemd-logind.service cryptsetup.target remote-cryptsetup.target veritysetup.target integritysetup.target; do
  ln -sf /dev/null "$stage/etc/systemd/system/$u"
done

# strip what no one reads here
rm -rf "${stage:?}/usr/share" "$stage/usr/lib/systemd/tests" "$stage/usr/lib/udev/hwdb.d" "$stage/usr/lib/x86_64-linux-gnu/gconv"
find "$stage" -name '*.a' -delete

if [ "$(id -u)" = 0 ]; then
  mknod -m 600 "$stage/dev/console" c 5 1
  mknod -m 666 "$stage/dev/null" c 1 3
fi
find "$stage" -exec touch -h -d @0 {} +
unpacked_bytes=$(du -sb "$stage" | cut -f1)
tmp_initrd=$(mktemp "$out_dir/.initrd.img.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z \
  | cpio --quiet --null -o -H newc --owner=0:0 --reproducible) | $compress >"$tmp_initrd"
chmod 0644 "$tmp_initrd"
cp "$pool/.vmlinuz" "$out_dir/.vmlinuz.new" && chmod 0644 "$out_dir/.vmlinuz.new"
tmp_manifest=$(mktemp "$out_dir/.manifest.json.XXXXXX")
package_json=$(printf '%s\n' "${deb_files[@]##*/}" | sort | sed 's/.*/"&"/' | paste -sd, - | sed 's/,/, /g')
cat >"$tmp_manifest" <<EOF
{
  "kernelVersion": "$kver",
  "packages": [$package_json],
  "unpackedBytes": $unpacked_bytes,
  "files": {
    "vmlinuz": { "bytes": $(stat -c %s "$out_dir/.vmlinuz.new"), "sha256": "$(sha256sum "$out_dir/.vmlinuz.new" | cut -d' ' -f1)" },
    "initrd.img": { "bytes": $(stat -c %s "$tmp_initrd"), "sha256": "$(sha256sum "$tmp_initrd" | cut -d' ' -f1)" }
  },
  "inputsSha256": "$inputs_sha",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
chmod 0644 "$tmp_manifest"
mv "$out_dir/.vmlinuz.new" "$out_dir/vmlinuz"
mv "$tmp_initrd" "$out_dir/initrd.img"
mv "$tmp_manifest" "$manifest"
say "built $out_dir: kernel $kver, initrd $(stat -c %s "$out_dir/initrd.img") bytes ($unpacked_bytes unpacked), $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
