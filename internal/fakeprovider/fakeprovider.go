// Package fakeprovider is an OpenAI-compatible model server for tests: the
// endpoint a real OpenClaw gateway (2026.9.6) calls when a custom provider
// with api "openai-completions" is configured under models.providers in
// openclaw.json (see docs/spend.md).
//
// It listens on 127.0.0.1:0 and serves:
//
//   - POST /v1/chat/completions: the call the gateway makes for every model
//     turn (it streams: "stream":true with stream_options.include_usage). Both
//     the SSE form and the plain JSON form are answered with a short assistant
//     reply and an OpenAI-shaped usage block (prompt_tokens, completion_tokens,
//     total_tokens, prompt_tokens_details.cached_tokens).
//   - GET /v1/models: a one-entry model list (not counted as a model call).
//
// Every chat completion request is counted (Requests), recorded (Calls), and
// can be failed with an HTTP status (SetFail) or held until released (Hold),
// so a test can prove that a pause or cap really stops model calls.
//
// ProviderConfig returns the models.providers entry that points the gateway at
// the server, with a non-zero price so usage.cost reports a non-zero cost.
package fakeprovider

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// ProviderID is the models.providers key ProviderConfig is meant for.
	ProviderID = "fakeprov"
	// ModelID is the one model the server offers.
	ModelID = "fake-model"
	// ModelRef is the value for agents.defaults.model.primary.
	ModelRef = ProviderID + "/" + ModelID
	// APIKey is the bearer token ProviderConfig configures; the server
	// accepts any key (or none) but records what it was sent.
	APIKey = "fake-provider-key"

	// Prices in USD per million tokens written by ProviderConfig.
	PriceInput      = 3.0
	PriceOutput     = 15.0
	PriceCacheRead  = 0.3
	PriceCacheWrite = 3.75

	// DefaultReply is the assistant text when Reply is empty.
	DefaultReply = "pong"
)

// Call is one recorded chat completion request.
type Call struct {
	Path          string
	Model         string
	Stream        bool
	IncludeUsage  bool // stream_options.include_usage
	Authorization string
	Body          []byte
	At            time.Time
}

// Server is a running fake provider. Set the exported fields before the
// gateway's first call; they are read under the server's lock.
type Server struct {
	// URL is the base URL to configure as baseUrl, e.g. http://127.0.0.1:PORT/v1.
	URL string

	// Token counts reported in every answer's usage block. CachedTokens is
	// reported as prompt_tokens_details.cached_tokens (part of PromptTokens).
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int
	// Reply is the assistant text (DefaultReply if empty).
	Reply string

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	requests int
	models   int
	calls    []Call
	fail     int
	failBody string
	hold     chan struct{}
	notify   chan struct{}
}

// Start starts a server on 127.0.0.1:0. Stop it with Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:              "http://" + ln.Addr().String() + "/v1",
		PromptTokens:     1200,
		CompletionTokens: 40,
		ln:               ln,
		notify:           make(chan struct{}, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /chat/completions", s.chat)
	mux.HandleFunc("GET /v1/models", s.modelList)
	mux.HandleFunc("GET /models", s.modelList)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// New starts a server and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatalf("fakeprovider: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close releases any held requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
	_ = s.srv.Close()
}

// Requests is the number of chat completion requests received so far
// (including failed and held ones).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ModelListRequests is the number of GET /v1/models requests.
func (s *Server) ModelListRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.models
}

// Calls returns a copy of the recorded chat completion requests.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// WaitRequests waits until at least n chat completion requests arrived.
func (s *Server) WaitRequests(n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if got := s.Requests(); got >= n {
			return nil
		}
		select {
		case <-s.notify:
		case <-deadline:
			return fmt.Errorf("fakeprovider: %d requests after %v, want %d", s.Requests(), timeout, n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SetFail makes every following chat completion answer with HTTP status
// (with an OpenAI-shaped error body); 0 restores normal answers.
func (s *Server) SetFail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
	s.failBody = ""
	if status != 0 {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{
			"message": fmt.Sprintf("fakeprovider: forced HTTP %d", status),
			"type":    errorType(status),
			"code":    errorType(status),
		}})
		s.failBody = string(b)
	}
}

