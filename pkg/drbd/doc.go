// Package drbd is the gocf DRBD agent (ocf:gocf:drbd), a promotable clone
// compatible with ocf:linbit:drbd's parameters.
//
// Its pure-logic core runs no command: a parser of `drbdsetup events2`
// output (DRBD 8.4 kernels under drbd-utils 9, and DRBD 9) into a typed
// Model, the promotion score decision of ocf:linbit:drbd's
// adjust_master_score, and the mapping of a resource's state to an OCF
// monitor result. The agent (agent.go, actions.go) drives drbdadm,
// drbdsetup and crm_attribute through the small interfaces of tools.go.
package drbd
