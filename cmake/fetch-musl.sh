#!/usr/bin/env bash
# Fetches and unpacks Debian's musl *source* package into DEST (idempotent),
# normally the per-machine cache COPAPY_CACHE_DIR/musl (stencils/musl-source.cmake):
# this is the only step of the build that needs the network.
#
# Why the source package: Debian's prebuilt libm archives are PIC with stack
# protector / TLS errno (GOT and TLS relocations), which stencils cannot use.
# We compile musl's src/math ourselves with our own flags for every target.
#
# The system's apt configuration is left untouched: a private apt state (own
# source list, lists and cache directories) with a deb-src entry for the same
# mirror and suite that the system's Debian source uses.
set -euo pipefail
dest=${1:?usage: fetch-musl.sh DEST}
[ -f "$dest/src/math/sinf.c" ] && exit 0

# Find the mirror of the system's main Debian source (deb822 or one-line format).
uri="" suite="" keyring=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  suite=$(awk '/^Suites:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  keyring=$(awk '/^Signed-By:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  read -r uri suite < <(awk '$1=="deb" && $2 !~ /^\[/ {print $2, $3; exit}' /etc/apt/sources.list)
fi
if [ -z "$uri" ] || [ -z "$suite" ]; then
  echo "fetch-musl: cannot find a Debian source in /etc/apt" >&2; exit 1
fi
keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}

echo "fetch-musl: downloading Debian's musl source package from $uri into $dest" \
     "(once per machine: the stencils' math library is built from it; needs the network)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=$keyring] $uri $suite main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root"
          -o "Debug::NoLocking=1")
if ! apt-get "${apt_opts[@]}" -qq update || ! ls "$work"/lists/*Sources* >/dev/null 2>&1; then
  echo "fetch-musl: cannot read the source index of $uri $suite (is the network reachable?)" >&2; exit 1
fi
if ! (cd "$work/src" && apt-get "${apt_opts[@]}" -qq source --download-only musl); then
  echo "fetch-musl: apt-get source musl failed (from $uri $suite)" >&2; exit 1
fi
dsc=$(ls "$work"/src/musl_*.dsc | head -n1)
# Unpack (and apply Debian's patches) inside the scratch directory: dpkg-source
# also drops the upstream tarball next to the tree it makes.
dpkg-source --no-check -x "$dsc" "$work/src/musl" >/dev/null
# Into place in one rename, so that a concurrent configure sees the whole tree
# or none (if one got there first, its tree stays).
mkdir -p "$(dirname "$dest")"
staged=$(mktemp -d "$dest.tmp.XXXXXX")
mv "$work/src/musl" "$staged/musl"
if ! mv -T "$staged/musl" "$dest" 2>/dev/null; then
  [ -f "$dest/src/math/sinf.c" ] || { echo "fetch-musl: cannot move the tree into $dest" >&2; rm -rf "$staged"; exit 1; }
fi
rm -rf "$staged"
echo "fetch-musl: unpacked $(basename "$dsc" .dsc) into $dest" >&2
