#!/usr/bin/env bash
# Compiles the NDJSON converter's C scanner into glue/ndjson_to_parquet_converter/_scanner.so (`make native`).
# Without a C compiler the converter still works through its pure-Python fallback, only slower.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/ndjson_to_parquet_converter/_scanner.c"
out="$here/ndjson_to_parquet_converter/_scanner.so"
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build_native: no C compiler ($cc); ndjson_to_parquet_converter will use its Python fallback" >&2
  exit 0
fi
# -U_FORTIFY_SOURCE keeps __*_chk symbols (newer glibc versions) out; memcpy is pinned in the source.
# Written to a temporary name first so a process that has the old .so loaded is never handed a torn file.
tmp="$(mktemp "$out.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
"$cc" -std=c99 -O2 -shared -fPIC -U_FORTIFY_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror \
  -o "$tmp" "$src"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "build_native: built $out"
