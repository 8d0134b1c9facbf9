// Command vip is the OCF resource agent ocf:gocf:vip.
package main

import (
	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/vip"
)

func main() { ocf.Main(vip.Agent()) }
