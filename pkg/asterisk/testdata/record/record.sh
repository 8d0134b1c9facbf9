#!/bin/sh
# Record Asterisk's answers for pkg/asterisk/testdata, without the test bed:
#   sudo sh record.sh ROOTFS OUTDIR
# ROOTFS is the test bed's cached image (Debian trixie with asterisk and
# python3), e.g. /var/cache/gocf/testbed/<hash>/rootfs; it is only read:
# an overlay (upper/work in a fresh temporary directory) is mounted in a
# private mount namespace, with private network (lo only), UTS (hostname
# pbx1) and PID namespaces, so everything started dies with it and nothing
# touches the host's network. conf/ is the configuration of
# tests/cluster/asterisk_test.go with pjsip bound to 127.0.0.1;
# record.py runs in the chroot and writes its recordings to OUTDIR.
set -eu
ROOTFS=$(readlink -f "$1"); OUT=$(readlink -f "$2"); HERE=$(dirname "$(readlink -f "$0")")
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/rec-ast.XXXXXX)
mkdir "$TMP/upper" "$TMP/work" "$TMP/merged"
unshare --mount --net --uts --pid --fork --propagation private sh -euc '
  ROOTFS=$1 TMP=$2 HERE=$3 OUT=$4 M=$2/merged
  ip link set lo up
  hostname pbx1
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$TMP/upper,workdir=$TMP/work" "$M"
  mount -t proc proc "$M/proc"
  mount --bind /dev "$M/dev"
  mount -t tmpfs tmpfs "$M/run"
  mount -t tmpfs tmpfs "$M/tmp"
  mkdir -p "$M/etc/gocf-test" "$M/run/asterisk"
  cp -a "$M/etc/asterisk/." "$M/etc/gocf-test/"
  cp "$HERE"/conf/* "$M/etc/gocf-test/"
  chmod -R a+rX "$M/etc/gocf-test"
  chroot "$M" chown asterisk:asterisk /run/asterisk
  cp "$HERE/record.py" "$M/tmp/"
  timeout 180 chroot "$M" python3 /tmp/record.py /tmp/rec || echo "record.py: exit $?"
  cp -a "$M/tmp/rec/." "$OUT/"
' sh "$ROOTFS" "$TMP" "$HERE" "$OUT"
rm -rf "$TMP"
