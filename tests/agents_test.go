package tests

import (
	"github.com/gocf/gocf/pkg/asterisk"
	"github.com/gocf/gocf/pkg/fsmount"
	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/vip"
)

// agents lists every gocf agent: binary name and declaration.
var agents = []struct {
	name string
	decl func() *ocf.Agent
}{
	{"vip", vip.Agent},
	{"fsmount", fsmount.Agent},
	{"asterisk", asterisk.Agent},
}
