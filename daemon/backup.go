package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/config"
	"github.com/openclawd/openclawd/runtime/provision"
)

// BackupReport is what one backup did.
type BackupReport struct {
	Archive backup.Result
	Copies  []Copy
	Pruned  int // archives removed by retention, here and at targets
}

// Copy is the archive's copy at one target.
type Copy struct {
	Target string
	Name   string
	Size   int64
	Took   time.Duration
	Err    error
}

// Backup makes one archive of cfg's state, copies it to the targets (all
// when only is nil, else those it names: none when empty), records each outcome for status, and prunes by
// backup.keep. It runs as the service user. The error is the archive's,
// or else every failed copy's: a copy that failed never hides one that
// worked, and the archive stays either way.
func Backup(ctx context.Context, cfg *config.Config, only []string, lockWait time.Duration, log *slog.Logger) (BackupReport, error) {
	var rep BackupReport
	for _, n := range only {
		if _, ok := cfg.Backup.Target(n); !ok {
			return rep, fmt.Errorf("no backup target %q in %s (backup.targets): %s", n, cfg.Path, targetNames(cfg))
		}
	}
	l := cfg.Layout()
	_, rtErr := InstalledRuntime(cfg)
	o := backup.Options{
		Layout: l, ConfigPath: cfg.Path, EnvFile: cfg.Gateway.EnvFile, OpenclawdVersion: Version, LockWait: lockWait,
		Openclaw: func(ctx context.Context, args ...string) ([]byte, error) {
			if rtErr != nil {
				return nil, rtErr
			}
			return RunOpenclaw(ctx, cfg, args...)
		},
	}
	start := time.Now()
	res, err := backup.Create(ctx, o)
	a := backup.Attempt{At: start.UTC(), TookMS: time.Since(start).Milliseconds()}
	if err != nil {
		if !errors.Is(err, backup.ErrBusy) { // the one in progress records itself
			a.Error = err.Error()
			_ = backup.Note(l, "", a)
		}
		return rep, err
	}
	rep.Archive = res
	a.Name, a.Size, a.Verified = filepath.Base(res.Path), res.Size, true
	_ = backup.Note(l, "", a)
	log.Info("backup made", "archive", res.Path, "size", res.Size, "took", res.Took.Round(time.Millisecond))

	if len(cfg.Backup.Targets) > 0 {
		fileEnv, err := cfg.ReadEnv()
		if err != nil {
			return rep, err
		}
		for _, tc := range cfg.Backup.Targets {
			if only != nil && !slices.Contains(only, tc.Name) {
				continue
			}
			c := copyTo(ctx, cfg, tc, fileEnv, res.Path)
			rep.Copies = append(rep.Copies, c)
			na := backup.Attempt{At: time.Now().UTC(), Name: c.Name, Size: c.Size, TookMS: c.Took.Milliseconds()}
			if c.Err != nil {
				na.Error = c.Err.Error()
				log.Error("backup copy failed", "target", tc.Name, "err", c.Err)
			} else {
				log.Info("backup copied", "target", tc.Name, "name", c.Name, "took", c.Took.Round(time.Millisecond))
			}
			_ = backup.Note(l, tc.Name, na)
		}
	}
	pruned, err := backup.PruneDir(l.Backups(), cfg.Backup.Keep)
	if err != nil {
		log.Warn("pruning local backups", "err", err)
	}
	rep.Pruned = len(pruned)
	var errs []error
	for _, c := range rep.Copies {
		if c.Err != nil {
			errs = append(errs, fmt.Errorf("the copy to %s failed: %w", c.Target, c.Err))
		}
	}
	return rep, errors.Join(errs...)
}

