// Command manpages writes ocf_gocf_<agent>.7 for every agent into a
// directory, from the agents' declarations (the same source as their
// meta-data), and drbd-fence.8 from the fence handler's declaration.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gocf/gocf/pkg/catalog"
	"github.com/gocf/gocf/pkg/fencepeer"
	"github.com/gocf/gocf/pkg/ocf"
)

func main() {
	out := flag.String("out", "dist/man", "output directory")
	version := flag.String("version", ocf.BuildVersion, "version shown in the pages")
	date := flag.String("date", "", "page date (YYYY-MM-DD); stable dates keep packages reproducible")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, a := range catalog.Agents() {
		a.Version = *version
		name := filepath.Join(*out, "ocf_"+catalog.Provider+"_"+a.Name+".7")
		if err := os.WriteFile(name, []byte(a.ManPage(catalog.Provider, *date)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	name := filepath.Join(*out, fencepeer.Decl.Name+".8")
	if err := os.WriteFile(name, []byte(fencepeer.Decl.ManPage(*version, *date)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
