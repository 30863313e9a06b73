package embedcaddy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ReachPrefix is where the front end answers a reachability token: the
// doctor fetches http(s)://<domain>/.well-known/openclawd/reach/<token>
// through the public name and expects the token back, which proves the
// name leads to this openclawd, as Discourse's setup proves its own.
const ReachPrefix = "/.well-known/openclawd/reach/"

// reachTTL bounds a token's life: long enough for doctor's two fetches.
const reachTTL = 2 * time.Minute

var reach = struct {
	sync.Mutex
	tokens map[string]time.Time // token → expiry
}{tokens: map[string]time.Time{}}

// NewReachToken makes a token the front end answers for reachTTL, and the
// path to fetch it at. It reveals nothing: it is random, and answered
// only to whoever already has it.
func NewReachToken() (token, path string, err error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	token = hex.EncodeToString(b)
	now := time.Now()
	reach.Lock()
	defer reach.Unlock()
	for t, exp := range reach.tokens {
		if now.After(exp) {
			delete(reach.tokens, t)
		}
	}
	if len(reach.tokens) >= 64 { // a bound on what callers can pile up
		return "", "", errors.New("too many reach tokens are live; try again in two minutes")
	}
	reach.tokens[token] = now.Add(reachTTL)
	return token, ReachPrefix + token, nil
}

// serveReach answers a reach path: the token if it is live, else 404.
func serveReach(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.URL.Path, ReachPrefix)
	if !ok {
		return false
	}
	reach.Lock()
	exp, live := reach.tokens[tok]
	reach.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if !live || time.Now().After(exp) {
		http.NotFound(w, r)
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, tok)
	return true
}
