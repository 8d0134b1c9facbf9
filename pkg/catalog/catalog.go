// Package catalog lists the gocf agents for what handles all of them at
// once: documentation, man pages, packaging and the tests.
package catalog

import (
	"github.com/gocf/gocf/pkg/asterisk"
	"github.com/gocf/gocf/pkg/drbd"
	"github.com/gocf/gocf/pkg/fsmount"
	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/vip"
)

// Provider is the OCF provider name: agents are ocf:gocf:<name>.
const Provider = "gocf"

// Agents returns every agent's declaration, in the order the README uses.
func Agents() []*ocf.Agent {
	return []*ocf.Agent{vip.Agent(), fsmount.Agent(), asterisk.Agent(), drbd.Agent()}
}
