package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/openclawd/openclawd/config"
)

// socketOpts finds the control socket: --socket, else the config's
// control.socket, else the default.
type socketOpts struct {
	config, socket string
	fs             *flag.FlagSet
}

func socketFlags(fs *flag.FlagSet) *socketOpts {
	o := &socketOpts{fs: fs}
	fs.StringVar(&o.config, "config", config.DefaultPath, "config file (to find the control socket)")
	fs.StringVar(&o.socket, "socket", "", "control socket path (overrides --config)")
	return o
}

// path never fails for a config that is merely invalid (say, mid-edit):
// status must still reach a healthy daemon. It warns on stderr instead.
func (o *socketOpts) path(stderr io.Writer) (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	explicit := false
	o.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	c, err := config.Load(o.config)
	if err == nil {
		return c.Control.Socket, nil
	}
	if !explicit && errors.Is(err, os.ErrNotExist) {
		return config.Default().Control.Socket, nil
	}
	// Lenient: just control.socket, whatever else is wrong.
	var partial struct {
		Control struct {
			Socket string `yaml:"socket"`
		} `yaml:"control"`
	}
	sock := config.Default().Control.Socket
	if b, rerr := os.ReadFile(o.config); rerr == nil && yaml.Unmarshal(b, &partial) == nil && partial.Control.Socket != "" {
		sock = partial.Control.Socket
	} else if rerr != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "openclawd: warning: %s is invalid (run `openclawd validate`); using socket %s\n", o.config, sock)
	return sock, nil
}
