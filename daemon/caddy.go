package daemon

import (
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/embedcaddy"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// CaddyOptions turns the tls section into the embedded Caddy's options.
func CaddyOptions(cfg *config.Config, healthy func() bool, log *slog.Logger) embedcaddy.Options {
	return embedcaddy.Options{
		Mode:        embedcaddy.Mode(cfg.TLS.Mode),
		Domains:     cfg.TLS.Domain,
		Email:       cfg.TLS.Email,
		ACMECA:      cfg.TLS.ACMECA,
		ACMECARoot:  cfg.TLS.ACMECARoot,
		HTTPPort:    cfg.TLS.HTTPPort,
		HTTPSPort:   cfg.TLS.HTTPSPort,
		ListenHost:  cfg.TLS.Listen,
		GatewayPort: cfg.Gateway.Port,
		StorageDir:  filepath.Join(cfg.StateDir, "caddy"),
		Healthy:     healthy,
		Logger:      log,
	}
}

// Check validates what config.Validate cannot see alone: the TLS names,
// ports and CA settings, by the rules of the embedded Caddy.
func Check(cfg *config.Config) error {
	if cfg.TLS.Mode == "off" {
		return nil
	}
	return CaddyOptions(cfg, nil, nil).Validate()
}

// tlsStatus reports the certificates Caddy holds.
func (d *Daemon) tlsStatus(cfg *config.Config) *apitype.TLS {
	t := &apitype.TLS{Mode: cfg.TLS.Mode}
	if d.caddy == nil {
		return t
	}
	if cfg.TLS.Mode == "internal" {
		t.RootCert = d.caddy.RootCertPath()
	}
	for _, c := range d.caddy.Certificates() {
		n := apitype.CertStatus{Name: c.Name, Issuer: c.Issuer, DaysLeft: c.DaysLeft, LastError: c.LastError}
		if !c.NotAfter.IsZero() {
			na := c.NotAfter.UTC()
			n.NotAfter = &na
		}
		if r, ok := d.checks.result(c.Name); ok {
			n.Check = &apitype.ProxyCheck{Code: r.Code, Detail: r.Detail, Address: r.Address, At: r.At.UTC()}
		}
		t.Names = append(t.Names, n)
	}
	return t
}

// Reach implements localapi.Backend.
func (d *Daemon) Reach() (apitype.Reach, error) {
	if d.caddy == nil {
		return apitype.Reach{}, errors.New("tls.mode is off: openclawd serves nothing on ports 80 and 443")
	}
	tok, path, err := embedcaddy.NewReachToken()
	return apitype.Reach{Token: tok, Path: path}, err
}
