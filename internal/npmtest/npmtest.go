// Package npmtest is a local npm registry for tests.
//
// It serves test-built versions of packages (for example a fake openclaw
// that exits during start) next to the real ones: a packument request for a
// name with fake versions is fetched from the real registry and the fake
// versions are added to it; everything else is reverse-proxied to the real
// registry. The real npm can therefore view, lock and install a fake version
// while its dependencies, other versions and the /-/ endpoints stay real.
//
// The real registry is the one npm is configured with: $npm_config_registry
// if set, else `npm config get registry`.
package npmtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
	"time"
)

// Package is a test-built package version. Start generates its package.json
// from Name, Version and EnginesNode (no "type"), adding
// "bin": {"openclaw": "openclaw.mjs"} when Files holds openclaw.mjs; Files
// must not hold a package.json.
type Package struct {
	Name        string
	Version     string
	Files       map[string]string // path in package -> content
	EnginesNode string            // engines.node; omitted when empty
}

// binFile is the entry point a package gets as its "openclaw" bin when
// Files holds it (a bin whose file is missing breaks npm's bin linking).
const binFile = "openclaw.mjs"

// abbreviated is the media type of npm's abbreviated ("corgi") packument.
const abbreviated = "application/vnd.npm.install-v1+json"

// Registry is a running registry. Point npm at it with
// npm_config_registry=URL (or --registry URL).
type Registry struct {
	URL      string // http://127.0.0.1:<port>/
	Upstream string // the real registry everything else goes to, with trailing slash

	upstream  *url.URL
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	byName    map[string][]*tarball // fake versions in Start's order
	byPath    map[string]*tarball   // unescaped request path without leading "/"
	published string                // time[v] of every fake version
}

// tarball is a built fake version.
type tarball struct {
	pkg       Package
	path      string // <name>/-/<base>-<version>.tgz
	tgz       []byte
	integrity string // sha512-<base64>
	shasum    string // sha1 hex
	hasBin    bool
}

// Start builds the packages' tarballs and serves them on 127.0.0.1 until
// the test ends. It fails the test if a package is invalid or the real
// registry's address cannot be found.
func Start(t testing.TB, pkgs ...Package) *Registry {
	t.Helper()
	up, err := upstreamRegistry(context.Background())
	if err != nil {
		t.Fatalf("npmtest: %v", err)
	}
	r := &Registry{
		Upstream:  up.String(),
		upstream:  up,
		byName:    map[string][]*tarball{},
		byPath:    map[string]*tarball{},
		published: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	for _, p := range pkgs {
		tb, err := build(p)
		if err != nil {
			t.Fatalf("npmtest: %v", err)
		}
		if r.byPath[tb.path] != nil {
			t.Fatalf("npmtest: %s@%s given twice", p.Name, p.Version)
		}
		r.byName[p.Name] = append(r.byName[p.Name], tb)
		r.byPath[tb.path] = tb
	}

	// A transport of our own, so that Cleanup can close its idle connections.
	r.transport = http.DefaultTransport.(*http.Transport).Clone()
	r.proxy = &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(r.upstream) }, // keeps the upstream's base path
		Transport: r.transport,
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			http.Error(w, fmt.Sprintf("npmtest: proxy %s to %s: %v", req.URL.Path, r.Upstream, err), http.StatusBadGateway)
		},
	}

	// Our own listener: httptest would fall back to [::1], and npm is
	// told the address in the tarball URLs, so it must be known up front.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("npmtest: listen: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: r}}
	r.URL = "http://" + ln.Addr().String() + "/"
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		r.transport.CloseIdleConnections()
	})
	return r
}

// Integrity returns the dist.integrity served for name@version, or "" if
// that is not a fake version of this registry.
func (r *Registry) Integrity(name, version string) string {
	for _, tb := range r.byName[name] {
		if tb.pkg.Version == version {
			return tb.integrity
		}
	}
	return ""
}

// ServeHTTP serves fake packuments and tarballs and proxies the rest.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// npm escapes a scoped name's slash (@scope%2fname); match unescaped.
	p, err := url.PathUnescape(strings.TrimPrefix(req.URL.EscapedPath(), "/"))
	if err != nil {
		r.proxy.ServeHTTP(w, req)
		return
	}
	if fakes, ok := r.byName[p]; ok {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			// Never forward a write of a faked name to the real registry.
			http.Error(w, "npmtest: "+req.Method+" of a fake package", http.StatusMethodNotAllowed)
			return
		}
		r.servePackument(w, req, p, fakes)
		return
	}
	if tb, ok := r.byPath[p]; ok && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(tb.tgz))
		return
	}
	r.proxy.ServeHTTP(w, req)
}

