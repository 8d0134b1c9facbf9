// Package fencepeer is DRBD's fence-peer and unfence-peer handler for
// Pacemaker clusters (the drbd-fence command): a drop-in for LINBIT's
// crm-fence-peer.9.sh / crm-unfence-peer.9.sh and DRBD 8.4's
// crm-fence-peer.sh / crm-unfence-peer.sh. It places and removes the same
// location constraint, with the same id and rule, so that a cluster can
// switch between the two handlers either way.
//
// The pure parts (reading the CIB, finding the clone, building and
// comparing the constraint, classifying a peer's node state, choosing the
// exit code) are separate from the runs of the external tools, each of
// which sits behind a small interface (tools.go).
package fencepeer
