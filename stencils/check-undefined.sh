#!/usr/bin/env bash
# Fails unless the only undefined symbols of a stencil object are the
# placeholders the compiler resolves (result_* continuations, cp_hole_*
# memory operands). Anything else (memcpy, __errno_location, __stack_chk_guard)
# would be a call the generated code cannot make.
set -euo pipefail
nm=${1:?usage: check-undefined.sh NM OBJECT}
obj=${2:?usage: check-undefined.sh NM OBJECT}
bad=$("$nm" -u "$obj" | awk '{print $2}' | grep -Ev '^(result_(ii|if|fi|ff)|cp_hole_[if]|_GLOBAL_OFFSET_TABLE_)$' || true)
if [ -n "$bad" ]; then
  echo "error: $obj: undefined symbols other than stencil placeholders:" >&2
  echo "$bad" | sed 's/^/  /' >&2
  exit 1
fi
