package drbd

import (
	"os"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// Agent returns the drbd agent's declaration, with the real drbdadm,
// drbdsetup and crm_attribute.
func Agent() *ocf.Agent { return agentWith(execTools, "/proc/drbd", time.Second) }

func execTools(c config, r *ocf.Request) Tools {
	node := r.Meta.Get("on_node")
	if node == "" {
		node, _ = os.Hostname()
	}
	return Tools{
		Drbdadm:   ExecDrbdadm{Conf: c.conf},
		Drbdsetup: ExecDrbdsetup{},
		Promotion: ExecPromotion{Instance: r.Instance, Node: node},
	}
}

// agentWith builds the declaration on other tools (tests replay recorded
// outputs); procDRBD exists while the kernel module is loaded; pause is the
// pause between two attempts of promote, demote and stop.
func agentWith(tools func(config, *ocf.Request) Tools, procDRBD string, pause time.Duration) *ocf.Agent {
	a := &agent{tools: tools, procDRBD: procDRBD, pause: pause}
	return &ocf.Agent{
		Name:    "drbd",
		Version: ocf.BuildVersion,
		Short:   "Manages a DRBD resource as a promotable clone",
		Long: `Manages a DRBD resource (DRBD 8.4 or 9) as a promotable clone: the promoted
instance is DRBD Primary, the unpromoted ones Secondary. It takes the
parameters of ocf:linbit:drbd with the same meanings, so a resource can
switch agents by changing ocf:linbit:drbd to ocf:gocf:drbd.

Configure it as a promotable clone with notify=true, clone-node-max=1 and
promoted-max=1 (2 only with allow-two-primaries on DRBD 9). The state comes
from one "drbdsetup events2 --now" per monitor; promotion scores follow
adjust_master_score and are set with crm_attribute --promotion (crm_master
on Pacemaker before 2.1); a recurring monitor leaves a score it wrote less
than 5 minutes ago as it is (one process fewer per monitor), every other
action (a probe too) writes it.

Start brings the resource up (or adjusts it), waits up to wfc_timeout for
the peers and ends Secondary. Stop demotes and takes it down. Promote
retries until its timeout and says why it could not: no UpToDate data, or a
peer that is Primary.

Split brain: a resource the agent connected that is found StandAlone has
hit a split brain DRBD could not resolve. On a Secondary the monitor fails;
on the Primary it reports degraded (191) and keeps running. The log says
how to resolve it: on the node whose changes are to be discarded run
"drbdadm secondary RES; drbdadm connect --discard-my-data RES", then on the
other "drbdadm connect RES".

Replication lost: a Primary that reaches no peer with a disk (the link is
down, or the peer node is) reports degraded (191): the PBX keeps running and
crm_mon shows that its writes are on one disk only. A diskless peer (DRBD 9's
tiebreaker) does not count.

Fencing: to avoid data divergence enable DRBD quorum (DRBD 9) or configure
fencing in DRBD and Pacemaker together: "fencing resource-and-stonith;" in
the resource's net section (disk section on 8.4), the handlers
fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh" and unfence-peer
"/usr/lib/drbd/crm-unfence-peer.9.sh" (crm-fence-peer.sh and
crm-unfence-peer.sh on 8.4), and STONITH enabled in Pacemaker.

Quorum (DRBD 9, "quorum majority;" with "on-no-quorum io-error;" as LINBIT
recommends with Pacemaker): a node that reaches no majority of its peers
has no promotion score. The monitor fails a Primary without quorum (9,
failed promoted: its writes fail or hang), so that Pacemaker stops what
runs on it and demotes it; a Secondary without quorum keeps running, and
its monitor logs a warning.

Not supported: connect_only_after_promote and stacked resources.`,
		Params: params,
		Actions: []ocf.Action{
			{Name: "start", Timeout: 240 * time.Second, Run: a.start},
			{Name: "stop", Timeout: 100 * time.Second, Run: a.stop},
			{Name: "promote", Timeout: 90 * time.Second, Run: a.promote},
			{Name: "demote", Timeout: 90 * time.Second, Run: a.demote},
			{Name: "notify", Timeout: 90 * time.Second, Run: a.notify},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Role: "Promoted", Run: a.monitor},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 20 * time.Second, Role: "Unpromoted", Run: a.monitor},
			// ocf:linbit:drbd's reload: drbdadm adjust, then rescore. With
			// OCF 1.0 meta-data Pacemaker calls it when parameters that
			// are not unique change, as for linbit's agent.
			{Name: "reload", Timeout: 30 * time.Second, Run: a.reload},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 30 * time.Second},
		},
		Check:    check,
		Validate: a.validate,
		Reload:   a.rescore,
	}
}