// copyTo uploads the archive to one target (encrypted when recipients are
// set), then prunes there.
func copyTo(ctx context.Context, cfg *config.Config, tc config.BackupTarget, fileEnv map[string]string, path string) Copy {
	c := Copy{Target: tc.Name, Name: filepath.Base(path)}
	start := time.Now()
	defer func() { c.Took = time.Since(start) }()
	t, err := OpenTarget(cfg, tc, fileEnv)
	if err != nil {
		c.Err = err
		return c
	}
	f, err := os.Open(path)
	if err != nil {
		c.Err = err
		return c
	}
	defer f.Close()
	size := int64(-1)
	if len(cfg.Backup.Recipients) == 0 {
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	} else {
		c.Name += ".age"
	}
	if c.Err = t.Put(ctx, filepath.Base(path), f, size); c.Err != nil {
		if tc.Type == "dir" && errors.Is(c.Err, syscall.EROFS) {
			c.Err = fmt.Errorf("%w; under systemd the service's sandbox makes %s read-only: `sudo systemctl edit openclawd`, add [Service] ReadWritePaths=%s, then restart it", c.Err, tc.Path, tc.Path)
		}
		return c
	}
	if objs, err := t.List(ctx); err == nil {
		for _, o := range objs {
			if o.Name == c.Name {
				c.Size = o.Size
			}
		}
		for _, x := range backup.Prune(archivesOf(objs), cfg.Backup.Keep) {
			_ = t.Delete(ctx, x.Name)
		}
	}
	c.Took = time.Since(start)
	return c
}

// archivesOf keeps the objects that are archives, with their times.
func archivesOf(objs []target.Object) []backup.Archive {
	var out []backup.Archive
	for _, o := range objs {
		if t, ok := backup.ArchiveTime(o.Name); ok {
			out = append(out, backup.Archive{Name: o.Name, Created: t, Size: o.Size})
		}
	}
	backup.SortNewest(out)
	return out
}

// OpenTarget returns the configured target, encrypting when
// backup.recipients are set; credentials come from the env file.
func OpenTarget(cfg *config.Config, tc config.BackupTarget, fileEnv map[string]string) (target.Target, error) {
	var t target.Target
	var err error
	switch tc.Type {
	case "dir":
		t, err = target.NewDir(tc.Name, tc.Path)
	case "s3":
		ak, sk := tc.Keys()
		if fileEnv[ak] == "" || fileEnv[sk] == "" {
			where := cfg.Gateway.EnvFile
			if where == "" {
				where = "an env file (gateway.env_file)"
			}
			return nil, fmt.Errorf("backup target %s needs its credentials %s and %s in %s", tc.Name, ak, sk, where)
		}
		t, err = target.NewS3(target.S3Options{Name: tc.Name, Endpoint: tc.Endpoint, Bucket: tc.Bucket, Prefix: tc.Prefix,
			Region: tc.Region, PathStyle: tc.PathStyle, AccessKeyID: fileEnv[ak], SecretAccessKey: fileEnv[sk]})
	default:
		err = fmt.Errorf("backup target %s has type %q", tc.Name, tc.Type)
	}
	if err != nil {
		return nil, err
	}
	if len(cfg.Backup.Recipients) > 0 {
		rs, err := target.ParseRecipients(cfg.Backup.Recipients)
		if err != nil {
			return nil, err
		}
		t = target.Encrypt(t, rs)
	}
	return t, nil
}

func targetNames(cfg *config.Config) string {
	if len(cfg.Backup.Targets) == 0 {
		return "none are configured"
	}
	var n []string
	for _, t := range cfg.Backup.Targets {
		n = append(n, t.Name)
	}
	return "configured: " + strings.Join(n, ", ")
}

// RunOpenclaw runs the openclaw CLI with the gateway's launcher and
// returns its stdout; a failure carries the end of its stderr.
func RunOpenclaw(ctx context.Context, cfg *config.Config, args ...string) ([]byte, error) {
	cmd, err := OpenclawCommand(cfg, args)
	if err != nil {
		return nil, err
	}
	return runCommand(ctx, cmd)
}

// runCommand runs cmd under ctx: its stdout, and stderr's tail in the error.
func runCommand(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env, c.Dir = cmd.Env, cmd.Dir
	c.WaitDelay = 10 * time.Second
	var stderr tailBuffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out, nil
}

// tailBuffer keeps the last 2 KB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

// OpenclawVersion is the version of the installed openclaw package.
func OpenclawVersion(rt provision.Runtime) (string, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(rt.Openclaw.Launcher()), "package.json"))
	if err != nil {
		return "", err
	}
	var p struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return "", err
	}
	return p.Version, nil
}
