#!/usr/bin/env bash
# tests/arm64/python-root.sh ROOT — an arm64 (aarch64) CPython from Debian's
# own arm64 packages, unpacked into ROOT, to run under qemu-user:
#
#   qemu-aarch64-static -L ROOT ROOT/usr/bin/python3 -P -c 'import platform; print(platform.machine())'
#
# Nothing is installed on the machine and its dpkg is left alone (no
# `dpkg --add-architecture`): a private apt state in ROOT.apt/ lists this
# machine's own Debian sources for arm64, `apt-get download` fetches the
# packages and `dpkg-deb -x` unpacks them. Does nothing when ROOT already
# runs. Needs apt-get (Debian) and qemu-aarch64-static (qemu-user-static).
set -euo pipefail

root=${1:?usage: python-root.sh ROOT}
qemu=qemu-aarch64-static
if [[ -x $root/usr/bin/python3 ]] && "$qemu" -L "$root" "$root/usr/bin/python3" -P -c 'pass' 2>/dev/null; then
    exit 0
fi
state=$root.apt
rm -rf "$root" "$state"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$root"
touch "$state/status"

# This machine's Debian sources (those apt-cache says Debian publishes), for
# arm64: each "500 URI SUITE/COMPONENT amd64 Packages" line whose release
# line says o=Debian.
apt-cache policy | awk '
    / Packages$/ && NF >= 5 { uri = $2; split($3, sc, "/"); next_is_release = 1; next }
    next_is_release && /release/ && /o=Debian,/ { print "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " uri " " sc[1] " " sc[2] }
    { next_is_release = 0 }' | sort -u >"$state/sources.list"
if [[ ! -s $state/sources.list ]]; then
    echo "python-root.sh: no Debian source found in apt-cache policy (not a Debian machine?)" >&2
    exit 1
fi

apt_opts=(-o "Dir::State=$state" -o "Dir::State::status=$state/status" -o "Dir::Cache=$state/cache"
    -o "Dir::Etc::sourcelist=$state/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
    -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" -qq update
# CPython 3.11 (bookworm's) and the libraries its standard modules load.
(cd "$state/debs" && apt-get "${apt_opts[@]}" -qq download \
    libc6 libgcc-s1 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5 libuuid1 libcrypt1 libssl3 \
    python3.11-minimal libpython3.11-minimal libpython3.11-stdlib)
for deb in "$state/debs"/*.deb; do
    dpkg-deb -x "$deb" "$root"
done
ln -sfn python3.11 "$root/usr/bin/python3"
"$qemu" -L "$root" "$root/usr/bin/python3" -P -c \
    'import platform, sys; print("== arm64 CPython", sys.version.split()[0], platform.machine())'
