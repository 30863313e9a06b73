// Command pin regenerates openclawd's runtime pins: the Node.js version and
// the sha256 of its official tarballs, and the openclaw npm package with a
// lockfile for `npm ci`. It is what `make pin OPENCLAW=x.y.z NODE=a.b.c` runs:
//
//	go run ./internal/cmd/pin -node 24.21.0 -openclaw 2026.9.6 [-npm 11.21.2]
//	    [-shasums FILE | -mirror URL] [-out runtime/pins]
//
// It writes <out>/pins_gen.go and <out>/openclaw/{package.json,package-lock.json}.
// npm runs with the user's own configuration; the lockfile is written without
// "resolved" URLs, so no registry address ends up in the repository.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/openclawd/openclawd/internal/semver"
	"github.com/openclawd/openclawd/runtime/node"
)

// defaultNPM is the npm bundled into the test Node mirror (internal/nodemirror).
const defaultNPM = "11.21.2"

// platforms are the official tarballs openclawd may download.
var platforms = []string{"darwin-arm64", "darwin-x64", "linux-arm64", "linux-x64"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pin:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pin", flag.ContinueOnError)
	nodeV := fs.String("node", "", "Node.js version, e.g. 24.21.0 (required)")
	clawV := fs.String("openclaw", "", "openclaw npm package version, e.g. 2026.9.6 (required)")
	npmV := fs.String("npm", defaultNPM, "npm version bundled in the test Node mirror")
	shasums := fs.String("shasums", "", "read Node's SHASUMS256.txt from this file instead of the mirror")
	mirror := fs.String("mirror", defaultMirror(), "Node.js distribution base URL (env "+node.MirrorEnv+" wins, as in openclawd)")
	out := fs.String("out", "runtime/pins", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	// Strict versions also keep flag values from reaching npm as options.
	for _, v := range []struct{ name, val string }{{"-node", *nodeV}, {"-openclaw", *clawV}, {"-npm", *npmV}} {
		if err := semver.Valid(v.val); err != nil {
			return fmt.Errorf("flag %s: %w", v.name, err)
		}
	}
	start := time.Now()

	claw, err := npmView(ctx, "openclaw@"+*clawV)
	if err != nil {
		return fmt.Errorf("look up openclaw: %w", err)
	}
	npmInfo, err := npmView(ctx, "npm@"+*npmV)
	if err != nil {
		return fmt.Errorf("look up npm: %w", err)
	}
	for _, c := range []struct {
		what string
		info viewInfo
	}{{"openclaw@" + *clawV, claw}, {"npm@" + *npmV, npmInfo}} {
		ok, err := semver.Satisfies(*nodeV, c.info.EnginesNode)
		if err != nil {
			return fmt.Errorf("check %s engines.node: %w", c.what, err)
		}
		if !ok {
			return fmt.Errorf("%s requires engines.node %q, which Node %s does not satisfy", c.what, c.info.EnginesNode, *nodeV)
		}
	}

	sums, err := loadNodeSums(ctx, *shasums, *mirror, *nodeV)
	if err != nil {
		return fmt.Errorf("node checksums: %w", err)
	}
	lock, err := makeLock(ctx, *clawV, claw.Integrity)
	if err != nil {
		return fmt.Errorf("lockfile: %w", err)
	}
	src, err := genGo(*nodeV, *npmV, *clawV, claw.Integrity, sums)
	if err != nil {
		return fmt.Errorf("generate pins_gen.go: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(*out, "openclaw", "package.json"), lock.packageJSON},
		{filepath.Join(*out, "openclaw", "package-lock.json"), lock.lockJSON},
		{filepath.Join(*out, "pins_gen.go"), src},
	} {
		if err := writeFile(f.path, f.data); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	fmt.Fprintf(stdout, "pinned Node %s (npm %s), openclaw %s: %d packages in the lockfile; wrote %s (%s)\n",
		*nodeV, *npmV, *clawV, lock.packages, *out, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func defaultMirror() string {
	if m := os.Getenv(node.MirrorEnv); m != "" {
		return m
	}
	return node.DefaultMirror
}

// loadNodeSums reads SHASUMS256.txt from file, or else from the mirror, and
// returns the .tar.xz checksum for every platform; all must be present.
func loadNodeSums(ctx context.Context, file, mirror, nodeV string) (map[string]string, error) {
	if file == "" {
		all, err := node.Sums(ctx, mirror, nodeV)
		if err != nil {
			return nil, err
		}
		return allPlatforms(all, nodeV)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return nodeSums(data, nodeV)
}

func nodeSums(data []byte, nodeV string) (map[string]string, error) {
	all, err := node.ParseSums(bytes.NewReader(data), nodeV)
	if err != nil {
		return nil, err
	}
	return allPlatforms(all, nodeV)
}

// allPlatforms keeps the sums of platforms, failing if any is missing: the
// pins must serve every host openclawd supports.
func allPlatforms(all map[string]string, nodeV string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, p := range platforms {
		if s, ok := all[p]; ok {
			out[p] = s
		} else {
			missing = append(missing, "node-v"+nodeV+"-"+p+".tar.xz")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("SHASUMS256.txt lacks %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func genGo(nodeV, npmV, clawV, integrity string, sums map[string]string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/cmd/pin; DO NOT EDIT.\n\npackage pins\n\n")
	fmt.Fprintf(&b, "// NodeVersion is the Node.js release openclawd downloads and runs openclaw with.\nconst NodeVersion = %q\n\n", nodeV)
	fmt.Fprintf(&b, "// NPMVersion is the npm bundled in the test Node mirror.\nconst NPMVersion = %q\n\n", npmV)
	fmt.Fprintf(&b, "// OpenclawVersion is the openclaw npm package installed with `npm ci`.\nconst OpenclawVersion = %q\n\n", clawV)
	fmt.Fprintf(&b, "// OpenclawIntegrity is the openclaw tarball's dist.integrity.\nconst OpenclawIntegrity = %q\n\n", integrity)
	fmt.Fprintf(&b, "// NodeSHA256 maps GOOS-arch (Node's arch names) to the sha256 of\n// node-v<NodeVersion>-<key>.tar.xz from the official SHASUMS256.txt.\nvar NodeSHA256 = map[string]string{\n")
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, sums[k])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// writeFile replaces path atomically, so an interrupted run leaves the old pins.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
