#!/bin/sh
# Makes the sample pack's files from the guide's sources (guide/), then
# prints the size and sha256 to pin in ../clic-exemples.toml. Needs tar,
# python3, ffmpeg (Debian) and libzim (pip). The ZIM gets a new random UUID
# at each run, the others the same bytes.
set -eu
cd "$(dirname "$0")"
tar --sort=name --mtime=@1735689600 --owner=0 --group=0 --numeric-owner \
    --format=ustar -C guide -cf poele-fusee.tar index.html style.css
python3 make-pdf.py guide/index.html poele-fusee.pdf
# 4 s of a test pattern with a 440 Hz tone, 160x120, VP8/Vorbis in WebM.
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=160x120:rate=10:duration=4 \
    -f lavfi -i sine=frequency=440:duration=4 -c:v libvpx -b:v 64k -c:a libvorbis \
    -fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1 mire.webm
# 3 s of a chord, Opus in Ogg.
ffmpeg -loglevel error -y -f lavfi -i "sine=frequency=262:duration=3" \
    -f lavfi -i "sine=frequency=330:duration=3" -filter_complex amix=inputs=2 \
    -c:a libopus -b:a 24k -fflags +bitexact -flags:a +bitexact -map_metadata -1 accord.ogg
python3 make-zim.py guide poele-fusee.zim
for f in poele-fusee.tar poele-fusee.pdf mire.webm accord.ogg poele-fusee.zim; do
    printf '%s size = %s sha256 = "%s"\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
