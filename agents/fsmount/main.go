// Command fsmount is the OCF resource agent ocf:gocf:fsmount.
package main

import (
	"github.com/gocf/gocf/pkg/fsmount"
	"github.com/gocf/gocf/pkg/ocf"
)

func main() { ocf.Main(fsmount.Agent()) }
