#!/usr/bin/env bash
# Builds a small offline mirror laid out like Flatcar's, for rackboot's install tests:
#
#   scripts/build-test-mirror.sh [OUT_DIR] [VERSION]   (default: <repo>/.cache/test-mirror, 1.0.0)
#
#   OUT_DIR/flatcar/VERSION/
#     flatcar_production_image.bin.bz2    a bootable disk image in place of Flatcar's: an MBR
#                                         (syslinux mbr.bin) and one FAT partition labelled ROOT with
#                                         the test OS kernel and initrd and syslinux, whose kernel
#                                         command line makes the test OS boot as an installed
#                                         system (rackboot.test.installed: it reads the callback URL
#                                         and static network the install script wrote onto ROOT,
#                                         and calls back "ready")
#     flatcar_production_pxe.vmlinuz      the test OS kernel and initrd (the PXE boot)
#     flatcar_production_pxe_image.cpio.gz
#     version.txt
#     SHA256SUMS, SHA512SUMS              what `rackboot assets import` checks every file against
#
# No loop devices and no root: the FAT file system is written with mtools, syslinux installs its
# boot loader into the image file, sfdisk writes the partition table into the disk image file.
# Needs the test OS (scripts/build-test-os.sh). Debian packages: mtools syslinux syslinux-common
# fdisk bzip2. A second run with the same inputs only checks them.
#
# Environment: TEST_OS_DIR (default <repo>/.cache/test-os), TEST_MIRROR_APPEND (the installed
# system's kernel command line, default "console=ttyS0 rackboot.test.installed rackboot.test.poweroff").
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
out_dir=${1:-$repo_root/.cache/test-mirror}
version=${2:-1.0.0}
test_os=${TEST_OS_DIR:-$repo_root/.cache/test-os}
append=${TEST_MIRROR_APPEND:-console=ttyS0 rackboot.test.installed rackboot.test.poweroff}

say() { echo "build-test-mirror: $*" >&2; }
die() { say "error: $*"; exit 1; }

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$1 (apt-get install $2)"); }
need mformat mtools
need mcopy mtools
need syslinux syslinux
need sfdisk fdisk
need bzip2 bzip2
need sha256sum coreutils
need sha512sum coreutils
need flock util-linux
mbr=
for m in /usr/lib/syslinux/mbr/mbr.bin /usr/share/syslinux/mbr.bin /usr/lib/SYSLINUX/mbr.bin; do
  if [ -r "$m" ]; then mbr=$m; break; fi
done
[ -n "$mbr" ] || missing+=("syslinux's mbr.bin (apt-get install syslinux-common)")
for f in vmlinuz initrd.img; do
  [ -s "$test_os/$f" ] || missing+=("$test_os/$f (run scripts/build-test-os.sh)")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "missing prerequisites:"
  for m in "${missing[@]}"; do say "  - $m"; done
  exit 2
fi
[[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "bad version $version"

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
exec 9>"$out_dir/.lock"
flock -w 600 9 || die "another build holds $out_dir/.lock"

dest=$out_dir/flatcar/$version
inputs=$(
  {
    echo "version=$version append=$append"
    sha256sum "$test_os/vmlinuz" "$test_os/initrd.img" "$mbr" "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
)
if [ -s "$dest/.inputs" ] && [ "$(cat "$dest/.inputs")" = "$inputs" ] && (cd "$dest" && sha256sum --quiet -c SHA256SUMS); then
  say "up to date: $dest"
  exit 0
fi

started=$(date +%s.%N)
stage=$(mktemp -d "$out_dir/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

kernel_bytes=$(stat -c %s "$test_os/vmlinuz")
initrd_bytes=$(stat -c %s "$test_os/initrd.img")
# FAT16 with room to spare; the disk image is 1 MiB (MBR + gap) plus the partition
fat_mib=$(((kernel_bytes + initrd_bytes) / 1048576 + 5))
[ "$fat_mib" -ge 16 ] || fat_mib=16
fat=$stage/fat.img
truncate -s "${fat_mib}M" "$fat"
# -H 2048: the partition starts at sector 2048 (the boot sector must know where it is)
mformat -i "$fat" -v ROOT -N 52424f4f -H 2048 ::
cat >"$stage/syslinux.cfg" <<EOF
DEFAULT installed
PROMPT 0
TIMEOUT 0
LABEL installed
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND $append
EOF
mcopy -i "$fat" "$test_os/vmlinuz" ::/vmlinuz
mcopy -i "$fat" "$test_os/initrd.img" ::/initrd.img
mcopy -i "$fat" "$stage/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$fat"

disk=$stage/flatcar_production_image.bin
truncate -s $((fat_mib + 1))M "$disk"
printf 'label: dos\nstart=2048, type=6, bootable\n' | sfdisk --quiet "$disk"
dd if="$mbr" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$fat" of="$disk" bs=1M seek=1 conv=notrunc status=none
rm -f "$fat"

version_dir=$stage/flatcar/$version
mkdir -p "$version_dir"
bzip2 -9 -c "$disk" >"$version_dir/flatcar_production_image.bin.bz2"
rm -f "$disk"
cp "$test_os/vmlinuz" "$version_dir/flatcar_production_pxe.vmlinuz"
cp "$test_os/initrd.img" "$version_dir/flatcar_production_pxe_image.cpio.gz"
printf 'FLATCAR_VERSION=%s\nFLATCAR_BUILD=%s\n' "$version" "${version%%.*}" >"$version_dir/version.txt"
(
  cd "$version_dir"
  files=(flatcar_production_image.bin.bz2 flatcar_production_pxe.vmlinuz flatcar_production_pxe_image.cpio.gz version.txt)
  sha256sum "${files[@]}" >SHA256SUMS
  sha512sum "${files[@]}" >SHA512SUMS
)
echo "$inputs" >"$version_dir/.inputs"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$version_dir" "$dest"
say "built $dest: image $(stat -c %s "$dest/flatcar_production_image.bin.bz2") bytes (bz2, ${fat_mib} MiB FAT), $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
