// Package ocf is the small SDK every gocf agent is built on: an agent is
// declared once (parameters, actions) and this package derives parsing of
// OCF_RESKEY_*, validation, meta-data XML, documentation and dispatch from it.
package ocf

import "fmt"

// BuildVersion is the gocf release, stamped by the Makefile (-X).
var BuildVersion = "0.1.0-dev"

// Status is an OCF exit code.
type Status int

// Exit codes as defined by the OCF Resource Agent API (1.0 and 1.1).
const (
	Success          Status = 0
	ErrGeneric       Status = 1
	ErrArgs          Status = 2
	ErrUnimplemented Status = 3
	ErrPerm          Status = 4
	ErrInstalled     Status = 5
	ErrConfigured    Status = 6
	NotRunning       Status = 7
	RunningPromoted  Status = 8
	FailedPromoted   Status = 9
	Degraded         Status = 190
	DegradedPromoted Status = 191
)

var statusNames = map[Status]string{
	Success:          "OCF_SUCCESS",
	ErrGeneric:       "OCF_ERR_GENERIC",
	ErrArgs:          "OCF_ERR_ARGS",
	ErrUnimplemented: "OCF_ERR_UNIMPLEMENTED",
	ErrPerm:          "OCF_ERR_PERM",
	ErrInstalled:     "OCF_ERR_INSTALLED",
	ErrConfigured:    "OCF_ERR_CONFIGURED",
	NotRunning:       "OCF_NOT_RUNNING",
	RunningPromoted:  "OCF_RUNNING_PROMOTED",
	FailedPromoted:   "OCF_FAILED_PROMOTED",
	Degraded:         "OCF_DEGRADED",
	DegradedPromoted: "OCF_DEGRADED_PROMOTED",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OCF status %d", int(s))
}

// Failed tells whether s reports a failure of the action rather than a
// state. NotRunning is a state for a probe and a failure otherwise; callers
// that know the context decide that case themselves.
func (s Status) Failed() bool {
	switch s {
	case Success, RunningPromoted, Degraded, DegradedPromoted:
		return false
	}
	return true
}
