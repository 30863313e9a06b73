// Command openclawd runs an OpenClaw gateway as a boring, self-healing
// service. See `openclawd help`.
package main

import (
	"os"

	"github.com/openclawd/openclawd/cmd/openclawd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
