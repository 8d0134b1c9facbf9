// Package drbd is the pure-logic core of the DRBD agent: a parser of
// `drbdsetup events2` output (DRBD 8.4 kernels under drbd-utils 9, and
// DRBD 9) into a typed Model, the promotion score decision of
// ocf:linbit:drbd's adjust_master_score, and the mapping of a resource's
// state to an OCF monitor result. Nothing here runs a command.
package drbd
