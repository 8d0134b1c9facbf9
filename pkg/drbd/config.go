package drbd

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

type config struct {
	resource         string
	conf             string
	scores           Scores
	stopOutdates     bool
	ignoreNotify     bool
	wfc              time.Duration // 0: do not wait for the peer
	peerPrimary      string        // remove_master_score_if_peer_primary: false, true, unexpected
	failPromoteEarly bool
	unfence          bool
	unfenceArgs      string
	versionGE        uint32 // 0: no requirement
	versionLT        uint32
}

// safeChars is what ocf:linbit:drbd accepts in names taken from the CIB.
func safeChars(s string) bool {
	return s != "" && strings.Trim(s, "-%+./0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz") == ""
}

func parseConfig(r *ocf.Request) (config, error) {
	p := r.Params
	c := config{
		resource:         strings.TrimSpace(p.String("drbd_resource")),
		conf:             strings.TrimSpace(p.String("drbdconf")),
		stopOutdates:     p.Bool("stop_outdates_secondary"),
		ignoreNotify:     p.Bool("ignore_missing_notifications"),
		wfc:              time.Duration(p.Int("wfc_timeout")) * time.Second,
		failPromoteEarly: p.Bool("fail_promote_early_if_peer_primary"),
		unfence:          p.Bool("unfence_if_all_uptodate"),
		unfenceArgs:      p.String("unfence_extra_args"),
	}
	if !safeChars(c.resource) || strings.HasPrefix(c.resource, "-") {
		return c, fmt.Errorf("parameter drbd_resource: %q must consist of [-%%+./0-9:=@A-Z_a-z]", c.resource)
	}
	if !safeChars(c.conf) || !filepath.IsAbs(c.conf) {
		return c, fmt.Errorf("parameter drbdconf: %q must be an absolute path of [-%%+./0-9:=@A-Z_a-z]", c.conf)
	}
	var err error
	if c.scores, err = ParseScores(p.String("adjust_master_score")); err != nil {
		return c, fmt.Errorf("parameter %w", err)
	}
	s := c.scores
	if s.Consistent > s.RemoteUpToDate || s.RemoteUpToDate > s.PeerUnknown || s.PeerUnknown > s.UpToDate {
		return c, fmt.Errorf("parameter adjust_master_score %q: the four scores must not decrease", s)
	}
	switch v := strings.TrimSpace(p.String("remove_master_score_if_peer_primary")); {
	case strings.EqualFold(v, "unexpected"):
		c.peerPrimary = "unexpected"
	default:
		b, ok := ocf.ParseBool(v)
		if !ok {
			return c, fmt.Errorf("parameter remove_master_score_if_peer_primary: %q is neither a boolean nor unexpected", v)
		}
		c.peerPrimary = fmt.Sprint(b)
	}
	for _, req := range []struct {
		name string
		dst  *uint32
	}{{"require_drbd_module_version_ge", &c.versionGE}, {"require_drbd_module_version_lt", &c.versionLT}} {
		if v := strings.TrimSpace(p.String(req.name)); v != "" {
			if *req.dst, err = ParseVersion(v); err != nil {
				return c, fmt.Errorf("parameter %s: %w", req.name, err)
			}
		}
	}
	if c.versionGE != 0 && c.versionLT != 0 && c.versionGE >= c.versionLT {
		return c, fmt.Errorf("no DRBD version is >= %s and < %s", VersionString(c.versionGE), VersionString(c.versionLT))
	}
	return c, nil
}

func check(r *ocf.Request) (any, error) { return parseConfig(r) }

// meta reads a clone meta attribute under its Pacemaker 2.1 name, then its
// older name (master-max before promoted-max).
func meta(r *ocf.Request, name, old string, def int) int {
	if r.Meta.Get(name) != "" {
		return r.Meta.Int(name, def)
	}
	return r.Meta.Int(old, def)
}

// unames lists the nodes of a notification variable, new name first.
func unames(r *ocf.Request, name, old string) []string {
	if v := r.Meta.List("notify_" + name + "_uname"); len(v) > 0 {
		return v
	}
	return r.Meta.List("notify_" + old + "_uname")
}