// servePackument serves the real packument of name plus the fake versions.
func (r *Registry) servePackument(w http.ResponseWriter, req *http.Request, name string, fakes []*tarball) {
	body, hdr, err := r.fetchPackument(req, name)
	if err != nil {
		http.Error(w, fmt.Sprintf("npmtest: packument %s: %v", name, err), http.StatusBadGateway)
		return
	}
	full := !strings.HasPrefix(hdr.Get("Content-Type"), abbreviated)
	if body == nil {
		// Unknown upstream: a packument of the fakes alone, in the form asked for.
		full = !strings.Contains(req.Header.Get("Accept"), abbreviated)
		latest, _ := json.Marshal(map[string]string{"latest": fakes[len(fakes)-1].pkg.Version})
		nameJSON, _ := json.Marshal(name)
		body, _ = json.Marshal(map[string]json.RawMessage{"name": nameJSON, "dist-tags": latest, "versions": []byte("{}")})
		hdr = http.Header{}
		if full {
			hdr.Set("Content-Type", "application/json")
		} else {
			hdr.Set("Content-Type", abbreviated)
		}
	}
	out, err := r.addVersions(body, fakes, full)
	if err != nil {
		http.Error(w, fmt.Sprintf("npmtest: packument %s from %s: %v", name, r.Upstream, err), http.StatusBadGateway)
		return
	}
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	// The body changed: upstream's validators and framing no longer apply.
	for _, k := range []string{"Content-Length", "Content-Encoding", "Transfer-Encoding", "Etag", "Last-Modified", "Accept-Ranges", "Content-Range", "Connection", "Keep-Alive"} {
		w.Header().Del(k)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// fetchPackument GETs name's packument from upstream in the form the client
// asked for. A nil body with nil error means upstream has no such package.
func (r *Registry) fetchPackument(in *http.Request, name string) ([]byte, http.Header, error) {
	// PathEscape keeps "@" and escapes a scope's "/" as npm does.
	u := r.Upstream + url.PathEscape(name)
	req, err := http.NewRequestWithContext(in.Context(), http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	accept := in.Header.Get("Accept")
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	// We rewrite the body, so ask for it plain (an explicit Accept-Encoding
	// also stops the transport from decoding on its own).
	req.Header.Set("Accept-Encoding", "identity")
	if ua := in.Header.Get("User-Agent"); ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := r.transport.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
	}
	var rd io.Reader = resp.Body
	switch enc := strings.ToLower(resp.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		// Some registries and proxies compress regardless of what was asked.
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("GET %s: gzip body: %w", u, err)
		}
		rd = zr
	default:
		return nil, nil, fmt.Errorf("GET %s: unsupported Content-Encoding %q", u, enc)
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	return body, resp.Header, nil
}

// addVersions returns the packument with the fakes' manifests in versions
// (replacing real ones of the same version) and, in the full form, their
// time[v]. dist-tags are left alone.
func (r *Registry) addVersions(body []byte, fakes []*tarball, full bool) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parse packument: %w", err)
	}
	if doc == nil {
		return nil, errors.New("parse packument: not a JSON object")
	}
	versions := map[string]json.RawMessage{}
	if raw, ok := doc["versions"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &versions); err != nil {
			return nil, fmt.Errorf("parse packument versions: %w", err)
		}
	}
	times := map[string]json.RawMessage{}
	if raw, ok := doc["time"]; ok && full && string(raw) != "null" {
		if err := json.Unmarshal(raw, &times); err != nil {
			return nil, fmt.Errorf("parse packument time: %w", err)
		}
	}
	published, _ := json.Marshal(r.published)
	for _, tb := range fakes {
		m, err := json.Marshal(r.manifest(tb))
		if err != nil {
			return nil, err
		}
		versions[tb.pkg.Version] = m
		times[tb.pkg.Version] = published
	}
	var err error
	if doc["versions"], err = json.Marshal(versions); err != nil {
		return nil, err
	}
	if full {
		if doc["time"], err = json.Marshal(times); err != nil {
			return nil, err
		}
	}
	return json.Marshal(doc)
}

// manifest is a fake version's entry in a packument's versions.
func (r *Registry) manifest(tb *tarball) map[string]any {
	m := map[string]any{
		"name":         tb.pkg.Name,
		"version":      tb.pkg.Version,
		"dependencies": map[string]string{},
		"dist": map[string]string{
			"tarball":   r.URL + tb.path,
			"integrity": tb.integrity,
			"shasum":    tb.shasum,
		},
	}
	if tb.pkg.EnginesNode != "" {
		m["engines"] = map[string]string{"node": tb.pkg.EnginesNode}
	}
	if tb.hasBin {
		m["bin"] = map[string]string{"openclaw": binFile}
	}
	return m
}

