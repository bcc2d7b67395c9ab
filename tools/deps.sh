#!/usr/bin/env bash
# Installs the Debian packages copapy-cc needs to build and test, if any are missing.
# Idempotent: when everything is present it only runs dpkg-query (well under a second).
set -euo pipefail

PKGS=(
  # host build
  build-essential cmake ninja-build pkg-config python3
  # benchmarks: GNU time measures the compiler's peak memory (tools/bench)
  time
  # tracer tests: static types (mypy --strict) and pip install into a venv
  mypy python3-venv
  libcli11-dev libfmt-dev nlohmann-json3-dev catch2 llvm-14-dev
  # sanitizer build and fuzzers (the sanitize preset, tools/fuzz.sh): clang with
  # its ASan/UBSan runtimes and libFuzzer (libclang_rt.fuzzer-x86_64.a)
  clang-14 libclang-rt-14-dev
  # static libtinfo.a and libz.a: LLVM's static libraries need them (see CMakeLists.txt)
  libncurses-dev zlib1g-dev
  # manual pages: the test renders them (man -l, nroff)
  man-db groff-base
  # math library: musl's source package is fetched by the stencil build
  dpkg-dev
  # cross targets (stencils + runners) and emulators for the tests
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
  # thumbv7em: newlib-source (its math functions, built -fPIE for the stencils),
  # picolibc (the bare-metal example's C library and semihosting)
  gcc-arm-none-eabi newlib-source picolibc-arm-none-eabi
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
  # riscv32 (bare metal): the rv32imafc/ilp32f multilib, picolibc for the
  # semihosting runner, and qemu-system-riscv32 (in qemu-system-misc)
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
  gcc-i686-linux-gnu libc6-dev-i386-cross
  # the compiler's sources checked for an AArch64 host (test other-hosts)
  g++-aarch64-linux-gnu
  # armv6 runner: armel glibc is ARMv5TE code (armhf's needs ARMv7)
  gcc-arm-linux-gnueabi libc6-dev-armel-cross
  qemu-user qemu-system-arm
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
