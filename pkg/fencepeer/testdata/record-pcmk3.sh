#!/bin/sh
# Re-records the CIBs of pcmk3/ with Pacemaker 3.0 (Debian trixie), without
# touching the host: record.sh runs in a chroot of the test bed's cached
# image, as pkg/asterisk/testdata/record/record.sh does for Asterisk:
#   sudo sh testdata/record-pcmk3.sh [ROOTFS [OUTDIR]]
# ROOTFS defaults to the newest /var/cache/gocf/testbed/<hash>/rootfs with
# an `ok` file next to it (an empty ROOTFS too); OUTDIR to testdata/pcmk3. The rootfs is only
# read (it is the lower layer of running test nodes): an overlay with a
# fresh temporary upper/work is mounted in a private mount namespace, with
# private network (lo only), UTS and PID namespaces, so nothing started
# outlives it or touches the host. The Pacemaker version that recorded the
# files is written to OUTDIR/VERSION.
set -eu
HERE=$(dirname "$(readlink -f "$0")")
if [ -n "${1:-}" ]; then
	ROOTFS=$(readlink -f "$1")
else
	ok=$(ls -t /var/cache/gocf/testbed/*/ok | head -n 1)
	ROOTFS=$(dirname "$ok")/rootfs
fi
OUT=$(readlink -f "${2:-$HERE/pcmk3}")
[ -x "$ROOTFS/usr/sbin/cibadmin" ] || { echo "$ROOTFS has no cibadmin" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/rec-pcmk.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/upper" "$TMP/work" "$TMP/merged"
unshare --mount --net --uts --pid --fork --propagation private sh -euc '
  ROOTFS=$1 TMP=$2 HERE=$3 OUT=$4 M=$2/merged
  ip link set lo up 2>/dev/null || true
  hostname node1
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$TMP/upper,workdir=$TMP/work" "$M"
  mount -t proc proc "$M/proc"
  mount --bind /dev "$M/dev"
  mount -t tmpfs tmpfs "$M/run"
  mount -t tmpfs tmpfs "$M/tmp"
  cp "$HERE/record.sh" "$M/tmp/"
  mkdir "$M/tmp/out"
  timeout 300 chroot "$M" bash /tmp/record.sh /tmp/out
  { chroot "$M" cibadmin --version | head -n 1; chroot "$M" pacemakerd --version | head -n 1
    chroot "$M" dpkg-query -W -f "\${Package} \${Version}\n" pacemaker-cli-utils; } > "$M/tmp/out/VERSION"
  cp -a "$M/tmp/out/." "$OUT/"
' sh "$ROOTFS" "$TMP" "$HERE" "$OUT"
