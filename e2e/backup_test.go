package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openclawd/openclawd/backup"
	"github.com/openclawd/openclawd/backup/target"
	"github.com/openclawd/openclawd/internal/s3test"
	"github.com/openclawd/openclawd/localapi/apitype"
)

// TestRealBackupRestore makes state with the real gateway by using it (a
// paired device, a config edit, a certificate from Caddy's local CA),
// backs it up here, to a directory and, encrypted, to a real S3 server,
// wipes the state dir and restores it from S3 with the age key: the same
// token, the device still paired, the same certificate. Then the health
// gate: a restore the gateway cannot start on is undone while openclawd
// runs, and a good one passes.
func TestRealBackupRestore(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: npm runs as the unprivileged install user")
	}
	s3 := s3test.Start(t)
	in := newRealInstance(t)
	top := t // openclawd runs across subtests: its cleanup is the test's
	state := filepath.Join(in.dir, "state")
	disk := filepath.Join(in.dir, "disk") // "a mounted disk", the service user's
	keyDir := t.TempDir()                 // root's: the identity never lives beside the backups
	identity, recipient, err := target.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(keyDir, "backup-key.txt")
	writeFile(t, keyFile, identity+"\n", 0o600, -1)
	envFile := s3EnvFile(t, in, s3)
	https, httpPort := freePort(t), freePort(t)
	appendConfig(t, in.cfg, fmt.Sprintf(`  env_file: %s
tls:
  mode: internal
  domain: [claw.example.com]
  listen: 127.0.0.1
  https_port: %d
  http_port: %d
  check_interval: 0s
backup:
  every: 0s # turned on below, when the schedule is the subject
  recipients: [%s]
  targets:
    - {name: offsite, type: s3, endpoint: %s, bucket: %s, path_style: true}
    - {name: disk, type: dir, path: %s}
`, envFile, https, httpPort, recipient, s3.Endpoint, s3.Bucket, disk))
	in.start()
	in.waitStatus("a healthy real gateway with hello-ok", 8*time.Minute, func(s apitype.Status, rc int) bool {
		return rc == 0 && s.Healthy && s.Health.Deep.HelloOK
	})

	// State made by using it.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	device := wsClient{token: in.token(), key: key}
	pairDevice(t, in, device)
	if out, rc := in.cli("openclaw", "--config", in.cfg, "config", "set", "agents.defaults.heartbeat.every", "0m"); rc != 0 {
		t.Fatalf("config set (rc %d): %s", rc, out)
	}
	token := in.token()
	certs := waitCerts(t, state)
	serial := loopbackSerial(t, https)

	t.Run("backup, copies and status", func(t *testing.T) {
		in.t = t
		out, rc := in.cli("backup", "--config", in.cfg)
		if rc != 0 {
			t.Fatalf("backup (rc %d):\n%s", rc, out)
		}
		for _, want := range []string{"verified", "databases", "the gateway token", "Caddy's certificates", "copy     offsite: openclawd-backup-", ".tar.age", "copy     disk:"} {
			if !strings.Contains(out, want) {
				t.Errorf("backup output lacks %q:\n%s", want, out)
			}
		}
		st, _ := in.status()
		b := st.Backup
		if b == nil || b.Local == nil || !b.Local.Verified || b.Local.Error != "" || b.Targets["offsite"] == nil || b.Targets["offsite"].Error != "" || b.Targets["disk"] == nil {
			t.Fatalf("status backup = %+v", b)
		}
		// Encrypted at rest in S3: no tar header in the object.
		out, rc = in.cli("backup", "list", "--from", "offsite", "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "1 archives") || !strings.Contains(out, ".tar.age") {
			t.Errorf("backup list --from offsite (rc %d):\n%s", rc, out)
		}
		out, rc = in.cli("backup", "verify", "--restore-test", "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "restore drill passed") {
			t.Errorf("verify --restore-test (rc %d):\n%s", rc, out)
		}
		human, _ := in.cli("status", "--socket", in.sock)
		if !regexp.MustCompile(`backup +\S+ ago, openclawd-backup-\S+ \([0-9.]+ [KM]B\), verified`).MatchString(human) {
			t.Errorf("status lacks the backup line:\n%s", human)
		}
	})

	t.Run("kill -9 during a backup leaves no archive", func(t *testing.T) {
		in.t = t
		before := archives(t, state)
		cmd := exec.Command(bins.openclawd, "backup", "--config", in.cfg)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, time.Minute, "a backup in progress", func() bool {
			m, _ := filepath.Glob(filepath.Join(state, "backups", ".partial-*"))
			return len(m) > 0
		})
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		killOpenclawCLIs(t, state) // the openclaw it ran, if still running
		if after := archives(t, state); !equalStrings(before, after) {
			t.Fatalf("archives %v after a killed backup; want %v", after, before)
		}
		out, rc := in.cli("backup", "--to", "disk", "--config", in.cfg)
		if rc != 0 {
			t.Fatalf("the next backup (rc %d): %s", rc, out)
		}
		if m, _ := filepath.Glob(filepath.Join(state, "backups", ".partial-*")); len(m) != 0 {
			t.Errorf("the next backup left the killed one's partials: %v", m)
		}
	})

	t.Run("a wrong age key is refused", func(t *testing.T) {
		in.t = t
		other, _, _ := target.GenerateIdentity()
		wrong := filepath.Join(keyDir, "other.txt")
		writeFile(t, wrong, other+"\n", 0o600, -1)
		out, rc := in.cli("backup", "verify", "latest", "--from", "offsite", "--identity", wrong, "--config", in.cfg)
		if rc == 0 || !strings.Contains(out, "encrypted to a different age key") {
			t.Errorf("verify with the wrong key (rc %d): %s", rc, out)
		}
	})

	t.Run("wiped, restored from S3 on a stopped openclawd", func(t *testing.T) {
		in.t = t
		if rc := in.stop(); rc != 0 {
			t.Fatalf("stop: %d", rc)
		}
		// A new host: nothing but the runtime (kept only to skip a download).
		ents, _ := os.ReadDir(state)
		for _, e := range ents {
			if e.Name() != "runtime" {
				os.RemoveAll(filepath.Join(state, e.Name()))
			}
		}
		out, rc := in.cli("restore", "latest", "--from", "offsite", "--identity", keyFile, "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "Its first start is the health gate") || !strings.Contains(out, "WhatsApp") {
			t.Fatalf("restore (rc %d):\n%s", rc, out)
		}
		b, _ := os.ReadFile(in.cfg)
		if err := os.WriteFile(in.cfg, []byte(strings.Replace(string(b), "every: 0s", "every: 24h", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		in.t = top
		in.start("OPENCLAWD_BACKUP_POLL=1s") // the schedule looks every second
		in.t = t
		in.waitStatus("healthy on the restored state, the gate passed", 5*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Backup != nil && !s.Backup.Restoring
		})
		// The wipe took the backup record: the schedule is due at once.
		st, _ := in.waitStatus("a scheduled backup", 3*time.Minute, func(s apitype.Status, rc int) bool {
			return s.Backup != nil && s.Backup.Local != nil && !s.Backup.Running
		})
		if l := st.Backup.Local; !l.Verified || l.Error != "" || st.Backup.Targets["offsite"] == nil || st.Backup.Targets["offsite"].Error != "" {
			t.Errorf("the scheduled backup: local %+v, targets %+v", l, st.Backup.Targets)
		}
		if _, err := os.Stat(filepath.Join(state, "restore", "journal.json")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the restore journal is still there: %v", err)
		}
		checkSameBot(t, in, device, token, certs, serial, https, state)
		if got := readFile(t, filepath.Join(state, "openclaw", "openclaw.json")); !strings.Contains(got, `"0m"`) {
			t.Errorf("the config edit is gone:\n%s", got)
		}
	})

	t.Run("a restore the gateway cannot start on is undone", func(t *testing.T) {
		in.t = t
		good := filepath.Join(state, "backups", archives(t, state)[0])
		bad := filepath.Join(keyDir, "bad"+backup.Suffix) // root's alone: restore hands it over
		rewriteGatewayConfig(t, good, bad, func(b []byte) []byte {
			return bytes.Replace(b, []byte("{"), []byte("{\n  \"openclawdBogusKey\": true,"), 1)
		})
		out, rc := in.cli("restore", bad, "--config", in.cfg)
		if rc == 0 || !strings.Contains(out, "openclawdBogusKey") || !strings.Contains(out, "the previous state is back") {
			t.Fatalf("restore of a bad state (rc %d):\n%s", rc, out)
		}
		in.waitStatus("healthy again on the previous state", 5*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Health.Deep.HelloOK
		})
		if strings.Contains(readFile(t, filepath.Join(state, "openclaw", "openclaw.json")), "openclawdBogusKey") {
			t.Error("the bad state is still in place")
		}
		checkSameBot(t, in, device, token, certs, serial, https, state)
	})

	t.Run("a restore on a stopped openclawd that fails its gate is undone at the start", func(t *testing.T) {
		in.t = t
		bad := filepath.Join(keyDir, "bad"+backup.Suffix) // root's alone: restore hands it over
		if rc := in.stop(); rc != 0 {
			t.Fatalf("stop: %d", rc)
		}
		out, rc := in.cli("restore", bad, "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "Its first start is the health gate") {
			t.Fatalf("restore (rc %d):\n%s", rc, out)
		}
		in.t = top
		in.start()
		in.t = t
		in.waitStatus("healthy on the previous state", 5*time.Minute, func(s apitype.Status, rc int) bool {
			return rc == 0 && s.Healthy && s.Health.Deep.HelloOK && s.Backup != nil && !s.Backup.Restoring
		})
		if strings.Contains(readFile(t, filepath.Join(state, "openclaw", "openclaw.json")), "openclawdBogusKey") {
			t.Error("the bad state is in use")
		}
		if !strings.Contains(in.stderr.String(), "the restored state failed its health gate; putting the previous state back") {
			t.Errorf("the undo was not logged:\n%s", in.stderr.String())
		}
		checkSameBot(t, in, device, token, certs, serial, https, state)
	})

	t.Run("a restore while running passes its gate", func(t *testing.T) {
		in.t = t
		if out, rc := in.cli("openclaw", "--config", in.cfg, "config", "set", "agents.defaults.heartbeat.every", "45m"); rc != 0 {
			t.Fatalf("config set: %s", out)
		}
		out, rc := in.cli("restore", "latest", "--config", in.cfg)
		if rc != 0 || !strings.Contains(out, "the gateway is healthy on it") {
			t.Fatalf("restore (rc %d):\n%s", rc, out)
		}
		if got := readFile(t, filepath.Join(state, "openclaw", "openclaw.json")); strings.Contains(got, "45m") || !strings.Contains(got, `"0m"`) {
			t.Errorf("openclaw.json after the restore is not the backup's:\n%s", got)
		}
		checkSameBot(t, in, device, token, certs, serial, https, state)
	})

	// Down, not misconfigured: OpenClaw's own backup refuses a config it
	// cannot parse ("Backup discovery failed"), whoever runs it.
	t.Run("the schedule backs up a gateway that is down", func(t *testing.T) {
		in.t = t
		if rc := in.stop(); rc != 0 {
			t.Fatalf("stop: %d", rc)
		}
		squatter, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", in.port)) // the gateway cannot start
		if err != nil {
			t.Fatal(err)
		}
		defer squatter.Close()
		os.Remove(filepath.Join(state, "backups", "record.json")) // due at once
		before := archives(t, state)[0]
		in.t = top
		in.start("OPENCLAWD_BACKUP_POLL=1s")
		in.t = t
		st, _ := in.waitStatus("a scheduled backup while the gateway is down", 3*time.Minute, func(s apitype.Status, _ int) bool {
			return s.Backup != nil && s.Backup.Local != nil && !s.Backup.Running
		})
		if newest := archives(t, state)[0]; st.Gateway.State == "running" || !st.Backup.Local.Verified || st.Backup.Local.Error != "" || newest == before || st.Backup.Local.Name != newest {
			t.Errorf("gateway %s, backup %+v, newest archive %s (was %s); want a new verified backup while the gateway is down", st.Gateway.State, st.Backup.Local, newest, before)
		}
		squatter.Close()
		in.waitStatus("healthy once the port is free", 5*time.Minute, func(s apitype.Status, rc int) bool { return rc == 0 && s.Healthy })
	})
}

