package nodemirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// checkTools fails early, with the fix, when a needed program is missing.
func checkTools() error {
	for _, t := range []struct{ bin, fix string }{
		{"npm", "install Node.js and npm (apt-get install npm)"},
		{"tar", "apt-get install tar"},
		{"xz", "apt-get install xz-utils"},
	} {
		if _, err := exec.LookPath(t.bin); err != nil {
			return fmt.Errorf("nodemirror: %s not found on PATH; %s: %w", t.bin, t.fix, err)
		}
	}
	return nil
}

// build assembles the official layout in a temp dir under root and renames
// the finished v<version> directory into place, replacing any stale one.
func build(ctx context.Context, root, verDir, version, npmVersion, arch, stamp string, log func(string, ...any)) error {
	tmp, err := os.MkdirTemp(root, ".build-v"+version+"-")
	if err != nil {
		return fmt.Errorf("nodemirror: temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	packs := filepath.Join(tmp, "packs")
	if err := os.Mkdir(packs, 0o755); err != nil {
		return fmt.Errorf("nodemirror: temp dir: %w", err)
	}
	// npm checks each tarball against the registry's dist.integrity.
	tgz, err := npmPack(ctx, packs, "node-linux-"+arch+"@"+version, "npm@"+npmVersion)
	if err != nil {
		return err
	}
	log("nodemirror: packed %s and %s", filepath.Base(tgz[0]), filepath.Base(tgz[1]))

	base := strings.TrimSuffix(TarballName(version, arch), ".tar.xz")
	stage := filepath.Join(tmp, "stage")
	tree := filepath.Join(stage, base)
	// The node package also carries include/ and share/; openclawd needs only bin/node.
	if err := extractTgz(tgz[0], filepath.Join(tree, "bin"), "package/bin/node"); err != nil {
		return fmt.Errorf("nodemirror: extract node: %w", err)
	}
	if err := extractTgz(tgz[1], filepath.Join(tree, "lib", "node_modules", "npm"), "package/"); err != nil {
		return fmt.Errorf("nodemirror: extract npm: %w", err)
	}
	for _, l := range [][2]string{
		{"../lib/node_modules/npm/bin/npm-cli.js", "npm"},
		{"../lib/node_modules/npm/bin/npx-cli.js", "npx"},
	} {
		if err := os.Symlink(l[0], filepath.Join(tree, "bin", l[1])); err != nil {
			return fmt.Errorf("nodemirror: symlink bin/%s: %w", l[1], err)
		}
	}
	// Catch a wrong-arch or glibc-incompatible binary here, not in a test far away.
	out, err := exec.CommandContext(ctx, filepath.Join(tree, "bin", "node"), "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "v"+version {
		return fmt.Errorf("nodemirror: run bin/node --version: got %q: %v", out, err)
	}

	dist := filepath.Join(tmp, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		return fmt.Errorf("nodemirror: temp dir: %w", err)
	}
	name := TarballName(version, arch)
	log("nodemirror: compressing %s", name)
	if err := packTarXz(ctx, stage, base, filepath.Join(dist, name)); err != nil {
		return err
	}
	sum, err := fileSHA256(filepath.Join(dist, name))
	if err != nil {
		return fmt.Errorf("nodemirror: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dist, "SHASUMS256.txt"), []byte(sum+"  "+name+"\n"), 0o644); err != nil {
		return fmt.Errorf("nodemirror: write SHASUMS256.txt: %w", err)
	}
	// The stamp is written last: its presence marks a complete build.
	if err := os.WriteFile(filepath.Join(dist, stampName), []byte(stamp), 0o644); err != nil {
		return fmt.Errorf("nodemirror: write %s: %w", stampName, err)
	}
	if err := os.RemoveAll(verDir); err != nil {
		return fmt.Errorf("nodemirror: remove stale build: %w", err)
	}
	if err := os.Rename(dist, verDir); err != nil {
		return fmt.Errorf("nodemirror: publish build: %w", err)
	}
	return nil
}

// npmPack downloads the given package specs into dir with the user's npm
// configuration and returns the tarball paths in spec order.
func npmPack(ctx context.Context, dir string, specs ...string) ([]string, error) {
	args := append([]string{"pack", "--json", "--pack-destination", dir}, specs...)
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir // outside any project, so no package.json or .npmrc is picked up
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nodemirror: npm pack %s: %w\n%s", strings.Join(specs, " "), err, stderr.Bytes())
	}
	var res []struct{ ID, Filename string }
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(specs) {
		return nil, fmt.Errorf("nodemirror: npm pack: unexpected output (%d entries for %d specs): %v", len(res), len(specs), err)
	}
	byID := map[string]string{}
	for _, r := range res {
		byID[r.ID] = r.Filename
	}
	paths := make([]string, len(specs))
	for i, s := range specs {
		if byID[s] == "" {
			return nil, fmt.Errorf("nodemirror: npm pack: no tarball for %s", s)
		}
		paths[i] = filepath.Join(dir, byID[s])
	}
	return paths, nil
}

// extractTgz extracts regular files of an npm tarball whose names start with
// prefix into dest, stripping the prefix's directory part. npm tarballs hold
// only files (directories are implied), so nothing else is needed.
func extractTgz(path, dest, prefix string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	strip := prefix[:strings.LastIndex(prefix, "/")+1]
	found := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(h.Name, prefix) {
			continue
		}
		rel := filepath.FromSlash(strings.TrimPrefix(h.Name, strip))
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("unsafe path %q in %s", h.Name, path)
		}
		mode := os.FileMode(0o644)
		if h.Mode&0o111 != 0 {
			mode = 0o755
		}
		if err := writeFile(filepath.Join(dest, rel), tr, mode); err != nil {
			return err
		}
		found = true
	}
	if !found {
		return fmt.Errorf("%s: nothing under %s", path, prefix)
	}
	return nil
}

func writeFile(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// packTarXz writes dir/base as a .tar.xz with normalized order, owners, modes
// and times. xz -1 is used because the default level takes ~5x longer on the
// 126 MB node binary for a ~15% smaller file, which a test mirror doesn't need.
func packTarXz(ctx context.Context, dir, base, out string) error {
	cmd := exec.CommandContext(ctx, "tar",
		"--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0",
		"--mode=u+rwX,go=rX", "--use-compress-program=xz -T0 -1",
		"-C", dir, "-cf", out, base)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nodemirror: tar+xz %s: %w\n%s", filepath.Base(out), err, b)
	}
	return nil
}
