package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// AgeSuffix ends the names of archives the Encrypt wrapper stored, so that
// a restore knows to decrypt them.
const AgeSuffix = ".age"

// ErrWrongKey is matched (errors.Is) by Decrypt's error when none of the
// identities can open the archive.
var ErrWrongKey = errors.New("archive encrypted to a different age key")

type encrypted struct {
	Target
	recipients []age.Recipient
}

// Encrypt wraps t so Put encrypts with the recipients (streaming, no temp
// file) and names objects name+".age"; Open returns ciphertext unless
// identities are given.
//
// The wrapper holds no identities, so Open always returns what is stored:
// List shows the .age names, and callers pass what Open returns to
// Decrypt. List, Open and Delete pass names through unchanged, so archives
// stored before encryption was turned on stay visible.
func Encrypt(t Target, recipients []age.Recipient) Target {
	return &encrypted{Target: t, recipients: recipients}
}

func (e *encrypted) Describe() string {
	n := len(e.recipients)
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("%s, encrypted with age to %d recipient%s", e.Target.Describe(), n, s)
}

func (e *encrypted) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if len(e.recipients) == 0 {
		return errors.New("cannot encrypt backups: no age recipients configured (backup.recipients)")
	}
	if err := checkName(name); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	sr := &sizedReader{r: r, size: size}
	done := make(chan error, 1)
	go func() {
		err := func() error {
			w, err := age.Encrypt(pw, e.recipients...)
			if err != nil {
				return fmt.Errorf("encrypting %s: %w", name, err)
			}
			if _, err := io.Copy(w, sr); err != nil {
				return err
			}
			return w.Close()
		}()
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()
	// The ciphertext length is not known up front: age's header length
	// depends on the recipient types.
	err := e.Target.Put(ctx, name+AgeSuffix, pr, -1)
	// If Put gave up early, unblock the encrypting goroutine.
	pr.CloseWithError(errors.New("upload ended"))
	encErr := <-done
	if err != nil {
		return err
	}
	if encErr != nil {
		// Put saw EOF yet encryption failed: cannot happen, as the pipe
		// passes encErr to Put; kept so no failure is ever dropped.
		return encErr
	}
	return nil
}

// Check passes through to the wrapped target's Check.
func (e *encrypted) Check(ctx context.Context) error {
	if c, ok := e.Target.(Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

const keygenHint = "make a key pair with age-keygen or `openclawd backup keygen`"

// ParseRecipients parses age public keys ("age1..."), one per element.
// Blank elements and # comments are skipped; none left is an error, so a
// config typo cannot silently turn encryption off.
func ParseRecipients(lines []string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(l), "AGE-SECRET-KEY-") {
			// Never echo it: it is a secret.
			return nil, fmt.Errorf("backup recipient %d is an age secret key, not a public key: put its public key (age-keygen -y FILE) in backup.recipients and keep the secret key off this machine", i+1)
		}
		r, err := age.ParseRecipients(strings.NewReader(l))
		if err != nil || len(r) != 1 {
			return nil, fmt.Errorf("backup recipient %q is not an age public key (age1...): %s and put the public key in backup.recipients", l, keygenHint)
		}
		rs = append(rs, r[0])
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no age recipients given: %s and put the public key in backup.recipients", keygenHint)
	}
	return rs, nil
}

// ParseIdentityFile reads age secret keys (AGE-SECRET-KEY-1...) from path,
// as written by age-keygen or `openclawd backup keygen`.
func ParseIdentityFile(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading age identity file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// age's messages never include key material.
		return nil, fmt.Errorf("age identity file %s is not usable (%v): it must hold the AGE-SECRET-KEY-1... line that age-keygen or `openclawd backup keygen` wrote", path, err)
	}
	return ids, nil
}

const ageHeader = "age-encryption.org/"

// Decrypt returns the plaintext of the age-encrypted archive r. The header
// is checked here (not age data, wrong key); damage or truncation further
// on is an error from Read, before the end of the plaintext.
func Decrypt(r io.Reader, ids []age.Identity) (io.Reader, error) {
	if len(ids) == 0 {
		return nil, errors.New("this archive is encrypted with age: pass the identity file that matches the recipient in config (backup.recipients)")
	}
	br := bufio.NewReader(r)
	head, err := br.Peek(len(armor.Header))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	var src io.Reader = br
	switch {
	case strings.HasPrefix(string(head), armor.Header):
		src = armor.NewReader(br)
	case !strings.HasPrefix(string(head), ageHeader):
		return nil, errors.New("this archive is not age-encrypted data (no age header): it was stored without encryption, or it is not an archive")
	}
	d, err := age.Decrypt(src, ids...)
	var nim *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nim):
		return nil, &targetError{
			msg:   "this archive is encrypted to a different age key: pass the identity file that matches the recipient in config (backup.recipients)",
			kind:  ErrWrongKey,
			cause: err,
		}
	case err != nil:
		return nil, fmt.Errorf("this archive's age header is damaged or truncated: %w", err)
	}
	return &decryptReader{r: d}, nil
}

// decryptReader says what a payload error means: age reports truncation
// and tampering the same way, as a chunk that does not authenticate.
type decryptReader struct{ r io.Reader }

func (d *decryptReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("decrypting the archive failed: it is truncated or damaged: %w", err)
	}
	return n, err
}

// GenerateIdentity makes a new X25519 age key pair: the identity
// (AGE-SECRET-KEY-1..., to keep offline) and its recipient (age1..., for
// backup.recipients).
func GenerateIdentity() (identity string, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", fmt.Errorf("generating age key: %w", err)
	}
	return id.String(), id.Recipient().String(), nil
}