// s3EnvFile writes the env file with the S3 server's credentials, the
// service user's, 0600, and returns its path.
func s3EnvFile(tb testing.TB, in *instance, s3 *s3test.Server) string {
	tb.Helper()
	p := filepath.Join(in.dir, "gateway.env")
	writeFile(tb, p, fmt.Sprintf("OPENCLAWD_S3_ACCESS_KEY_ID=%s\nOPENCLAWD_S3_SECRET_ACCESS_KEY=%s\n", s3.AccessKey, s3.SecretKey), 0o600, serviceIDs.uid)
	return p
}

// pairDevice connects with the device key and, if the gateway asks for
// pairing, approves the request with `openclawd openclaw devices`.
func pairDevice(t *testing.T, in *instance, c wsClient) {
	t.Helper()
	got := connectDirect(t, in, c)
	if got == "PAIRING_REQUIRED" {
		out, rc := in.cli("openclaw", "--config", in.cfg, "devices", "list", "--json")
		m := regexp.MustCompile(`"requestId"\s*:\s*"([^"]+)"`).FindStringSubmatch(out)
		if rc != 0 || m == nil {
			t.Fatalf("devices list (rc %d) has no request:\n%s", rc, out)
		}
		if out, rc := in.cli("openclaw", "--config", in.cfg, "devices", "approve", m[1]); rc != 0 {
			t.Fatalf("devices approve (rc %d): %s", rc, out)
		}
		got = connectDirect(t, in, c)
	}
	if !strings.HasPrefix(got, "hello-ok scopes=") || got == "hello-ok scopes=0" {
		t.Fatalf("the device connects with %q; want hello-ok with its scopes", got)
	}
}

