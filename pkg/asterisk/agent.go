package asterisk

import (
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// Agent returns the asterisk agent's declaration, on the real system.
func Agent() *ocf.Agent { return agentWith(execTools) }

// agentWith builds the declaration on other tools (tests replay recorded
// behaviour of Asterisk).
func agentWith(tools func() Tools) *ocf.Agent {
	a := &agent{tools: tools}
	return &ocf.Agent{
		Name:    "asterisk",
		Version: ocf.BuildVersion,
		Short:   "Manages an Asterisk PBX and checks that it can take calls",
		Long: `Starts, stops and monitors an Asterisk PBX. It takes the parameters of
ocf:heartbeat:asterisk with the same meanings, so a resource can switch
agents by changing ocf:heartbeat:asterisk to ocf:gocf:asterisk.

Start reports success the moment Asterisk says it is fully booted on its
control socket. The monitor talks to Asterisk itself, with no asterisk -rx
process: depth 0 checks the instance's process and runs a CLI command over
the control socket (a stopped Asterisk fails at once, a hung one after half
the timeout); depth 10
also asks the Asterisk REST Interface when ari_url is set (failure there is
reported as degraded, 190: calls still work). With monitor_sipuri set,
every monitor also sends a SIP OPTIONS request there and wants a final
answer that is not a server failure (5xx), as ocf:heartbeat:asterisk wants
an answer; sip_check_depth=20 keeps that to the depth 20 monitor. Stop first
stops taking new calls and lets active calls end for up to
call_drain_timeout seconds, then stops Asterisk, then terminates and kills
what remains of this instance; it succeeds only when nothing of it runs.
Paths come from asterisk.conf, read as Asterisk reads it (templates such as
Debian's [directories](!) are not applied).`,
		Params: params,
		Actions: []ocf.Action{
			{Name: "start", Timeout: 60 * time.Second, Run: a.start},
			{Name: "stop", Timeout: 60 * time.Second, Run: a.stop},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 10 * time.Second, Run: a.monitor},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 30 * time.Second, Depth: 10},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 60 * time.Second, Depth: 20},
			// As ocf:heartbeat:asterisk's: the depth 0 monitor, once.
			{Name: "status", Timeout: 20 * time.Second},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Check:    check,
		Validate: a.validate,
		Reload:   a.reload,
	}
}

var params = []ocf.Param{
	{Name: "binary", Type: ocf.String, Default: "asterisk",
		Short: "Asterisk binary", Long: `The Asterisk binary: a path, or a name looked up in PATH.`},
	{Name: "canary_binary", Type: ocf.String, Reloadable: true, Default: "astcanary",
		Short: "Asterisk canary binary", Long: `The canary Asterisk starts in realtime mode; the monitor wants it running then, and stop ends it.`},
	{Name: "config", Type: ocf.String, Default: "/etc/asterisk/asterisk.conf",
		Short: "asterisk.conf", Long: `Asterisk's main configuration file, passed as -C. The run, log and control socket paths are read from it.`},
	{Name: "user", Type: ocf.String, Default: "asterisk",
		Short: "User Asterisk runs as", Long: `Asterisk drops to this user (-U); the run and log directories are made its own.`},
	{Name: "group", Type: ocf.String, Default: "asterisk",
		Short: "Group Asterisk runs as", Long: `Asterisk's group (-G).`},
	{Name: "additional_parameters", Type: ocf.String, Default: "-g -vvv",
		Short: "Additional command-line options", Long: `More options for Asterisk, separated by blanks (no shell quoting), e.g. -L load or -M value.`},
	{Name: "realtime", Type: ocf.Boolean, Default: "false",
		Short: "Run with realtime priority", Long: `Run Asterisk with realtime priority (-p), which also starts its canary.`},
	{Name: "maxfiles", Type: ocf.Integer, Default: "8192", Bounds: &ocf.Range{Min: 64, Max: 1 << 20},
		Short: "Open files limit", Long: `The open files limit Asterisk starts with (RLIMIT_NOFILE).`},
	{Name: "monitor_sipuri", Type: ocf.String, Reloadable: true,
		Short: "SIP URI to check when monitoring", Long: `A SIP URI (sip:monitor@198.51.100.100:5060) the monitor sends an OPTIONS request to. No final answer, or a 5xx one (Server Failure), fails the monitor (1): then the SIP stack cannot take calls, as when Asterisk answers every request with 500 Server Internal Error after its pjsip endpoint identifier modules were unloaded, or 503 while it shuts down. Any other final answer counts: 404, 401, 403 and 407 are what a working Asterisk answers an unknown or unauthenticated caller, and a 6xx is a decision of the configuration, which neither a restart nor a move changes. Start also waits for an answer that counts. Empty: no SIP check.`},
	{Name: "sip_check_depth", Type: ocf.Integer, Reloadable: true, Default: "0", Bounds: &ocf.Range{Min: 0, Max: 20},
		Short: "Monitor depth of the SIP check", Long: `The SIP check runs in monitors whose OCF_CHECK_LEVEL is at least this. 0 checks at every monitor, as ocf:heartbeat:asterisk does; 20 keeps it to a slower OCF_CHECK_LEVEL=20 monitor, so the frequent monitor stays on the control socket.`},
	{Name: "ari_url", Type: ocf.String, Reloadable: true,
		Short: "ARI base URL for depth 10", Long: `The Asterisk REST Interface base URL (http://127.0.0.1:8088/ari) the depth 10 monitor asks for /asterisk/info. Empty: no ARI check.`},
	{Name: "ari_username", Type: ocf.String, Reloadable: true,
		Short: "ARI user", Long: `The ARI user (ari.conf).`},
	{Name: "ari_password", Type: ocf.String, Reloadable: true,
		Short: "ARI password", Long: `The ARI password. It is never logged; prefer ari_password_file, as parameters are visible in the CIB.`},
	{Name: "ari_password_file", Type: ocf.String, Reloadable: true,
		Short: "File holding the ARI password", Long: `A file whose first line is the ARI password; used when ari_password is empty.`},
	{Name: "ctl_socket", Type: ocf.String, Reloadable: true,
		Short: "Control socket path", Long: `The control socket remote consoles use. Empty: astrundir/astctl from asterisk.conf.`},
	{Name: "call_drain_timeout", Type: ocf.Integer, Reloadable: true, Default: "0", Bounds: &ocf.Range{Min: 0, Max: 86400},
		Short: "Seconds to let active calls finish on stop", Long: `On stop, refuse new calls and wait up to this many seconds for active calls to end before stopping Asterisk (bounded by the stop timeout). 0 stops at once.`},
}