func errorType(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case http.StatusPaymentRequired:
		return "insufficient_quota"
	case http.StatusUnauthorized:
		return "invalid_api_key"
	}
	return "server_error"
}

// Hold makes following chat completion requests wait (after being counted)
// until the returned release func is called or the server closes.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
	}
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				close(ch)
				s.hold = nil
			}
			s.mu.Unlock()
		})
	}
}

// ProviderConfig is the models.providers entry for this server.
func (s *Server) ProviderConfig() map[string]any { return ProviderConfig(s.URL) }

// ProviderConfig returns the models.providers.<ProviderID> entry (accepted by
// the 2026.9.6 strict schema) that makes the gateway call baseURL with
// api "openai-completions" and price ModelID at PriceInput/PriceOutput/...
// USD per million tokens. Put it into openclaw.json as
//
//	models: {providers: {<ProviderID>: ProviderConfig(url)}}
//	agents: {defaults: {model: {primary: ModelRef}}}
func ProviderConfig(baseURL string) map[string]any {
	return map[string]any{
		"baseUrl": baseURL,
		"apiKey":  APIKey,
		"api":     "openai-completions",
		"models": []any{map[string]any{
			"id":        ModelID,
			"name":      "Fake Model",
			"reasoning": false,
			"input":     []any{"text"},
			"cost": map[string]any{
				"input":      PriceInput,
				"output":     PriceOutput,
				"cacheRead":  PriceCacheRead,
				"cacheWrite": PriceCacheWrite,
			},
			"contextWindow": 128000,
			"maxTokens":     4096,
		}},
	}
}

// ProviderJSON is ProviderConfig(baseURL) as JSON.
func ProviderJSON(baseURL string) string {
	b, _ := json.Marshal(ProviderConfig(baseURL))
	return string(b)
}

func (s *Server) modelList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.models++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []any{map[string]any{
			"id": ModelID, "object": "model", "created": 1700000000, "owned_by": "fakeprovider",
		}},
	})
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"message": "fakeprovider: bad JSON: " + err.Error(), "type": "invalid_request_error",
		}})
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.calls = append(s.calls, Call{
		Path:          r.URL.Path,
		Model:         req.Model,
		Stream:        req.Stream,
		IncludeUsage:  req.StreamOptions != nil && req.StreamOptions.IncludeUsage,
		Authorization: r.Header.Get("Authorization"),
		Body:          body,
		At:            time.Now(),
	})
	fail, failBody, hold := s.fail, s.failBody, s.hold
	prompt, completion, cached := s.PromptTokens, s.CompletionTokens, s.CachedTokens
	reply := s.Reply
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	if fail != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		_, _ = io.WriteString(w, failBody)
		return
	}
	if reply == "" {
		reply = DefaultReply
	}
	model := cmp.Or(req.Model, ModelID)
	id := fmt.Sprintf("chatcmpl-fake-%d", n)
	created := time.Now().Unix()
	usage := map[string]any{
		"prompt_tokens":     prompt,
		"completion_tokens": completion,
		"total_tokens":      prompt + completion,
		"prompt_tokens_details": map[string]any{
			"cached_tokens": cached,
		},
	}
	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": reply},
				"finish_reason": "stop",
			}},
			"usage": usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	chunk := func(choices []any, usage any) {
		m := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": choices,
		}
		if usage != nil {
			m["usage"] = usage
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk([]any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil}}, nil)
	words := strings.SplitAfter(reply, " ")
	for _, wd := range words {
		chunk([]any{map[string]any{"index": 0, "delta": map[string]any{"content": wd}, "finish_reason": nil}}, nil)
	}
	chunk([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop"}}, nil)
	// The usage chunk is sent whether or not include_usage was asked for,
	// as many OpenAI-compatible servers do; the gateway asks for it anyway.
	chunk([]any{}, usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
