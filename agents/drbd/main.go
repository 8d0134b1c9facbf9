// Command drbd is the OCF resource agent ocf:gocf:drbd.
package main

import (
	"github.com/gocf/gocf/pkg/drbd"
	"github.com/gocf/gocf/pkg/ocf"
)

func main() { ocf.Main(drbd.Agent()) }
