package testbed

import (
	"fmt"
	"strings"
	"time"
)

// GocfStack is the same PBX as the shell-agent baseline, built of the gocf
// agents, with the same monitor intervals and timeouts so that the two
// differ only in the agents.
func GocfStack(mode string) *Stack {
	crm := `primitive p_fs ocf:gocf:fsmount params device=@FSDEV@ directory=/srv/gtb fstype=ext4 op monitor interval=10s timeout=60s op start timeout=60s op stop timeout=60s
primitive p_vip ocf:gocf:vip params ip=@VIP@ cidr_netmask=24 nic=@IFACE@ op monitor interval=10s timeout=60s
primitive p_ast ocf:gocf:asterisk params user=asterisk group=asterisk op monitor interval=10s timeout=60s op start timeout=120s
group g_base p_fs p_vip p_ast
rsc_defaults rsc-options: resource-stickiness=100
`
	name := "group fsmount (ext4 on a shared loop device) + vip + asterisk (gocf)"
	if mode == "vm" {
		crm += `primitive p_drbd ocf:gocf:drbd params drbd_resource=r0 op monitor interval=29s role=Promoted timeout=60s op monitor interval=31s role=Unpromoted timeout=60s op start timeout=240s op stop timeout=100s
clone ms_drbd p_drbd meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
colocation c_base_with_drbd inf: g_base ms_drbd:Promoted
order o_drbd_then_base Mandatory: ms_drbd:promote g_base:start
`
		name = "drbd (promotable) + group fsmount + vip + asterisk (gocf)"
	}
	return &Stack{Name: name, CRM: crm, Watch: "p_ast"}
}

// Medians returns the median times to the VIP answering and to SIP.
func (r *BaselineResult) Medians() (vip, sip time.Duration) {
	var vs, ss []time.Duration
	for _, x := range r.Runs {
		vs, ss = append(vs, x.VIP), append(ss, x.SIP)
	}
	return median(vs), median(ss)
}

// Compare measures the shell-agent stack and the gocf stack in the same
// harness, one after the other, and renders both tables and the ratios.
// corosync detects a dead node in about token + consensus; the gocf stack's
// time beyond that is what the agents add.
func Compare(cfg Config, runs int, command string) (string, error) {
	shell, err := Baseline(cfg, runs, nil)
	if err != nil {
		return "", fmt.Errorf("shell stack: %w", err)
	}
	gocf, err := Baseline(cfg, runs, GocfStack(cfg.Mode))
	if err != nil {
		return "", fmt.Errorf("gocf stack: %w", err)
	}
	var sb strings.Builder
	sb.WriteString(shell.Markdown(command))
	sb.WriteString(gocf.Markdown(command))
	sv, ss := shell.Medians()
	gv, gs := gocf.Medians()
	fmt.Fprintf(&sb, "\n**%s mode, medians:** VIP answers after %.2f s (shell) / %.2f s (gocf), ratio %.2f; "+
		"Asterisk answers SIP after %.2f s (shell) / %.2f s (gocf), ratio %.2f.\n",
		cfg.Mode, sv.Seconds(), gv.Seconds(), sv.Seconds()/gv.Seconds(), ss.Seconds(), gs.Seconds(), ss.Seconds()/gs.Seconds())
	if cfg.Mode == "ns" {
		for _, dcLost := range []bool{true, false} {
			sd, sn := shell.afterDetect(dcLost)
			gd, gn := gocf.afterDetect(dcLost)
			what := "all runs"
			if !dcLost {
				what = "runs in which the DC survived"
			}
			fmt.Fprintf(&sb, "After corosync's new membership (medians, %s: %d shell, %d gocf): VIP %.2f s (shell) / %.2f s (gocf), "+
				"SIP %.2f s (shell) / %.2f s (gocf).\n", what, sn, gn, sd[0].Seconds(), gd[0].Seconds(), sd[1].Seconds(), gd[1].Seconds())
		}
	}
	return sb.String(), nil
}

// afterDetect returns the medians of the time from corosync's detection to
// the VIP and to SIP answering (what Pacemaker and the agents add) over all
// runs, or only those in which the DC survived (no election first), and how
// many runs that is.
func (r *BaselineResult) afterDetect(withDCLost bool) ([2]time.Duration, int) {
	var vs, ss []time.Duration
	for _, x := range r.Runs {
		if x.Detect == 0 || x.WasDC && !withDCLost {
			continue
		}
		vs, ss = append(vs, x.VIP-x.Detect), append(ss, x.SIP-x.Detect)
	}
	return [2]time.Duration{median(vs), median(ss)}, len(vs)
}
