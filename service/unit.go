package service

import (
	"errors"
	"fmt"
	"strings"

	ksvc "github.com/kardianos/service"
)

// Unit is our systemd unit or launchd plist: where it goes, its text
// (package packaging's, verbatim) and the name the manager knows it by.
type Unit struct {
	Path, Text, Name string
}

// Render renders our own service file for bin run with cfgPath; launchd's
// plist also names stateDir (its working directory and HOME).
func Render(bin, cfgPath, stateDir string) (Unit, error) {
	u := serviceFile(bin, cfgPath, stateDir)
	// kardianos renders the text with its own engine: without "{{" it
	// passes through unchanged; with one (from a path) it would be mangled.
	if strings.Contains(u.Text, "{{") {
		return u, fmt.Errorf("the service file would contain %q (from the binary or config path), which kardianos/service cannot write literally: move the binary or the config to a path without it", "{{")
	}
	return u, nil
}

// ErrNotInstalled is Running's error when the service file is missing.
var ErrNotInstalled = ksvc.ErrNotInstalled

// Service is openclawd's entry in systemd or launchd.
type Service struct {
	ks   ksvc.Service
	Unit Unit
}

// program satisfies kardianos' Interface; only `openclawd run` runs the
// service, so it is never started here.
type program struct{}

func (program) Start(ksvc.Service) error { return nil }
func (program) Stop(ksvc.Service) error  { return nil }

// New is the service that runs `bin run --config cfgPath` from u.
func New(bin, cfgPath string, u Unit) (*Service, error) {
	ks, err := ksvc.New(program{}, &ksvc.Config{
		Name:        u.Name,
		DisplayName: "openclawd",
		Description: "OpenClaw gateway supervisor (openclawd)",
		Executable:  bin,
		Arguments:   []string{"run", "--config", cfgPath},
		Option:      ksvc.KeyValue{"SystemdScript": u.Text, "LaunchdConfig": u.Text},
	})
	if err != nil {
		return nil, fmt.Errorf("setting up the %s service: %w", u.Name, err)
	}
	return &Service{ks: ks, Unit: u}, nil
}

// Install writes the unit and enables it (systemd) or loads it (launchd).
func (s *Service) Install() error { return s.ks.Install() }

// Uninstall disables and removes it; on systemd it does not stop it.
func (s *Service) Uninstall() error { return s.ks.Uninstall() }

// Start starts it now.
func (s *Service) Start() error { return s.ks.Start() }

// Stop stops it; an error when it was not running.
func (s *Service) Stop() error { return s.ks.Stop() }

// Running asks the manager; ErrNotInstalled without the service file.
func (s *Service) Running() (bool, error) {
	st, err := s.ks.Status()
	if err != nil {
		if errors.Is(err, ksvc.ErrNotInstalled) {
			return false, ErrNotInstalled
		}
		return false, err
	}
	return st == ksvc.StatusRunning, nil
}
