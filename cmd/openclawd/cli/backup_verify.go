package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/daemon"
)

func backupVerifyCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("backup verify", stderr)
	from := fs.String("from", "", "verify an archive at this backup target")
	identity := fs.String("identity", "", "age identity file, for an encrypted copy (- reads standard input)")
	drill := fs.Bool("restore-test", false, "also restore it into a temporary directory, with OpenClaw's own restore")
	cfg, pos, rc := parseWithArg(fs, args, stderr)
	if cfg == nil {
		return rc
	}
	if pos == "" {
		pos = "latest"
	}
	if rc, done := asServiceUserWithIdentity(cfg, "backup verify", pos, *from, args, stdout, stderr); done {
		return rc
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cfg.Layout().Ensure(); err != nil {
		fmt.Fprintf(stderr, "openclawd: %v\n", err)
		return ExitFailure
	}
	ids, err := identities(*identity, os.Stdin)
	var path string
	if err == nil {
		path, err = resolveArchive(ctx, cfg, pos, *from, ids)
	}
	var m backup.Manifest
	if err == nil {
		m, err = backup.Verify(path, backup.VerifyOptions{Openclaw: gatewayVersion(cfg)})
	}
	if err == nil {
		fmt.Fprintf(stdout, "verified %s: made %s on %s, openclaw %s; every member matches its checksum; openclaw.json and %d databases are whole\n",
			path, m.Created.Local().Format(time.DateTime), m.Host, m.OpenclawVersion, len(m.Gateway.Databases))
		if *drill {
			err = restoreDrill(ctx, cfg, path, stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "openclawd: verify failed: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// restoreDrill restores the archive into a temporary directory twice:
// openclawd's extraction, and OpenClaw's own `backup restore` (which checks
// every SQLite database's integrity), and compares what they made. Both
// are removed after.
func restoreDrill(ctx context.Context, cfg *config.Config, path string, stdout io.Writer) error {
	l := cfg.Layout()
	start := time.Now()
	staged, err := backup.Stage(path, l, backup.VerifyOptions{})
	if err != nil {
		return err
	}
	defer os.RemoveAll(staged.Dir)
	tmp, err := os.MkdirTemp(l.Restore(), "drill-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	inner, err := backup.ExtractInner(path, tmp)
	if err != nil {
		return err
	}
	if _, err := daemon.RunOpenclaw(ctx, cfg, "backup", "restore", inner, "--target", filepath.Join(tmp, "openclaw"), "--json"); err != nil {
		return fmt.Errorf("OpenClaw's own restore of the archive failed: %w", err)
	}
	ours, err := countFiles(filepath.Join(staged.Dir, "openclaw"))
	if err != nil {
		return err
	}
	theirs, err := countFiles(filepath.Join(tmp, "openclaw"))
	if err != nil {
		return err
	}
	if ours == 0 || theirs < ours {
		return fmt.Errorf("the restore drill made %d files, OpenClaw's own restore %d: they should agree", ours, theirs)
	}
	fmt.Fprintf(stdout, "restore drill passed in %s: %d files extracted, and OpenClaw's own restore checked every database\n", time.Since(start).Round(100*time.Millisecond), ours)
	return nil
}

func countFiles(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != "manifest.json" {
			n++
		}
		return err
	})
	return n, err
}
