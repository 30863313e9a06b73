package target

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Env var names the S3 credentials come from; messages name them so the
// fix is obvious.
const (
	EnvS3AccessKeyID     = "OPENCLAWD_S3_ACCESS_KEY_ID"
	EnvS3SecretAccessKey = "OPENCLAWD_S3_SECRET_ACCESS_KEY"
)

const (
	// dialTimeout bounds connecting (TCP and TLS): an endpoint that does
	// not answer in that long is reported as unreachable.
	dialTimeout = 10 * time.Second
	// requestTimeout bounds the calls that move no archive data (list,
	// stat, delete, check), retries included.
	requestTimeout = time.Minute
	// responseTimeout bounds the wait for a response once a request,
	// archive included, has been sent; completing a large multipart upload
	// can take the store a while.
	responseTimeout = 2 * time.Minute
	// unknownSizePart is the part size for uploads of unknown length: the
	// client buffers one part in memory, and 10,000 parts of it allow a
	// 156 GiB archive. (Left to itself it would buffer 512 MiB.)
	unknownSizePart = 16 << 20
	// maxRetries keeps a dead endpoint from being retried for minutes.
	maxRetries = 3
)

// S3Options configures an S3-compatible target.
type S3Options struct {
	Name     string // config name, for messages
	Endpoint string // https://host[:port], or http://host:port only when written so; a bare host means https
	Bucket   string
	Prefix   string // key prefix ("openclawd/" or ""); a trailing slash is implied
	Region   string // empty: ask the store

	// From the env file, never argv; never printed.
	AccessKeyID, SecretAccessKey string

	// PathStyle addresses the bucket as https://host/bucket, which
	// versitygw and MinIO need; R2, B2 and AWS work without (auto).
	PathStyle bool

	// Transport replaces the default HTTP transport, for tests.
	Transport http.RoundTripper
}

type s3Target struct {
	name     string
	endpoint string // scheme://host[:port], for messages
	bucket   string
	prefix   string // "" or ends in "/"
	client   *minio.Client
	core     *minio.Core // the same client, for a plain GET
}

// NewS3 returns a target that keeps archives as objects in an S3 bucket. It
// does no I/O; use Check to test the endpoint, bucket and credentials.
func NewS3(o S3Options) (Target, error) {
	u, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("backup target %s: %w", o.Name, err)
	}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return nil, fmt.Errorf("backup target %s: bucket %q is not a valid bucket name: %w", o.Name, o.Bucket, err)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, &targetError{
			msg:  fmt.Sprintf("backup target %s has no S3 credentials: set %s and %s in the env file", o.Name, EnvS3AccessKeyID, EnvS3SecretAccessKey),
			kind: ErrCredentials,
		}
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	secure := u.Scheme == "https"
	tr := o.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, fmt.Errorf("backup target %s: %w", o.Name, err)
		}
		t.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = dialTimeout
		t.ResponseHeaderTimeout = responseTimeout
		tr = t
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKeyID, o.SecretAccessKey, ""),
		Secure:       secure,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("backup target %s: endpoint %s: %w", o.Name, u.Redacted(), err)
	}
	return &s3Target{name: o.Name, endpoint: u.Scheme + "://" + u.Host, bucket: o.Bucket, prefix: prefix, client: c, core: &minio.Core{Client: c}}, nil
}

