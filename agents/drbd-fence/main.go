// Command drbd-fence is DRBD's fence-peer and unfence-peer handler for
// Pacemaker (see drbd-fence(8) and package fencepeer).
package main

import (
	"os"

	"github.com/gocf/gocf/pkg/fencepeer"
)

func main() {
	os.Exit(fencepeer.Main(os.Args, os.Environ(), os.Stdout, os.Stderr, fencepeer.IsTerminal(os.Stdin)))
}
