// Command asterisk is the OCF resource agent ocf:gocf:asterisk.
package main

import (
	"github.com/gocf/gocf/pkg/asterisk"
	"github.com/gocf/gocf/pkg/ocf"
)

func main() { ocf.Main(asterisk.Agent()) }