// parseEndpoint accepts https://host[:port], http://host:port and a bare
// host (https). Errors never quote a URL with user info in it: that would
// be a credential.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("no S3 endpoint given: set it to the store's URL, e.g. https://s3.example.com")
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "https://" + s
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint is not a valid URL: write it as https://host[:port]")
	}
	if u.User != nil {
		return nil, fmt.Errorf("S3 endpoint contains credentials: remove them from the URL and set %s and %s in the env file instead", EnvS3AccessKeyID, EnvS3SecretAccessKey)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("S3 endpoint %q must start with https:// (or http:// for a store on a trusted network)", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("S3 endpoint %q has no host", s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("S3 endpoint %q must be just scheme://host[:port]: put the bucket in bucket and any path in prefix", s)
	}
	return u, nil
}

func (t *s3Target) Name() string { return t.name }

func (t *s3Target) Describe() string {
	return fmt.Sprintf("s3://%s/%s at %s", t.bucket, strings.TrimSuffix(t.prefix, "/"), t.endpoint)
}

func (t *s3Target) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := checkName(name); err != nil {
		return err
	}
	key := t.prefix + name
	// S3 would silently replace an existing object; archives are never
	// replaced, so look first (names carry a timestamp: the race is moot).
	sctx, cancel := context.WithTimeout(ctx, requestTimeout)
	_, err := t.client.StatObject(sctx, t.bucket, key, minio.StatObjectOptions{})
	cancel()
	if err == nil {
		return &targetError{msg: fmt.Sprintf("archive %s already exists in %s: refusing to overwrite it", name, t.Describe()), kind: ErrExists}
	}
	if code := errCode(err); code != minio.NoSuchKey && code != "NotFound" {
		return t.explain(ctx, "uploading "+name, err)
	}

	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		opts.PartSize = unknownSizePart
	}
	sr := &sizedReader{r: r, size: size}
	_, err = t.client.PutObject(ctx, t.bucket, key, sr, size, opts)
	if err != nil {
		if sr.srcErr != nil {
			err = fmt.Errorf("uploading %s to %s failed: %w", name, t.Describe(), sr.srcErr)
		} else {
			err = t.explain(ctx, "uploading "+name, err)
		}
		// Refused before anything was stored: nothing to abort.
		if !errors.Is(err, ErrCredentials) && !errors.Is(err, ErrNoBucket) {
			t.abortUploads(key)
		}
		return err
	}
	if err := sr.finish(); err != nil {
		// Stored, but not what the caller announced: do not keep it.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		if derr := t.client.RemoveObject(dctx, t.bucket, key, minio.RemoveObjectOptions{}); derr != nil {
			return fmt.Errorf("uploading %s to %s failed: %w; removing what was stored also failed: %v", name, t.Describe(), err, t.explain(dctx, "removing "+name, derr))
		}
		return fmt.Errorf("uploading %s to %s failed: %w", name, t.Describe(), err)
	}
	return nil
}

// abortUploads aborts what a failed multipart upload left, best effort and
// even when ctx is cancelled: incomplete uploads are never listed, but the
// store keeps (and may bill) their parts.
func (t *s3Target) abortUploads(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := t.client.RemoveIncompleteUpload(ctx, t.bucket, key); err != nil {
		slog.Warn("could not abort an incomplete backup upload; the store may keep its parts until a lifecycle rule removes them",
			"target", t.name, "key", key, "err", t.explain(ctx, "aborting upload", err))
	}
}

func (t *s3Target) List(ctx context.Context) ([]Object, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	objs := []Object{}
	for o := range t.client.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: t.prefix}) {
		if o.Err != nil {
			return nil, t.explain(ctx, "listing archives", o.Err)
		}
		name := strings.TrimPrefix(o.Key, t.prefix)
		// Common prefixes ("dir/") and names a Put would refuse are not
		// archives of this target.
		if checkName(name) != nil {
			continue
		}
		objs = append(objs, Object{Name: name, Size: o.Size, Modified: o.LastModified})
	}
	sortNewestFirst(objs)
	return objs, nil
}

func (t *s3Target) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	// A plain GET, not minio's lazy Object: that one stats with HEAD, whose
	// bodiless 404 cannot tell a missing archive from a missing bucket or
	// an unknown key. The body is read with the caller's ctx (a large
	// archive takes as long as it takes); connecting is bounded by the
	// transport.
	body, _, _, err := t.core.GetObject(ctx, t.bucket, t.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, t.explain(ctx, "downloading "+name, err)
	}
	return body, nil
}

func (t *s3Target) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := t.client.RemoveObject(ctx, t.bucket, t.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		return t.explain(ctx, "deleting "+name, err)
	}
	return nil
}

// Check lists at most one key under the prefix: that proves the endpoint
// answers, the credentials are accepted and the bucket exists, without
// writing anything.
func (t *s3Target) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	for o := range t.client.ListObjects(ctx, t.bucket, minio.ListObjectsOptions{Prefix: t.prefix, MaxKeys: 1}) {
		if o.Err != nil {
			return t.explain(ctx, "checking the bucket", o.Err)
		}
		break
	}
	return nil
}