func connectDirect(t *testing.T, in *instance, c wsClient) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, res, err := wsHandshake(ctx, http.DefaultClient, fmt.Sprintf("ws://127.0.0.1:%d/", in.port), c)
	if conn != nil {
		conn.CloseNow()
	}
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return res
}

// checkSameBot: the token, the paired device and the certificate are the
// ones from before the backup.
func checkSameBot(t *testing.T, in *instance, device wsClient, token string, certs map[string]string, serial string, https int, state string) {
	t.Helper()
	if got := in.token(); got != token {
		t.Error("the gateway token changed")
	}
	if got := connectDirect(t, in, device); !strings.HasPrefix(got, "hello-ok scopes=") || got == "hello-ok scopes=0" {
		t.Errorf("the paired device connects with %q; want hello-ok with its scopes (still paired)", got)
	}
	if got := waitCerts(t, state); !equalMaps(got, certs) {
		t.Errorf("Caddy's certificates changed:\n got %v\nwant %v", got, certs)
	}
	if got := loopbackSerial(t, https); got != serial {
		t.Errorf("served certificate serial %s; want %s (no new certificate)", got, serial)
	}
}

// waitCerts returns the SHA-256 of every file under caddy/certificates
// once the certificate for claw.example.com exists.
func waitCerts(t *testing.T, state string) map[string]string {
	t.Helper()
	root := filepath.Join(state, "caddy")
	var sums map[string]string
	waitFor(t, 2*time.Minute, "Caddy's certificate in storage", func() bool {
		sums = map[string]string{}
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && !strings.Contains(p, "/locks/") && (strings.Contains(p, "/certificates/") || strings.Contains(p, "/pki/")) {
				b, _ := os.ReadFile(p)
				s := sha256.Sum256(b)
				rel, _ := filepath.Rel(root, p)
				sums[rel] = hex.EncodeToString(s[:])
			}
			return nil
		})
		for k := range sums {
			if strings.HasSuffix(k, "claw.example.com.crt") {
				return true
			}
		}
		return false
	})
	return sums
}