// upstreamRegistry is the registry npm would use, with a trailing slash.
func upstreamRegistry(ctx context.Context) (*url.URL, error) {
	var reg, from string
	for _, k := range []string{"npm_config_registry", "NPM_CONFIG_REGISTRY"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			reg, from = v, "$"+k
			break
		}
	}
	if reg == "" {
		npm, err := exec.LookPath("npm")
		if err != nil {
			return nil, fmt.Errorf("find the real registry: npm not on PATH and $npm_config_registry unset: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "config", "get", "registry")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("find the real registry: npm config get registry: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
		reg, from = strings.TrimSpace(string(out)), "npm config get registry"
	}
	u, err := url.Parse(reg)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("find the real registry: %s gave %q, not an http(s) URL", from, reg)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// build makes p's tarball: entries under package/, sorted, with npm pack's
// fixed mtime, so the same Package always has the same integrity.
func build(p Package) (*tarball, error) {
	id := p.Name + "@" + p.Version
	if !validName(p.Name) {
		return nil, fmt.Errorf("%s: invalid package name %q", id, p.Name)
	}
	if p.Version == "" || strings.ContainsAny(p.Version, "/ ") {
		return nil, fmt.Errorf("%s: invalid version %q", id, p.Version)
	}
	files := map[string]string{}
	for name, content := range p.Files {
		clean := path.Clean(name)
		if clean != name || path.IsAbs(name) || name == "." || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("%s: file path %q is not a clean relative path", id, name)
		}
		if name == "package.json" {
			return nil, fmt.Errorf("%s: Files holds package.json; it is generated from Name, Version and EnginesNode", id)
		}
		files[name] = content
	}
	_, hasBin := files[binFile]
	pj, err := packageJSON(p, hasBin)
	if err != nil {
		return nil, fmt.Errorf("%s: package.json: %w", id, err)
	}
	files["package.json"] = string(pj)

	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // valid level: no error
	tw := tar.NewWriter(zw)
	mtime := time.Date(1985, 10, 26, 8, 15, 0, 0, time.UTC) // what npm pack uses
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		mode := int64(0o644)
		if n == binFile {
			mode = 0o755
		}
		hdr := &tar.Header{Name: "package/" + n, Mode: mode, Size: int64(len(files[n])), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: tar %s: %w", id, n, err)
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, fmt.Errorf("%s: tar %s: %w", id, n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("%s: tar: %w", id, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("%s: gzip: %w", id, err)
	}
	tgz := buf.Bytes()
	s512 := sha512.Sum512(tgz)
	s1 := sha1.Sum(tgz)
	base := p.Name[strings.LastIndex(p.Name, "/")+1:] // a scoped tarball is named without its scope
	return &tarball{
		pkg:       p,
		path:      p.Name + "/-/" + base + "-" + p.Version + ".tgz",
		tgz:       tgz,
		integrity: "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
		shasum:    hex.EncodeToString(s1[:]),
		hasBin:    hasBin,
	}, nil
}

// packageJSON is the generated package.json; no "type", so openclaw.mjs is
// ESM by its extension and nothing else in the package changes meaning.
func packageJSON(p Package, hasBin bool) ([]byte, error) {
	type engines struct {
		Node string `json:"node"`
	}
	var pj struct {
		Name    string            `json:"name"`
		Version string            `json:"version"`
		Bin     map[string]string `json:"bin,omitempty"`
		Engines *engines          `json:"engines,omitempty"`
	}
	pj.Name, pj.Version = p.Name, p.Version
	if hasBin {
		pj.Bin = map[string]string{"openclaw": binFile}
	}
	if p.EnginesNode != "" {
		pj.Engines = &engines{Node: p.EnginesNode}
	}
	b, err := json.MarshalIndent(pj, "", "  ")
	return append(b, '\n'), err
}

// validName accepts "name" and "@scope/name" of URL-safe lower-case parts.
func validName(n string) bool {
	part := func(s string) bool {
		if s == "" || s[0] == '.' || s[0] == '_' {
			return false
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
				return false
			}
		}
		return true
	}
	if scope, rest, ok := strings.Cut(n, "/"); ok {
		return strings.HasPrefix(scope, "@") && part(scope[1:]) && part(rest)
	}
	return part(n)
}
