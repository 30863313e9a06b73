package cli

import (
	"errors"
	"flag"
	"os"

	"github.com/openclawd/openclawd/config"
)

// socketOpts finds the control socket: --socket, else the config's
// control.socket, else the default.
type socketOpts struct {
	config, socket string
	set            map[string]bool
	fs             *flag.FlagSet
}

func socketFlags(fs *flag.FlagSet) *socketOpts {
	o := &socketOpts{fs: fs}
	fs.StringVar(&o.config, "config", config.DefaultPath, "config file (to find the control socket)")
	fs.StringVar(&o.socket, "socket", "", "control socket path (overrides --config)")
	return o
}

func (o *socketOpts) path() (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	explicit := false
	o.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	c, err := config.Load(o.config)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return config.Default().Control.Socket, nil
		}
		return "", err
	}
	return c.Control.Socket, nil
}
