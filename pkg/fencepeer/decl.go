package fencepeer

import (
	"fmt"
	"github.com/gocf/gocf/pkg/roff"
	"strconv"
	"strings"
	"time"
)

// Kind is what an option takes.
type Kind int

// Option kinds.
const (
	Flag     Kind = iota // no value
	Text                 // a word
	Seconds              // a whole number of seconds
	Accepted             // LINBIT's option that gocf accepts and ignores (value or not per Value)
)

// Option declares one command-line option: parsing, the log line for an
// ignored one and the manual page come from this.
type Option struct {
	Name    string   // long name without dashes
	Aliases []string // other spellings: "r" for -r, "net-hickup" for --net-hickup
	Kind    Kind
	// Value tells whether an Accepted option takes a value.
	Value   bool
	Default string
	Help    string
}

// EnvVar declares one variable of the environment DRBD (or the resource
// agent) passes to the handler.
type EnvVar struct {
	Name string
	Help string
}

// Declaration is the handler's one description of itself.
type Declaration struct {
	Name     string
	Short    string
	Long     string
	Commands [][2]string // name, description
	Options  []Option
	Env      []EnvVar
	Exit     [][2]string // code, meaning
	Example  string
}

// Decl is drbd-fence's declaration.
var Decl = Declaration{
	Name:  "drbd-fence",
	Short: "DRBD fence-peer and unfence-peer handler for Pacemaker",
	Long: `drbd-fence is DRBD's fence-peer and unfence-peer handler for clusters managed by Pacemaker, a drop-in for crm-fence-peer.9.sh and crm-unfence-peer.9.sh of drbd-utils (and crm-fence-peer.sh and crm-unfence-peer.sh of DRBD 8.4).

fence-peer finds the promotable clone (or legacy master resource) whose ocf:gocf:drbd or ocf:linbit:drbd primitive manages the DRBD resource, waits within --timeout for Pacemaker to tell whether each peer without good data is reachable, fenced or lost, and places the location constraint drbd-fence-by-handler-RESOURCE-CLONE that forbids the Promoted role (Master with schemas before pacemaker-3.7) on every node not known to have UpToDate data. The constraint has the id and shape LINBIT's scripts write, so either handler removes what the other placed.

unfence-peer removes that constraint when the local disks and every peer disk are UpToDate, as read from drbdsetup events2 (DRBD 9) or /proc/drbd (DRBD 8.4); otherwise it leaves it in place and says why.

Every decision is logged to standard error and to syslog (facility local5, or --logfacility), one line each with control characters escaped.`,
	Commands: [][2]string{
		{"fence-peer", "Place the constraint, answer with a fence-peer exit code (also when called as crm-fence-peer.*)."},
		{"unfence-peer", "Remove the constraint once all disks are UpToDate (also when called as crm-unfence-peer.*)."},
	},
	Options: []Option{
		{Name: "timeout", Aliases: []string{"t"}, Kind: Seconds, Default: "90", Help: "How long to wait for Pacemaker to confirm that a peer is reachable or fenced before deciding on what is known. Should exceed the cluster's fencing time when fencing is resource-and-stonith."},
		{Name: "dc-timeout", Aliases: []string{"d"}, Kind: Seconds, Default: "20", Help: "How long to keep asking for the CIB when no DC answers (a DC election may be running)."},
		{Name: "network-hickup", Aliases: []string{"net-hickup"}, Kind: Seconds, Default: "0", Help: "While every peer is still reachable, keep re-checking for this long whether the replication link came back before placing the constraint."},
		{Name: "resource", Aliases: []string{"r"}, Kind: Text, Help: "The DRBD resource; default DRBD_RESOURCE from the environment."},
		{Name: "master-id", Aliases: []string{"i"}, Kind: Text, Help: "The id of the promotable clone; default: found in the CIB."},
		{Name: "role", Aliases: []string{"l"}, Kind: Text, Help: "The role the rule forbids; default Promoted, or Master when the CIB's validate-with is older than pacemaker-3.7."},
		{Name: "id-prefix", Aliases: []string{"p"}, Kind: Text, Default: "drbd-fence-by-handler", Help: "Prefix of the constraint id; -RESOURCE is appended unless it already ends so."},
		{Name: "fencing-attribute", Aliases: []string{"a"}, Kind: Text, Default: "#uname", Help: "Node attribute the rule compares; only #uname is supported, any other value is logged and #uname used."},
		{Name: "lock-dir", Kind: Text, Default: "/var/lock/drbd", Help: "Directory of the lock file that serialises handler runs for one resource."},
		{Name: "lock-file", Kind: Text, Help: "Lock file; default LOCK-DIR/fence.RESOURCE; NONE for no lock."},
		{Name: "flock-timeout", Kind: Seconds, Default: "120", Help: "How long to wait for the lock."},
		{Name: "flock-required", Kind: Flag, Help: "Fail (exit 1) when the lock cannot be taken; otherwise go on without it."},
		{Name: "logfacility", Kind: Text, Default: "local5", Help: "Syslog facility of the log lines."},
		{Name: "quiet", Kind: Flag, Help: "Do not log the environment and the nothing-to-do messages."},
		{Name: "unfence-only-if-owner-match", Kind: Flag, Help: "unfence-peer leaves a constraint in place that forbids this node."},
		{Name: "unreachable-peer-is-outdated", Kind: Flag, Help: "Operator use only, honoured only with a terminal on standard input: a peer that is unreachable counts as outdated when the local disk is only Consistent. May risk data integrity."},
		{Name: "suicide-on-failure-if-primary", Kind: Accepted, Help: "Accepted for compatibility and ignored: drbd-fence never reboots the node; use resource-and-stonith fencing with a STONITH device instead."},
		{Name: "CTS-mode", Kind: Accepted, Help: "Accepted for compatibility and ignored."},
	},
	Env: []EnvVar{
		{"DRBD_RESOURCE", "The DRBD resource (required unless --resource)."},
		{"DRBD_CONF", "The configuration file drbdadm read; logged."},
		{"DRBD_MINOR, DRBD_MINOR_<volume>, DRBD_VOLUME", "The device minors; with DRBD 8.4 their lines of /proc/drbd give the disk states."},
		{"UP_TO_DATE_NODES", "DRBD 9: hexadecimal mask of the node ids with UpToDate data; the rule allows exactly those nodes."},
		{"DRBD_MY_NODE_ID, DRBD_NODE_ID_<n>", "DRBD 9: this node's id and the node names (as in drbd.conf, which must be the Pacemaker node names) by id."},
		{"DRBD_PEER_NODE_ID", "DRBD 9: the id of the peer the handler was called for; logged."},
		{"DRBD_PEER, DRBD_PEERS", "DRBD 8.4: the peer's node name; without it, the only other node of the CIB."},
		{"DRBD_PEER_ADDRESS, DRBD_PEER_AF, DRBD_MY_ADDRESS, DRBD_MY_AF", "Addresses; logged."},
		{"OCF_RESKEY_unfence_extra_args", "Options appended to the command line, as the drbd resource agents pass their unfence_extra_args parameter."},
	},
	Exit: [][2]string{
		{"0", "unfence-peer: done, or nothing to do (DRBD 9); constraint left in place with DRBD 9."},
		{"1", "Error: no clone for the resource, CIB not readable, no quorum, no DRBD state, a constraint that forbids this node, all peer disks UpToDate again, or (unfence-peer with DRBD 8.4) disks not all UpToDate. DRBD reports the handler as broken and keeps I/O frozen (resource-and-stonith) or refuses promotion."},
		{"3", "Peer's disk is Inconsistent or worse. Not returned, as LINBIT's scripts do not."},
		{"4", "Fenced: the constraint is in place and every peer is reachable (its disk is then Outdated), or a suitable constraint was already in place."},
		{"5", "Peer unreachable: either the constraint is placed because the local disk is UpToDate, or nothing is done because it is not."},
		{"6", "Peer is Primary, outdate yourself. Not returned, as LINBIT's scripts do not."},
		{"7", "Peer was fenced by Pacemaker (offline and expected down) and the constraint is in place."},
	},
	Example: `resource r0 {
  net { fencing resource-only; }   # or resource-and-stonith
  handlers {
    fence-peer "/usr/lib/gocf/drbd-fence fence-peer";
    unfence-peer "/usr/lib/gocf/drbd-fence unfence-peer";   # DRBD 9
    # DRBD 8.4: fencing in the disk section, and instead of unfence-peer:
    # after-resync-target "/usr/lib/gocf/drbd-fence unfence-peer";
  }
}`,
}