var params = []ocf.Param{
	{Name: "drbd_resource", Type: ocf.String, Required: true, Unique: true,
		Short: "DRBD resource name",
		Long:  `The name of the DRBD resource as defined in the DRBD configuration.`},
	{Name: "drbdconf", Type: ocf.String, Default: "/etc/drbd.conf",
		Short: "Path to drbd.conf",
		Long:  `The DRBD configuration file, passed to drbdadm with -c.`},
	{Name: "adjust_master_score", Type: ocf.String, Reloadable: true, Default: DefaultScores.String(),
		Short: "Promotion scores",
		Long: `Four promotion scores, separated by blanks, not decreasing:
only Consistent data (maybe not the newest); no UpToDate data here but a
connected peer has it; UpToDate, Secondary, some peer's disk state unknown;
UpToDate and Primary, or every peer's disk state known. A score of 0 or less
removes the score instead. The first is 0 by default so that data of
unknown age is not promoted; configure fencing in DRBD and Pacemaker. Lost
quorum (DRBD 9) removes the score; a disk that is attaching leaves it as it is.`},
	{Name: "stop_outdates_secondary", Type: ocf.Boolean, Reloadable: true, Default: "false",
		Short: "Outdate a stopped Secondary",
		Long: `If true, a Secondary that is stopped, or that cannot reach its peer after a
post notification, marks its data Outdated when the notification variables
show another node promoted. An extra safety besides DRBD's own fencing.`},
	{Name: "ignore_missing_notifications", Type: ocf.Boolean, Reloadable: true, Default: "false",
		Short: "Allow notify=false",
		Long:  `Start and promote refuse to run without notify=true unless this is true.`},
	{Name: "wfc_timeout", Type: ocf.Integer, Reloadable: true, Default: "5", Bounds: &ocf.Range{Min: 0, Max: 86400},
		Short: "Seconds start waits for the peers",
		Long: `How long start waits for the connections to the peers to be established.
Start succeeds without them; 0 does not wait.`},
	{Name: "remove_master_score_if_peer_primary", Type: ocf.String, Reloadable: true, Default: "false",
		Short: "Remove the score while a peer is Primary",
		Long: `true: a Secondary connected to a Primary peer with UpToDate data has no
promotion score, so that a Pacemaker split does not end in failed promotions
(a failover after a Primary crash may wait until DRBD notices the crash).
unexpected: only when Pacemaker knows of no promoted instance elsewhere
(crm_resource --locate). false: the peer's role does not matter.`},
	{Name: "fail_promote_early_if_peer_primary", Type: ocf.Boolean, Reloadable: true, Default: "false",
		Short: "Try to promote once while a peer is Primary",
		Long: `If true, promote fails after one attempt when a peer is Primary instead of
retrying until its timeout.`},
	{Name: "unfence_if_all_uptodate", Type: ocf.Boolean, Reloadable: true, Default: "false",
		Short: "Call the unfence handler once all is UpToDate",
		Long: `If true, the Primary runs "drbdadm unfence-peer" when all its volumes and all
its peers' are UpToDate, to remove a stale fencing constraint.`},
	{Name: "unfence_extra_args", Type: ocf.String, Reloadable: true, Default: "--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match",
		Short: "Arguments for the unfence handler",
		Long:  `Passed to the unfence handler in OCF_RESKEY_unfence_extra_args.`},
	{Name: "require_drbd_module_version_ge", Type: ocf.String, Reloadable: true, Default: "8.0.0",
		Short: "Minimum DRBD module version",
		Long: `Start and validate-all fail unless the DRBD kernel module is at least this
version (x.y.z), e.g. 9.0.16 to require DRBD 9: a clear error after a kernel
update brought another module.`},
	{Name: "require_drbd_module_version_lt", Type: ocf.String, Reloadable: true, Default: "10.0.0",
		Short: "DRBD module version must be lower",
		Long:  `Start and validate-all fail unless the DRBD kernel module is older than this version (x.y.z), e.g. 9.0.0 to require 8.4.`},
}
