#!/bin/sh
# Writes regdb-countries.txt: the ISO 3166-1 alpha-2 codes that Debian's
# wireless-regdb knows (the country table of regulatory.db), one line, in
# the database's order. Run it when wireless-regdb changes:
#   sh box/settings/data/make-regdb-countries.sh > box/settings/data/regdb-countries.txt
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download wireless-regdb >/dev/null && dpkg-deb -x wireless-regdb_*.deb x)
python3 - "$tmp/x/lib/firmware/regulatory.db-debian" <<'PY'
import gzip, struct, sys
d = open(sys.argv[1], 'rb').read()
if d[:2] == b'\x1f\x8b':
    d = gzip.decompress(d)
magic, version = struct.unpack('>II', d[:8])
assert magic == 0x52474442 and version == 20, (hex(magic), version)
codes, off = [], 8
while d[off:off + 2] != b'\0\0':
    codes.append(d[off:off + 2].decode())
    off += 4
print(' '.join(c for c in codes if c != '00'))
PY
