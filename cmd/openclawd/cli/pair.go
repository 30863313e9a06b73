package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mdp/qrterminal/v3"

	"github.com/openclawd/openclawd/config"
)

// pairCmd prints a single-use link that pairs one browser with the
// gateway: openclaw's own bootstrap link (`openclaw dashboard --json`,
// field browserUrl), moved from http://127.0.0.1:<port> to the public
// https origin. The link carries a bootstrap token that works once and
// for ten minutes, never the gateway token (docs/pairing.md).
func pairCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("pair", stderr)
	asJSON := fs.Bool("json", false, "print {link, expiresAt} as JSON")
	noQR := fs.Bool("no-qr", false, "print the link without a QR code")
	cfg, rc := withConfig(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	out, rc := openclawOutput(cfg, []string{"dashboard", "--no-open", "--json"}, stderr)
	h, err := parseHandoff(out)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: pair: %v\n", err)
		return ExitFailure
	}
	if rc != 0 {
		fmt.Fprintf(stderr, "openclawd: pair: openclaw dashboard exited %d\n", rc)
		return ExitFailure
	}
	origins := cfg.TLS.Origins()
	link := h.BrowserURL
	if err := checkLink(link); err != nil {
		fmt.Fprintf(stderr, "openclawd: pair: %v\n", err)
		return ExitFailure
	}
	if len(origins) > 0 {
		if link, err = rewriteOrigin(h.BrowserURL, origins[0]); err != nil {
			fmt.Fprintf(stderr, "openclawd: pair: %v\n", err)
			return ExitFailure
		}
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(struct {
			Link      string    `json:"link"`
			ExpiresAt time.Time `json:"expiresAt"`
		}{link, h.ExpiresAt.UTC()})
		return ExitOK
	}
	if len(origins) == 0 {
		fmt.Fprintf(stdout, "tls.mode is off: the gateway listens on 127.0.0.1:%d only. From your computer, open a tunnel first:\n\n  ssh -N -L %d:127.0.0.1:%d <user>@<this host>\n\nthen open this link there:\n\n", cfg.Gateway.Port, cfg.Gateway.Port, cfg.Gateway.Port)
	} else {
		fmt.Fprintf(stdout, "Open this link in the browser to pair:\n\n")
	}
	fmt.Fprintf(stdout, "  %s\n\n", link)
	if !*noQR {
		qrterminal.GenerateHalfBlock(link, qrterminal.L, stdout)
		fmt.Fprintln(stdout)
	}
	left := time.Until(h.ExpiresAt).Round(time.Minute)
	fmt.Fprintf(stdout, "It works once, until %s (in %s). Run `openclawd pair` again for another browser.\n",
		h.ExpiresAt.Local().Format("15:04 MST"), strings.TrimSuffix(left.String(), "0s"))
	return ExitOK
}

// handoff is what pair needs from `openclaw dashboard --no-open --json`.
// The output's url field can hold the gateway token (#token=…), so it is
// never decoded, and the raw output is never printed.
type handoff struct {
	BrowserURL string
	ExpiresAt  time.Time
}

func parseHandoff(out []byte) (handoff, error) {
	var v struct {
		OK          bool   `json:"ok"`
		Reason      string `json:"reason"`
		BrowserURL  string `json:"browserUrl"`
		ExpiresAtMs int64  `json:"browserBootstrapExpiresAtMs"`
	}
	if err := decodeLastJSON(out, &v); err != nil {
		return handoff{}, fmt.Errorf("reading openclaw dashboard's output: %w", err)
	}
	if !v.OK {
		return handoff{}, fmt.Errorf("the gateway gave no pairing link: %s", v.Reason)
	}
	if v.BrowserURL == "" || v.ExpiresAtMs == 0 {
		return handoff{}, errors.New("openclaw dashboard's output lacks browserUrl or its expiry")
	}
	return handoff{BrowserURL: v.BrowserURL, ExpiresAt: time.UnixMilli(v.ExpiresAtMs)}, nil
}

// decodeLastJSON decodes the JSON object that starts at the first line
// beginning with "{" or "[": openclaw may log plain lines before it.
func decodeLastJSON(out []byte, v any) error {
	i := 0
	for {
		if i < len(out) && (out[i] == '{' || out[i] == '[') {
			return json.NewDecoder(bytes.NewReader(out[i:])).Decode(v)
		}
		j := bytes.IndexByte(out[i:], '\n')
		if j < 0 {
			return errors.New("no JSON in the output")
		}
		i += j + 1
	}
}

// checkLink refuses a link that would print a long-lived secret: it must
// carry a single-use bootstrap token and never the gateway token.
func checkLink(link string) error {
	_, frag, _ := strings.Cut(link, "#")
	parts := strings.Split(frag, "&")
	if slices.ContainsFunc(parts, func(p string) bool { return strings.HasPrefix(p, "token=") }) {
		return errors.New("the link openclaw made carries the gateway token, not a single-use one; not printing it")
	}
	if !slices.ContainsFunc(parts, func(p string) bool { return strings.HasPrefix(p, "bootstrapToken=") }) {
		return errors.New("the pairing link carries no bootstrap token")
	}
	return nil
}

// rewriteOrigin moves the link to origin (https://host[:port]) and its
// fragment's gatewayUrl to the matching wss:// origin, keeping paths and
// the order of the fragment's parameters.
func rewriteOrigin(link, origin string) (string, error) {
	base, frag, _ := strings.Cut(link, "#")
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing the pairing link: %w", err)
	}
	o, err := url.Parse(origin)
	if err != nil {
		return "", fmt.Errorf("parsing origin %q: %w", origin, err)
	}
	if o.Host == "" {
		return "", fmt.Errorf("parsing origin %q: no host", origin)
	}
	u.Scheme, u.Host = o.Scheme, o.Host
	parts := strings.Split(frag, "&")
	if !slices.ContainsFunc(parts, func(p string) bool { return strings.HasPrefix(p, "bootstrapToken=") }) {
		return "", errors.New("the pairing link carries no bootstrap token")
	}
	for i, p := range parts {
		k, val, _ := strings.Cut(p, "=")
		if k != "gatewayUrl" {
			continue
		}
		raw, err := url.QueryUnescape(val)
		if err != nil {
			return "", fmt.Errorf("parsing gatewayUrl: %w", err)
		}
		g, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("parsing gatewayUrl: %w", err)
		}
		g.Scheme, g.Host = "wss", o.Host
		if o.Scheme == "http" {
			g.Scheme = "ws"
		}
		parts[i] = k + "=" + url.QueryEscape(g.String())
	}
	return u.String() + "#" + strings.Join(parts, "&"), nil
}

// openclawOutput runs the openclaw CLI through openclawd's launcher (as the
// service user, the token in its environment) and returns its stdout, which
// the caller parses rather than prints.
func openclawOutput(cfg *config.Config, args []string, stderr io.Writer) ([]byte, int) {
	var out bytes.Buffer
	rc := openclawCmd(append([]string{"--config", cfg.Path}, args...), &out, stderr)
	return out.Bytes(), rc
}
