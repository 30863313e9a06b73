package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// VerifyOptions are the comparisons a verify makes beyond the archive's
// own consistency.
type VerifyOptions struct {
	// Live is the gateway's state now: an archive holding less (a missing
	// database, no openclaw.json) is refused, since it was made from the
	// wrong place (the .clawdbot/.openclaw rename) or lost files.
	Live *Content
	// LiveStateDir, with Live, must be the archive's gateway state dir.
	LiveStateDir string
	// Openclaw is the installed openclaw version: an archive from a newer
	// one is refused, since an older gateway may not read its state.
	Openclaw string
}

// DamagedError is an archive that is not whole: truncated, corrupted, or
// not an openclawd backup.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged (%v): it cannot be restored; use another archive (`openclawd backup list`)", e.Path, e.Err)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// Verify reads the whole archive at path and checks it; see VerifyReader.
func Verify(path string, o VerifyOptions) (Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	m, err := VerifyReader(f, o)
	var de *DamagedError
	if errors.As(err, &de) {
		de.Path = path
	}
	return m, err
}

// VerifyReader reads an archive to its end and checks that every member
// matches the manifest's size and SHA-256, that no member is missing or
// extra, that OpenClaw's archive in it holds openclaw.json and whole
// SQLite databases, and then o's comparisons.
func VerifyReader(r io.Reader, o VerifyOptions) (Manifest, error) {
	var m Manifest
	damaged := func(err error) (Manifest, error) { return Manifest{}, &DamagedError{Path: "the archive", Err: err} }
	tr := tar.NewReader(r)
	seen := map[string]File{}
	var in *inner
	var manifest []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("it ends early: truncated")
			}
			return damaged(err)
		}
		if manifest != nil {
			return damaged(fmt.Errorf("%s follows the manifest", h.Name))
		}
		if err := safeName(h.Name); err != nil {
			return damaged(err)
		}
		if h.Typeflag != tar.TypeReg {
			return damaged(fmt.Errorf("%s is not a regular file", h.Name))
		}
		if h.Name == ManifestName {
			if manifest, err = io.ReadAll(io.LimitReader(tr, 16<<20)); err != nil {
				return damaged(truncated(err))
			}
			continue
		}
		if err := knownMember(h.Name); err != nil {
			return damaged(err)
		}
		sum := sha256.New()
		body := io.TeeReader(tr, sum)
		if strings.HasPrefix(h.Name, gatewayDir) {
			if in != nil {
				return damaged(errors.New("it holds two OpenClaw archives"))
			}
			got, err := scanInner(body)
			if err != nil {
				return damaged(truncated(err))
			}
			in = &got
		}
		n, err := io.Copy(io.Discard, body)
		if err != nil {
			return damaged(truncated(err))
		}
		if _, dup := seen[h.Name]; dup {
			return damaged(fmt.Errorf("%s appears twice", h.Name))
		}
		seen[h.Name] = File{Name: h.Name, Size: h.Size, SHA256: hex.EncodeToString(sum.Sum(nil))}
		_ = n
	}
	if manifest == nil {
		return damaged(errors.New("it has no manifest: not an openclawd backup, or truncated"))
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		return damaged(fmt.Errorf("its manifest: %w", err))
	}
	if m.Format != Format {
		return Manifest{}, fmt.Errorf("the archive is format %d; this openclawd reads format %d: use the openclawd version that made it (%s) or a newer one", m.Format, Format, m.OpenclawdVersion)
	}
	for _, f := range m.Files {
		got, ok := seen[f.Name]
		switch {
		case !ok:
			return damaged(fmt.Errorf("%s is missing", f.Name))
		case got.Size != f.Size || got.SHA256 != f.SHA256:
			return damaged(fmt.Errorf("%s does not match its checksum", f.Name))
		}
		delete(seen, f.Name)
	}
	for name := range seen {
		return damaged(fmt.Errorf("%s is not in its manifest", name))
	}
	if in == nil {
		return damaged(errors.New("it holds no OpenClaw archive"))
	}
	if in.manifest.RuntimeVersion != m.OpenclawVersion || in.manifest.Paths.StateDir != m.GatewayStateDir ||
		!slices.Equal(in.content.Databases, m.Gateway.Databases) {
		return damaged(errors.New("its manifest does not describe the OpenClaw archive in it"))
	}
	if o.Openclaw != "" {
		c, err := compareVersions(m.OpenclawVersion, o.Openclaw)
		if err != nil {
			return Manifest{}, fmt.Errorf("comparing the archive's openclaw version with the installed one: %w", err)
		}
		if c > 0 {
			return Manifest{}, fmt.Errorf("the archive was made by openclaw %s, newer than the installed %s, which may not read its state: install %s first (openclaw.version and openclaw.integrity in the config, or a newer openclawd), then restore", m.OpenclawVersion, o.Openclaw, m.OpenclawVersion)
		}
	}
	if o.Live != nil {
		if err := holdsLive(m, *o.Live, o.LiveStateDir); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// holdsLive refuses an archive with less than the live state.
func holdsLive(m Manifest, live Content, liveDir string) error {
	if liveDir != "" && m.GatewayStateDir != liveDir {
		return fmt.Errorf("the archive holds %s, but the gateway's state is in %s: it backed up the wrong directory", m.GatewayStateDir, liveDir)
	}
	if live.Config && !m.Gateway.Config {
		return errors.New("the archive lacks openclaw.json, which the live state has")
	}
	var missing []string
	for _, db := range live.Databases {
		if !slices.Contains(m.Gateway.Databases, db) {
			missing = append(missing, db)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the archive lacks databases the live state has: %s", strings.Join(missing, ", "))
	}
	return nil
}

// knownMember refuses a member this openclawd never writes: one OpenClaw
// archive directly under openclaw/, the token, Caddy's files and the two
// config files. Restore extracts nothing else, and relies on it.
func knownMember(name string) error {
	switch {
	case name == secretsDir+"gateway-token", name == configName, name == envName:
	case strings.HasPrefix(name, caddyDir) && len(name) > len(caddyDir):
	case strings.HasPrefix(name, gatewayDir) && strings.HasSuffix(name, ".tar.gz") && !strings.Contains(name[len(gatewayDir):], "/"):
	default:
		return fmt.Errorf("%s is not a member an openclawd archive has", name)
	}
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("it ends early (truncated): %w", err)
	}
	return err
}
