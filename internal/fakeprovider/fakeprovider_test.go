package fakeprovider

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// The gateway's request shape (docs/spend.md): streaming with include_usage.
const streamBody = `{"model":"fake-model","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"tool_choice":"auto","max_completion_tokens":4096}`

func TestStreaming(t *testing.T) {
	s := New(t)
	s.PromptTokens, s.CompletionTokens, s.CachedTokens = 100, 7, 20
	s.Reply = "hello there"
	resp := post(t, s.URL+"/chat/completions", streamBody)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var text strings.Builder
	var usage map[string]any
	var finish string
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("chunk %q: %v", line, err)
		}
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object %q", c.Object)
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			usage = c.Usage
		}
	}
	if !done || text.String() != "hello there" || finish != "stop" {
		t.Fatalf("done=%v text=%q finish=%q", done, text.String(), finish)
	}
	if usage["prompt_tokens"] != 100.0 || usage["completion_tokens"] != 7.0 || usage["total_tokens"] != 107.0 {
		t.Fatalf("usage %v", usage)
	}
	if d, _ := usage["prompt_tokens_details"].(map[string]any); d["cached_tokens"] != 20.0 {
		t.Fatalf("cached tokens: %v", usage)
	}
	if s.Requests() != 1 {
		t.Fatalf("requests %d", s.Requests())
	}
	c := s.Calls()[0]
	if !c.Stream || !c.IncludeUsage || c.Model != ModelID || c.Authorization != "Bearer "+APIKey || c.Path != "/v1/chat/completions" {
		t.Fatalf("call %+v", c)
	}
}

func TestNonStreamingAndModels(t *testing.T) {
	s := New(t)
	resp := post(t, s.URL+"/chat/completions", `{"model":"fake-model","messages":[{"role":"user","content":"hi"}]}`)
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role, Content string
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "chat.completion" || len(out.Choices) != 1 || out.Choices[0].Message.Content != DefaultReply ||
		out.Usage.PromptTokens != 1200 || out.Usage.CompletionTokens != 40 || out.Usage.TotalTokens != 1240 {
		t.Fatalf("%+v", out)
	}
	mresp, err := http.Get(s.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	var ml struct {
		Data []struct{ ID string } `json:"data"`
	}
	if err := json.NewDecoder(mresp.Body).Decode(&ml); err != nil || len(ml.Data) != 1 || ml.Data[0].ID != ModelID {
		t.Fatalf("models: %v %+v", err, ml)
	}
	if s.Requests() != 1 || s.ModelListRequests() != 1 {
		t.Fatalf("requests %d, model lists %d", s.Requests(), s.ModelListRequests())
	}
}

func TestFailHoldAndConcurrency(t *testing.T) {
	s := New(t)
	s.SetFail(http.StatusTooManyRequests)
	resp := post(t, s.URL+"/chat/completions", streamBody)
	var e struct {
		Error struct{ Message, Type string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 429 || e.Error.Type != "rate_limit_exceeded" {
		t.Fatalf("status %d, %+v", resp.StatusCode, e)
	}
	s.SetFail(0)

	release := s.Hold()
	got := make(chan int, 1)
	go func() {
		resp, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(streamBody))
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	if err := s.WaitRequests(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
		t.Fatal("held request answered before release")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if code := <-got; code != 200 {
		t.Fatalf("released request: %d", code)
	}

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := http.Post(s.URL+"/chat/completions", "application/json", strings.NewReader(streamBody))
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if n := s.Requests(); n != 22 {
		t.Fatalf("requests %d, want 22", n)
	}
}

func TestProviderConfig(t *testing.T) {
	cfg := ProviderConfig("http://127.0.0.1:1/v1")
	b, err := json.Marshal(map[string]any{"models": map[string]any{"providers": map[string]any{ProviderID: cfg}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"api":"openai-completions"`, `"baseUrl":"http://127.0.0.1:1/v1"`, `"cost":{"cacheRead":0.3,"cacheWrite":3.75,"input":3,"output":15}`, `"id":"fake-model"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
	if ModelRef != "fakeprov/fake-model" {
		t.Fatal(ModelRef)
	}
	if ProviderJSON("x") == "" {
		t.Fatal("empty JSON")
	}
}