// Settings are the parsed options.
type Settings struct {
	Timeout, DCTimeout, NetHickup time.Duration
	FlockTimeout                  time.Duration
	Resource, MasterID, Role      string
	IDPrefix, FencingAttribute    string
	LockDir, LockFile             string
	LogFacility                   string
	FlockRequired, Quiet          bool
	OwnerMatch, UnreachableIsOut  bool
}

// lookup finds the declaration of a name given as --name or -n.
func (d *Declaration) lookup(name string) *Option {
	for i := range d.Options {
		o := &d.Options[i]
		if o.Name == name {
			return o
		}
		for _, a := range o.Aliases {
			if a == name {
				return o
			}
		}
	}
	return nil
}

// ParseArgs reads LINBIT's option syntax (--name=value, --name value,
// -n value) into Settings. Unknown options and stray words are returned as
// notes for the log, never as errors: an admin may swap one word of a
// handler line and the handler must still run. tty tells whether standard
// input is a terminal (--unreachable-peer-is-outdated needs one).
func (d *Declaration) ParseArgs(args []string, tty bool) (Settings, []string) {
	vals := map[string]string{}
	flags := map[string]bool{}
	var notes []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var name, val string
		hasVal := false
		switch {
		case strings.HasPrefix(a, "--"):
			name, val, hasVal = strings.Cut(a[2:], "=")
		case strings.HasPrefix(a, "-") && len(a) > 1:
			name = a[1:]
		default:
			notes = append(notes, fmt.Sprintf("ignoring unexpected argument %q", a))
			continue
		}
		o := d.lookup(name)
		if o == nil {
			notes = append(notes, fmt.Sprintf("ignoring unknown option %q", a))
			continue
		}
		takes := o.Kind == Text || o.Kind == Seconds || (o.Kind == Accepted && o.Value)
		if takes && !hasVal {
			if i+1 >= len(args) {
				notes = append(notes, fmt.Sprintf("option %s needs a value; ignored", a))
				continue
			}
			i++
			val = args[i]
		}
		switch o.Kind {
		case Flag:
			flags[o.Name] = true
		case Accepted:
			notes = append(notes, fmt.Sprintf("option --%s is accepted for compatibility and ignored", o.Name))
		case Seconds:
			if _, err := strconv.ParseUint(val, 10, 31); err != nil {
				notes = append(notes, fmt.Sprintf("option --%s: %q is not a number of seconds; default %s kept", o.Name, val, o.Default))
				continue
			}
			vals[o.Name] = val
		default:
			vals[o.Name] = val
		}
	}
	get := func(n string) string {
		if v, ok := vals[n]; ok {
			return v
		}
		return d.lookup(n).Default
	}
	secs := func(n string) time.Duration {
		s, _ := strconv.Atoi(get(n))
		return time.Duration(s) * time.Second
	}
	s := Settings{
		Timeout: secs("timeout"), DCTimeout: secs("dc-timeout"), NetHickup: secs("network-hickup"),
		FlockTimeout: secs("flock-timeout"),
		Resource:     get("resource"), MasterID: get("master-id"), Role: get("role"),
		IDPrefix: get("id-prefix"), FencingAttribute: get("fencing-attribute"),
		LockDir: get("lock-dir"), LockFile: get("lock-file"), LogFacility: get("logfacility"),
		FlockRequired: flags["flock-required"], Quiet: flags["quiet"],
		OwnerMatch: flags["unfence-only-if-owner-match"],
	}
	if flags["unreachable-peer-is-outdated"] {
		if tty {
			s.UnreachableIsOut = true
		} else {
			notes = append(notes, "--unreachable-peer-is-outdated is honoured only from a terminal; ignored")
		}
	}
	if s.FencingAttribute != "#uname" {
		notes = append(notes, fmt.Sprintf("--fencing-attribute=%s is not supported; using #uname", s.FencingAttribute))
		s.FencingAttribute = "#uname"
	}
	if !strings.HasPrefix(s.LockDir, "/") {
		notes = append(notes, fmt.Sprintf("--lock-dir must be an absolute path, not %q; using /var/lock/drbd", s.LockDir))
		s.LockDir = "/var/lock/drbd"
	}
	return s, notes
}