func errCode(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// explain turns a client error into one sentence that says what is wrong
// and what to do, naming the endpoint and bucket (never the secret). ctx
// is the operation's context, to tell its deadline or cancellation from a
// network timeout.
func (t *s3Target) explain(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("backup target %s: %s: %w", t.name, op, err)
	}
	te := &targetError{cause: err}
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.Code != "" || er.StatusCode != 0) {
		switch {
		case isFull(er):
			te.kind = ErrFull
			te.msg = fmt.Sprintf("the backup store %s (bucket %s) is full (%s): free space there or keep fewer archives, then retry",
				t.endpoint, t.bucket, firstNonEmpty(er.Message, er.Code))
		// versitygw answers an unknown access key with 404
		// XAdminUserNotFound rather than InvalidAccessKeyId.
		case er.Code == "InvalidAccessKeyId" || er.Code == "SignatureDoesNotMatch" || er.Code == "InvalidToken" ||
			er.Code == "ExpiredToken" || er.Code == "InvalidSecurity" || er.Code == "XAdminUserNotFound":
			te.kind = ErrCredentials
			te.msg = fmt.Sprintf("the S3 credentials were refused by %s (bucket %s: %s): check %s and %s in the env file",
				t.endpoint, t.bucket, er.Code, EnvS3AccessKeyID, EnvS3SecretAccessKey)
		case er.Code == "AccessDenied" || er.Code == "AllAccessDisabled" || er.StatusCode == http.StatusForbidden && er.Code != "RequestTimeTooSkewed":
			te.kind = ErrCredentials
			te.msg = fmt.Sprintf("the S3 credentials were refused by %s (bucket %s: %s): check %s and %s in the env file, and that this key may list, read, write and delete in that bucket",
				t.endpoint, t.bucket, er.Code, EnvS3AccessKeyID, EnvS3SecretAccessKey)
		case er.Code == minio.NoSuchBucket:
			te.kind = ErrNoBucket
			te.msg = fmt.Sprintf("bucket %s does not exist at %s: create it there (or correct backup target %s's bucket)", t.bucket, t.endpoint, t.name)
		case er.Code == minio.NoSuchKey || er.Code == "NotFound":
			te.kind = fs.ErrNotExist
			te.msg = fmt.Sprintf("%s: no such archive in %s", op, t.Describe())
		case er.Code == "AuthorizationHeaderMalformed" || er.Code == "PermanentRedirect" || er.Code == "IllegalLocationConstraintException":
			te.msg = fmt.Sprintf("bucket %s at %s is in another region%s: set backup target %s's region accordingly",
				t.bucket, t.endpoint, inRegion(er.Region), t.name)
		case er.Code == "RequestTimeTooSkewed":
			te.msg = fmt.Sprintf("%s refused the request because this machine's clock is off: fix the system time (enable NTP) and retry", t.endpoint)
		default:
			te.msg = fmt.Sprintf("%s: %s (bucket %s) answered %s", op, t.endpoint, t.bucket, strings.TrimSuffix(er.Error(), "."))
		}
		return te
	}

	var uaErr x509.UnknownAuthorityError
	var hnErr x509.HostnameError
	var cvErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uaErr) || errors.As(err, &hnErr) || errors.As(err, &cvErr):
		te.kind = ErrUnreachable
		te.msg = fmt.Sprintf("the TLS certificate of %s was not accepted (%v): check backup target %s's endpoint", t.endpoint, rootCause(err), t.name)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		te.kind = ErrUnreachable
		te.msg = fmt.Sprintf("%s speaks plain HTTP, not HTTPS: if that is intended on a trusted network, write backup target %s's endpoint as http://", t.endpoint, t.name)
	case errors.Is(err, syscall.ENOSPC):
		te.kind = ErrFull
		te.msg = fmt.Sprintf("the backup store %s (bucket %s) is full: free space there or keep fewer archives, then retry", t.endpoint, t.bucket)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		te.kind = ErrUnreachable
		te.msg = fmt.Sprintf("cannot reach %s: %s timed out; check backup target %s's endpoint and the network", t.endpoint, op, t.name)
	case isNetwork(err):
		te.kind = ErrUnreachable
		te.msg = fmt.Sprintf("cannot reach %s: %v; check backup target %s's endpoint and the network", t.endpoint, rootCause(err), t.name)
	default:
		te.msg = fmt.Sprintf("backup target %s: %s at %s: %v", t.name, op, t.Describe(), err)
	}
	return te
}

// isFull recognises a store out of space: versitygw answers 507
// InsufficientStorage on ENOSPC; others say so in a 500's message.
func isFull(er minio.ErrorResponse) bool {
	if er.StatusCode == http.StatusInsufficientStorage || er.Code == "InsufficientStorage" || er.Code == "QuotaExceeded" ||
		er.Code == "XMinioStorageFull" || er.Code == "StorageFull" {
		return true
	}
	m := strings.ToLower(er.Message + " " + er.Code)
	return strings.Contains(m, "no space left") || strings.Contains(m, "storage full") || strings.Contains(m, "quota exceeded")
}

func isNetwork(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// rootCause drops the url.Error wrapper ("Put \"http://…\": ") whose URL
// repeats the endpoint and the key.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func inRegion(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
