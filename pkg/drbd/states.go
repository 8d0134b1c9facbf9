package drbd

// State values are kept as the strings drbdsetup prints, not as enums: new
// kernels and drbd-utils add values, and an 8.4 kernel under drbd-utils 9
// prints some 8.4 names verbatim (a connection can read SyncSource). Code
// compares against the constants below and treats anything else as unknown.

// Role is a resource's role, or a peer's role on a connection line.
type Role string

const (
	Primary     Role = "Primary"
	Secondary   Role = "Secondary"
	RoleUnknown Role = "Unknown"
)

// DiskState is a local (device disk:) or peer (peer-device peer-disk:) disk state.
type DiskState string

const (
	Diskless     DiskState = "Diskless"
	Attaching    DiskState = "Attaching"
	Detaching    DiskState = "Detaching"
	Failed       DiskState = "Failed"
	Negotiating  DiskState = "Negotiating"
	Inconsistent DiskState = "Inconsistent"
	Outdated     DiskState = "Outdated"
	DUnknown     DiskState = "DUnknown"
	Consistent   DiskState = "Consistent"
	UpToDate     DiskState = "UpToDate"
)

// Transient tells whether the disk is between states (attach in progress):
// decisions taken now would be based on a state about to change.
func (d DiskState) Transient() bool { return d == Attaching || d == Negotiating }

// ConnState is a connection's state (connection:).
type ConnState string

const (
	StandAlone     ConnState = "StandAlone"
	Disconnecting  ConnState = "Disconnecting"
	Unconnected    ConnState = "Unconnected"
	Timeout        ConnState = "Timeout"
	BrokenPipe     ConnState = "BrokenPipe"
	NetworkFailure ConnState = "NetworkFailure"
	ProtocolError  ConnState = "ProtocolError"
	TearDown       ConnState = "TearDown"
	Connecting     ConnState = "Connecting"
	Connected      ConnState = "Connected"
	// WFConnection is the 8.4 name of Connecting; drbd-utils 9 maps it, older
	// utils and /proc/drbd do not.
	WFConnection ConnState = "WFConnection"
)

// ReplState is a peer device's replication state (replication:).
type ReplState string

const (
	ReplOff       ReplState = "Off"
	Established   ReplState = "Established"
	SyncSource    ReplState = "SyncSource"
	SyncTarget    ReplState = "SyncTarget"
	PausedSyncS   ReplState = "PausedSyncS"
	PausedSyncT   ReplState = "PausedSyncT"
	StartingSyncS ReplState = "StartingSyncS"
	StartingSyncT ReplState = "StartingSyncT"
	WFBitMapS     ReplState = "WFBitMapS"
	WFBitMapT     ReplState = "WFBitMapT"
	WFSyncUUID    ReplState = "WFSyncUUID"
	VerifyS       ReplState = "VerifyS"
	VerifyT       ReplState = "VerifyT"
	Ahead         ReplState = "Ahead"
	Behind        ReplState = "Behind"
)

// replicating lists the replication states that need a live connection.
// With an 8.4 kernel drbd-utils prints the 8.4 cstate in connection: for
// some of these, so a connection reading one of them is connected too.
var replicating = map[string]bool{
	string(Established): true, string(SyncSource): true, string(SyncTarget): true,
	string(PausedSyncS): true, string(PausedSyncT): true, string(StartingSyncS): true,
	string(StartingSyncT): true, string(WFBitMapS): true, string(WFBitMapT): true,
	string(WFSyncUUID): true, string(VerifyS): true, string(VerifyT): true,
	string(Ahead): true, string(Behind): true,
}

// Resyncing tells whether a resync is running or about to run on this peer device.
func (r ReplState) Resyncing() bool {
	switch r {
	case SyncSource, SyncTarget, PausedSyncS, PausedSyncT, StartingSyncS,
		StartingSyncT, WFBitMapS, WFBitMapT, WFSyncUUID:
		return true
	}
	return false
}

// Tristate is a yes/no key that may be absent (older drbd-utils, 8.4
// kernels) or reported as "unknown"; absence must not read as "no".
type Tristate int8

const (
	Unset Tristate = iota
	No
	Yes
)

func parseTristate(v string) Tristate {
	switch v {
	case "yes":
		return Yes
	case "no":
		return No
	}
	return Unset
}

func (t Tristate) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unset"
}
