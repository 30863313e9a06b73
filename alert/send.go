package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// ValidateURL says whether shoutrrr knows the URL's service and accepts
// its form. The URL may still hold ${NAME} placeholders for secrets: they
// are filled with a stand-in, so only the shape is checked.
func ValidateURL(u string) error {
	filled := placeholder.ReplaceAllString(u, "x0")
	r := router.ServiceRouter{}
	if _, err := r.Locate(filled); err != nil {
		scheme := service(u)
		if scheme == "" {
			return errors.New("not a URL with a service scheme, e.g. ntfy://ntfy.sh/my-topic")
		}
		// shoutrrr's message names the URL: say it without the secrets.
		if _, err := r.NewService(strings.SplitN(scheme, "+", 2)[0]); err != nil {
			return fmt.Errorf("%q is not a known service; use ntfy, telegram, discord, slack, smtp or generic (a webhook), among others shoutrrr knows", scheme)
		}
		return fmt.Errorf("the %s URL is not valid: %s", scheme, strings.ReplaceAll(err.Error(), filled, u))
	}
	return nil
}

// shoutrrrSend sends through shoutrrr. Services take no context, so a send
// that outlives ctx is abandoned to finish on its own.
func shoutrrrSend(ctx context.Context, rawURL, title, body string) error {
	r := router.ServiceRouter{}
	svc, err := r.Locate(rawURL)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		params := types.Params{"title": title}
		done <- svc.Send(body, &params)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer: %w", ctx.Err())
	}
}

var pingClient = &http.Client{Timeout: sendTimeout}

// httpPing calls a heartbeat URL: a GET while all is well, a POST with the
// problem when it is not (healthchecks.io keeps the body as the reason).
func httpPing(ctx context.Context, u, body string) error {
	method := http.MethodGet
	var rd io.Reader
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "openclawd")
	resp, err := pingClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err // the URL is the secret
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the heartbeat URL answered %s", resp.Status)
	}
	return nil
}

// compose makes one message of a channel's queue.
func compose(host string, batch []*Message, dropped int) (title, body string) {
	var problems, resolved int
	var b strings.Builder
	for i, m := range batch {
		if i > 0 {
			b.WriteString("\n\n")
		}
		at := m.At.UTC().Format("2006-01-02 15:04:05 MST")
		if m.Kind == KindResolved {
			resolved++
			fmt.Fprintf(&b, "RESOLVED %s (%s): %s", m.Key, at, m.Text)
			continue
		}
		problems++
		fmt.Fprintf(&b, "PROBLEM %s, %s (%s): %s", m.Key, m.Severity, at, m.Text)
		if m.Fix != "" {
			fmt.Fprintf(&b, "\nFix: %s", m.Fix)
		}
	}
	if dropped > 0 {
		fmt.Fprintf(&b, "\n\n(%d older messages could not be delivered in time and were dropped; `openclawd status` shows what is open now)", dropped)
	}
	switch {
	case len(batch) == 1 && problems == 1:
		title = fmt.Sprintf("openclawd on %s: %s", host, batch[0].Key)
	case len(batch) == 1:
		title = fmt.Sprintf("openclawd on %s: resolved: %s", host, batch[0].Key)
	default:
		var parts []string
		if problems > 0 {
			parts = append(parts, plural(problems, "problem"))
		}
		if resolved > 0 {
			parts = append(parts, fmt.Sprintf("%d resolved", resolved))
		}
		title = fmt.Sprintf("openclawd on %s: %s", host, strings.Join(parts, ", "))
	}
	return title, b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
