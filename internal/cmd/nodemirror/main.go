// Command nodemirror builds (or reuses) a local Node.js mirror with the
// official layout from the npm registry, for hosts that reach the npm
// registry but not the official Node.js site, and prints the two config
// values that point openclawd at it:
//
//	node.mirror: file:///…/node-mirror
//	node.sha256: <sha256 of the tarball>
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/openclawd/openclawd/internal/nodemirror"
	"github.com/openclawd/openclawd/runtime/pins"
)

func main() {
	cache := flag.String("cache", nodemirror.DefaultCacheDir(), "cache directory")
	flag.Parse()
	m, err := nodemirror.Build(context.Background(), *cache, pins.NodeVersion, pins.NPMVersion,
		func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodemirror: %v\n", err)
		os.Exit(1)
	}
	arch, err := nodemirror.Arch(runtime.GOARCH)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodemirror: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("file://%s %s\n", m.Dir, m.Files[nodemirror.TarballName(pins.NodeVersion, arch)])
}