// ManPage renders drbd-fence(8) in man(7) roff from the declaration.
func (d *Declaration) ManPage(version, date string) string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 8 %q %q \"System Administration\"\n", strings.ToUpper(d.Name), date, "gocf "+version)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roff.Escape(d.Name), roff.Escape(d.Short))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", roff.Escape(d.Name), roff.Escape("{fence-peer | unfence-peer} [OPTION...]"))
	b.WriteString(".SH DESCRIPTION\n")
	roff.Paragraphs(&b, d.Long)
	b.WriteString(".SH COMMANDS\n")
	for _, c := range d.Commands {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", roff.Escape(c[0]), roff.Escape(c[1]))
	}
	b.WriteString(".SH OPTIONS\n")
	for _, o := range d.Options {
		head := "\\fB\\-\\-" + roff.Escape(o.Name) + "\\fR"
		for _, a := range o.Aliases {
			if len(a) == 1 {
				head += ", \\fB\\-" + roff.Escape(a) + "\\fR"
			} else {
				head += ", \\fB\\-\\-" + roff.Escape(a) + "\\fR"
			}
		}
		switch o.Kind {
		case Text:
			head += " \\fIVALUE\\fR"
		case Seconds:
			head += " \\fISECONDS\\fR"
		}
		help := o.Help
		if o.Default != "" {
			help += " Default: " + o.Default + "."
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s\n", head, roff.Escape(help))
	}
	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range d.Env {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", roff.Escape(e.Name), roff.Escape(e.Help))
	}
	b.WriteString(".SH EXIT STATUS\nThe codes of the fence\\-peer handler as drbd.conf(5) defines them:\n")
	for _, x := range d.Exit {
		fmt.Fprintf(&b, ".TP\n\\fB%s\\fR\n%s\n", x[0], roff.Escape(x[1]))
	}
	b.WriteString(".SH EXAMPLE\n.nf\n")
	for _, l := range strings.Split(d.Example, "\n") {
		b.WriteString(roff.Escape(l) + "\n")
	}
	b.WriteString(".fi\n.SH SEE ALSO\ndrbd.conf(5), drbdadm(8), ocf_gocf_drbd(7), cibadmin(8), the gocf README.\n")
	return b.String()
}
