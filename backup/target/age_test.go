package target

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/openclawd/openclawd/internal/s3test"
)

// keyPair makes an identity file and the matching recipients.
func keyPair(t *testing.T) (idFile string, rs []age.Recipient) {
	t.Helper()
	id, rcpt, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "AGE-SECRET-KEY-1") || !strings.HasPrefix(rcpt, "age1") {
		t.Fatalf("GenerateIdentity = %.20q..., %q", id, rcpt)
	}
	idFile = filepath.Join(t.TempDir(), "backup.key")
	if err := os.WriteFile(idFile, []byte("# openclawd backup key\n"+id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err = ParseRecipients([]string{rcpt})
	if err != nil {
		t.Fatal(err)
	}
	return idFile, rs
}

func TestEncryptRoundTrip(t *testing.T) {
	targets := map[string]func(t *testing.T) Target{
		"dir": func(t *testing.T) Target { d, _ := newDir(t); return d },
		// The S3 path of an encrypted Put is a multipart upload of
		// unknown length: the real production path.
		"s3": func(t *testing.T) Target { return newS3(t, s3Options(s3test.Start(t))) },
	}
	for tname, mk := range targets {
		t.Run(tname, func(t *testing.T) {
			ctx := context.Background()
			idFile, rs := keyPair(t)
			inner := mk(t)
			tg := Encrypt(inner, rs)
			if !strings.HasPrefix(tg.Describe(), inner.Describe()) || !strings.Contains(tg.Describe(), "age") {
				t.Errorf("Describe = %q", tg.Describe())
			}
			if err := tg.(Checker).Check(ctx); err != nil {
				t.Fatalf("Check: %v", err)
			}
			plain := randomBytes(17<<20+12345, 9)
			if err := tg.Put(ctx, "openclawd-1.tar", bytes.NewReader(plain), int64(len(plain))); err != nil {
				t.Fatal(err)
			}
			objs := wantNames(t, tg, "openclawd-1.tar.age")
			if objs[0].Size <= int64(len(plain)) {
				t.Errorf("ciphertext size %d not above the plaintext's %d", objs[0].Size, len(plain))
			}
			cipher := readAll(t, tg, "openclawd-1.tar.age")
			if bytes.Contains(cipher, plain[:64]) {
				t.Fatal("stored data contains the plaintext")
			}

			ids, err := ParseIdentityFile(idFile)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := tg.Open(ctx, "openclawd-1.tar.age")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			dr, err := Decrypt(rc, ids)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(dr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatal("decrypted archive differs")
			}

			// A failing archive leaves nothing, encrypted or not.
			err = tg.Put(ctx, "openclawd-2.tar", failAfter(plain, 1<<20), int64(len(plain)))
			wantErr(t, err, nil, errReader.Error())
			wantNames(t, tg, "openclawd-1.tar.age")

			if err := tg.Delete(ctx, "openclawd-1.tar.age"); err != nil {
				t.Fatal(err)
			}
			wantNames(t, tg)
		})
	}
}

func TestDecryptFails(t *testing.T) {
	_, rs := keyPair(t)
	otherFile, _ := keyPair(t)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(300_000, 10))
	w.Close()
	cipher := buf.Bytes()
	other, err := ParseIdentityFile(otherFile)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("wrong key", func(t *testing.T) {
		_, err := Decrypt(bytes.NewReader(cipher), other)
		wantErr(t, err, ErrWrongKey, "encrypted to a different age key", "identity file", "backup.recipients")
	})
	t.Run("no key", func(t *testing.T) {
		_, err := Decrypt(bytes.NewReader(cipher), nil)
		wantErr(t, err, nil, "identity file")
	})
	t.Run("not age data", func(t *testing.T) {
		_, err := Decrypt(strings.NewReader("ustar archive..."), other)
		wantErr(t, err, nil, "not age-encrypted")
	})
}

func TestDecryptTruncated(t *testing.T) {
	idFile, rs := keyPair(t)
	ids, err := ParseIdentityFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, rs...)
	w.Write(randomBytes(300_000, 11))
	w.Close()
	cipher := buf.Bytes()
	headerEnd := bytes.Index(cipher, []byte("\n---")) + 1
	cases := []struct {
		name  string
		cut   int
		words []string
	}{
		{"mid payload", len(cipher) / 2, []string{"truncated or damaged"}},
		{"at a chunk boundary", len(cipher) - (300_000 - 4<<16) - 16, []string{"truncated or damaged"}},
		{"last byte", len(cipher) - 1, []string{"truncated or damaged"}},
		{"mid header", headerEnd / 2, []string{"header is damaged or truncated"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dr, err := Decrypt(bytes.NewReader(cipher[:c.cut]), ids)
			if err == nil {
				_, err = io.ReadAll(dr)
			}
			wantErr(t, err, nil, c.words...)
		})
	}
}

func TestParseRecipients(t *testing.T) {
	_, r1, _ := GenerateIdentity()
	secret, r2, _ := GenerateIdentity()
	cases := []struct {
		name   string
		lines  []string
		n      int
		words  []string
		hidden string
	}{
		{"two keys, comments and blanks", []string{r1, "", "# laptop", " " + r2 + " "}, 2, nil, ""},
		{"not a key", []string{r1, "age1nope"}, 0, []string{`"age1nope"`, "age-keygen", "openclawd backup keygen"}, ""},
		{"ssh key", []string{"ssh-ed25519 AAAAC3Nza"}, 0, []string{"ssh-ed25519", "age-keygen"}, ""},
		{"secret key instead", []string{secret}, 0, []string{"secret key", "age-keygen -y"}, secret},
		{"none", []string{"", "# nothing"}, 0, []string{"no age recipients", "openclawd backup keygen"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := ParseRecipients(c.lines)
			if c.words == nil {
				if err != nil || len(rs) != c.n {
					t.Fatalf("got %d recipients, %v; want %d", len(rs), err, c.n)
				}
				return
			}
			wantErr(t, err, nil, c.words...)
			if c.hidden != "" && strings.Contains(err.Error(), c.hidden[10:]) {
				t.Errorf("error shows the secret key: %q", err)
			}
		})
	}
}

func TestParseIdentityFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("age1notasecret\n"), 0o600)
	empty := filepath.Join(dir, "empty.key")
	os.WriteFile(empty, []byte("# nothing\n"), 0o600)
	for _, p := range []string{filepath.Join(dir, "missing.key"), bad, empty} {
		_, err := ParseIdentityFile(p)
		wantErr(t, err, nil, p)
	}
}