func loopbackSerial(t *testing.T, port int) string {
	t.Helper()
	var serial string
	waitFor(t, 2*time.Minute, "a TLS handshake", func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(port),
			&tls.Config{ServerName: "claw.example.com", InsecureSkipVerify: true}) // the serial is what is compared
		if err != nil {
			return false
		}
		defer c.Close()
		serial = c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		return true
	})
	return serial
}

// rewriteGatewayConfig copies an archive with openclaw.json changed by
// edit, and a manifest that matches: a well-formed archive of a state the
// gateway refuses.
func rewriteGatewayConfig(t *testing.T, src, dst string, edit func([]byte) []byte) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(f)
	var m backup.Manifest
	var files []backup.File
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Name == backup.ManifestName {
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasSuffix(h.Name, ".tar.gz") {
			body = rewriteInner(t, body, edit)
		}
		h.Size = int64(len(body))
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
		s := sha256.Sum256(body)
		files = append(files, backup.File{Name: h.Name, Size: h.Size, SHA256: hex.EncodeToString(s[:])})
	}
	m.Files = files
	mb, _ := json.Marshal(m)
	_ = tw.WriteHeader(&tar.Header{Name: backup.ManifestName, Mode: 0o600, Size: int64(len(mb)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(mb)
	_ = tw.Close()
	writeFile(t, dst, out.String(), 0o644, -1)
}

func rewriteInner(t *testing.T, gz []byte, edit func([]byte) []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, "/openclaw.json") && !strings.Contains(h.Name, "/agents/") {
			body = edit(body)
			h.Size = int64(len(body))
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

func archives(t testing.TB, state string) []string {
	t.Helper()
	list, err := backup.List(filepath.Join(state, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	return names
}

// killOpenclawCLIs kills `openclaw backup` processes that a killed
// openclawd left running (they would otherwise finish into its partial).
func killOpenclawCLIs(t *testing.T, state string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(b, []byte("backup\x00create")) && bytes.Contains(b, []byte(state)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func appendConfig(t testing.TB, path, extra string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// gateway.env_file belongs under gateway:, which the harness writes first.
	lines := strings.Split(string(b), "\n")
	var out []string
	rest := extra
	if i := strings.Index(extra, "tls:\n"); i >= 0 && strings.HasPrefix(extra, "  env_file:") {
		envLine := strings.TrimRight(extra[:i], "\n")
		rest = extra[i:]
		for _, l := range lines {
			out = append(out, l)
			if l == "gateway:" {
				out = append(out, envLine)
			}
		}
	} else {
		out = lines
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"+rest), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, body string, mode os.FileMode, uid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(path, uid, serviceIDs.gid); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a condition wait
	}
}

func equalStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestInterruptedRestoreIsUndone: openclawd died in the middle of a
// restore's swap (the live state moved aside, the restored one not yet in
// place). The next start puts the previous state back before the gateway
// runs, and says so.
func TestInterruptedRestoreIsUndone(t *testing.T) {
	t.Parallel()
	in := newInstance(t, opts{})
	in.waitHealthy()
	if rc := in.stop(); rc != 0 {
		t.Fatalf("stop: %d", rc)
	}
	state := filepath.Join(in.dir, "state")
	restore := filepath.Join(state, "restore")
	writeFile(t, filepath.Join(state, "openclaw", "marker"), "the previous state\n", 0o600, serviceIDs.uid)
	staged, aside := filepath.Join(restore, "staged-x"), filepath.Join(restore, "before-x")
	for _, d := range []string{filepath.Join(staged, "openclaw"), aside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(staged, "openclaw", "marker"), "the restored state\n", 0o600, serviceIDs.uid)
	// Killed between its two renames of openclaw/.
	if err := os.Rename(filepath.Join(state, "openclaw"), filepath.Join(aside, "openclaw")); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(backup.Journal{ID: "x", Phase: backup.PhaseSwapping, Archive: "a.tar", Staged: staged, Aside: aside, Swapped: []string{"openclaw"}})
	writeFile(t, filepath.Join(restore, "journal.json"), string(j), 0o600, serviceIDs.uid)

	in.start()
	in.waitHealthy()
	if got := readFile(t, filepath.Join(state, "openclaw", "marker")); got != "the previous state\n" {
		t.Errorf("marker = %q; want the previous state back", got)
	}
	if _, err := os.Stat(filepath.Join(restore, "journal.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal: %v; want it gone", err)
	}
	if !strings.Contains(in.stderr.String(), "a restore was interrupted while swapping; the previous state is back") {
		t.Errorf("not said:\n%s", in.stderr.String())
	}
}
