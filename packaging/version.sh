#!/bin/sh
# Prints the package version. On a release tag vX.Y.Z: X.Y.Z. Between tags:
# a pre-release of the next patch release, X.Y.(Z+1)~dev.N.gSHA, which both
# dpkg and rpm sort after the last release and before the next one. With no
# tag yet: 0.1.0~dev.N.gSHA.
set -e
d=$(git describe --tags --match 'v[0-9]*.[0-9]*.[0-9]*' --long 2>/dev/null || true)
sha=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -z "$d" ]; then
	echo "0.1.0~dev.$(git rev-list --count HEAD 2>/dev/null || echo 0).g$sha"
	exit 0
fi
tag=${d%-*-g*}
n=${d#"$tag"-}
n=${n%-g*}
v=${tag#v}
if [ "$n" = 0 ]; then
	echo "$v"
	exit 0
fi
major=${v%%.*}
rest=${v#*.}
minor=${rest%%.*}
patch=${rest#*.}
echo "$major.$minor.$((patch + 1))~dev.$n.g$sha"
