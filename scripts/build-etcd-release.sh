#!/usr/bin/env bash
# Packs Debian's etcd the way upstream etcd release tarballs are laid out, for rackboot's offline
# mirror:
#
#   scripts/build-etcd-release.sh [OUT_DIR]        (default: <repo>/.cache/etcd-release)
#
#   OUT_DIR/etcd-vX.Y.Z-linux-amd64.tar.gz     etcd-vX.Y.Z-linux-amd64/{etcd,etcdctl,README.md}
#   OUT_DIR/etcd-vX.Y.Z-linux-amd64/           the same, unpacked (etcd, etcdctl)
#   OUT_DIR/SHA256SUMS                         of the tarball
#
# X.Y.Z is the upstream part of the Debian version (3.4.23-4+b4 -> v3.4.23). The binaries come from
# the etcd-server and etcd-client .debs (`apt-get download` into OUT_DIR/cache, never installed);
# without package lists or network, from the installed /usr/bin/etcd and /usr/bin/etcdctl.
# The tarball is reproducible (sorted, owner 0, mtime 0); a second run with the same packages only
# checks it.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
out_dir=${1:-$repo_root/.cache/etcd-release}

say() { echo "build-etcd-release: $*" >&2; }
die() { say "error: $*"; exit 1; }

for c in apt-get dpkg-deb tar gzip sha256sum flock; do
  command -v "$c" >/dev/null 2>&1 || die "missing $c"
done
mkdir -p "$out_dir/cache"
out_dir=$(cd "$out_dir" && pwd)
exec 9>"$out_dir/.lock"
flock -w 300 9 || die "another build holds $out_dir/.lock"

src=$(mktemp -d "$out_dir/.src.XXXXXX")
trap 'rm -rf "$src"' EXIT
debian_version=
if (cd "$out_dir/cache" && apt-get -q -o APT::Sandbox::User=root download etcd-server etcd-client >/dev/null 2>&1) \
  || ls "$out_dir"/cache/etcd-server_*.deb >/dev/null 2>&1; then
  server_deb=$(ls "$out_dir"/cache/etcd-server_*.deb | sort -V | tail -n 1)
  client_deb=$(ls "$out_dir"/cache/etcd-client_*.deb | sort -V | tail -n 1)
  dpkg-deb -x "$server_deb" "$src/root"
  dpkg-deb -x "$client_deb" "$src/root"
  debian_version=$(dpkg-deb -f "$server_deb" Version)
  etcd_bin=$src/root/usr/bin/etcd
  etcdctl_bin=$src/root/usr/bin/etcdctl
elif [ -x /usr/bin/etcd ] && [ -x /usr/bin/etcdctl ]; then
  say "apt-get download failed; packing the installed /usr/bin/etcd and /usr/bin/etcdctl"
  debian_version=$(dpkg-query -W -f='${Version}' etcd-server)
  etcd_bin=/usr/bin/etcd
  etcdctl_bin=/usr/bin/etcdctl
else
  die "no etcd: apt-get download etcd-server etcd-client failed and they are not installed"
fi
[ -x "$etcd_bin" ] && [ -x "$etcdctl_bin" ] || die "the packages have no usr/bin/etcd or usr/bin/etcdctl"
upstream=${debian_version#*:}
upstream=${upstream%%-*}
upstream=${upstream%%+*}
[[ $upstream =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read an upstream version from $debian_version"
name=etcd-v$upstream-linux-amd64
tarball=$out_dir/$name.tar.gz

inputs=$( { sha256sum "$etcd_bin" "$etcdctl_bin" | cut -d' ' -f1; echo "$debian_version"; sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)
if [ -s "$tarball" ] && [ -s "$out_dir/.inputs" ] && [ "$(cat "$out_dir/.inputs")" = "$inputs" ] \
  && (cd "$out_dir" && sha256sum --quiet -c SHA256SUMS) 2>/dev/null; then
  say "up to date: $tarball"
  exit 0
fi

mkdir -p "$src/$name"
install -m 0755 "$etcd_bin" "$src/$name/etcd"
install -m 0755 "$etcdctl_bin" "$src/$name/etcdctl"
cat >"$src/$name/README.md" <<EOF
# etcd v$upstream (linux-amd64)

Debian's etcd $debian_version (packages etcd-server, etcd-client) packed like an upstream etcd
release tarball by rackboot's scripts/build-etcd-release.sh.
EOF
find "$src/$name" -exec touch -h -d @0 {} +
(cd "$src" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - "$name") | gzip -9n >"$tarball.tmp"
mv "$tarball.tmp" "$tarball"
rm -rf "${out_dir:?}/$name"
cp -a "$src/$name" "$out_dir/$name"
(cd "$out_dir" && sha256sum "$name.tar.gz" >SHA256SUMS)
echo "$inputs" >"$out_dir/.inputs"
say "built $tarball ($(stat -c %s "$tarball") bytes) from etcd $debian_version"
