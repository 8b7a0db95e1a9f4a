#!/usr/bin/env bash
# Fetch etcd 3.5 (etcd, etcdctl, etcdutl) from Debian's trixie suite into DEST
# without changing the machine's apt configuration.
#
# Debian 12 ships etcd 3.4.23 (no etcdutl). trixie's 3.5 binaries link only libc
# and run on bookworm; so do sid's and forky's (3.5.30 when this was written). The mirror
# is taken from this machine's own apt sources: no host name is written here.
#
# usage: scripts/fetch-etcd.sh DEST [SUITE [VERSION]]
#   VERSION: the etcd version the suite must ship (e.g. 3.5.30). A suite that moves on (sid)
#   then fails here, naming what it ships, instead of filling DEST with another version.
set -euo pipefail

dest=${1:?usage: fetch-etcd.sh DEST [SUITE [VERSION]]}
suite=${2:-trixie}
want=${3:-}

# etcd 3.4 (Debian bookworm) has no etcdutl: restore there is `etcdctl snapshot restore`
tools=(etcd etcdctl etcdutl)
[[ $suite == bookworm ]] && tools=(etcd etcdctl)
if [[ -x "$dest/etcd" && -x "$dest/etcdctl" && ( ${#tools[@]} -eq 2 || -x "$dest/etcdutl" ) ]]; then
    have=$("$dest/etcd" --version) || have=""
    if [[ -z $want || ${have%%$'\n'*} == "etcd Version: $want" ]]; then
        echo "etcd binaries already in $dest"
        exit 0
    fi
fi

mirror_uri() {
    # First Debian "main" archive URI configured on this machine (deb822 or one-line).
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
        if [[ -n $uri && $uri != *security* ]]; then echo "$uri"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        uri=$(awk '$1 == "deb" && $0 !~ /security/ && $0 ~ /debian/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' "$f")
        if [[ -n $uri ]]; then echo "$uri"; return; fi
    done
    return 1
}

uri=$(mirror_uri) || { echo "fetch-etcd: no Debian mirror found in /etc/apt sources" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
cat >"$work/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main
EOF
apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=-"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root"
)
echo "fetch-etcd: reading the $suite package list"
apt-get "${apt_opts[@]}" update -qq
pkgs=("etcd-server/$suite" "etcd-client/$suite")
if [[ -n $want ]]; then
    pkgs=()
    for pkg in etcd-server etcd-client; do
        # `apt-cache madison` lists "PKG | DEBIAN-VERSION | ..."; the upstream version is
        # DEBIAN-VERSION without its epoch and Debian revision (3.5.30-1+b2 -> 3.5.30)
        debver=$(apt-cache "${apt_opts[@]}" madison "$pkg" | awk -F' [|] ' -v want="$want" '
            { gsub(/ /, "", $2); v = $2; sub(/^[0-9]+:/, "", v); up = v; sub(/-[^-]*$/, "", up)
              if (up == want) { print $2; exit } }')
        if [[ -z $debver ]]; then
            echo "fetch-etcd: $suite does not ship $pkg $want; it has:" >&2
            apt-cache "${apt_opts[@]}" madison "$pkg" >&2 || true
            exit 1
        fi
        pkgs+=("$pkg=$debver")
    done
fi
(cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq "${pkgs[@]}")
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/root"; done
mkdir -p "$dest"
for bin in "${tools[@]}"; do
    src="$work/root/usr/bin/$bin"
    [[ -f $src ]] || { echo "fetch-etcd: $bin not found in the $suite packages" >&2; exit 1; }
    install -m 0755 "$src" "$dest/$bin"
done
version=$("$dest/etcd" --version)  # no pipe into head: SIGPIPE + pipefail would fail the script
echo "${version%%$'\n'*}"
if [[ -n $want && ${version%%$'\n'*} != "etcd Version: $want" ]]; then
    echo "fetch-etcd: $dest/etcd is not etcd $want" >&2
    exit 1
fi
