package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// runSession watches an open, authenticated socket: tick events must keep
// coming, and the health RPC, sent at once and then every DeepInterval, must
// be answered within Timeout. Each lapse counts one failure and the session
// carries on, so a wedged gateway keeps adding to the streak; a drop ends it.
func (c *Checker) runSession(ctx context.Context, gen uint64, conn *websocket.Conn, h hello, failed chan<- struct{}, abort *atomic.Bool) outcome {
	now := time.Now()
	c.update(gen, func() {
		c.st.Deep.Connected, c.st.Deep.HelloOK = true, true
		c.st.Deep.Error, c.st.Deep.Code = "", ""
		if h.version != "" {
			c.st.Version = h.version
		}
		c.deepFails, c.deepErr = 0, ""
	})
	c.log.Info("gateway websocket probe connected", "version", h.version, "tick_interval", h.tick)

	// The reader has its own context: cancelling a Read's context closes the
	// connection at once, and a clean close needs the reader running.
	rctx, rcancel := context.WithCancel(context.Background())
	frames := make(chan frame)
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			f, err := readFrame(rctx, conn)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case frames <- f:
			case <-rctx.Done():
				return
			}
		}
	}()
	degraded := false
	calls := map[string]call{} // Call's requests awaiting their reply
	defer func() {
		for _, cl := range calls {
			cl.reply <- callReply{err: errors.New("the WebSocket closed before the reply")}
		}
		if abort.Load() || degraded {
			conn.CloseNow() // the gateway may not answer a close handshake
		} else {
			conn.Close(websocket.StatusNormalClosure, "probe stopping")
		}
		rcancel()
		<-readerDone
	}()

	var (
		lastTick   = now
		nextHealth = now
		pendingID  string
		sentAt     time.Time
		seq        = 1
	)
	tickLimit := 2*h.tick + c.o.Timeout
	// Deadlines are checked on a short period instead of juggling timers.
	t := time.NewTicker(min(max(c.o.Timeout/4, 10*time.Millisecond), time.Second, h.tick/2))
	defer t.Stop()
	for {
		now := time.Now()
		if pendingID == "" && !now.Before(nextHealth) {
			seq++
			pendingID, sentAt, nextHealth = strconv.Itoa(seq), now, now.Add(c.o.DeepInterval)
			wctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
			err := writeFrame(wctx, conn, map[string]any{"type": "req", "id": pendingID, "method": "health", "params": map[string]any{}})
			cancel()
			if ctx.Err() != nil {
				return outcome{kind: sessionEnded, helloOK: true}
			}
			if err != nil {
				degraded = true
				return outcome{kind: sessionFailed, err: fmt.Errorf("sending health RPC: %w", err), helloOK: true}
			}
		}
		select {
		case <-ctx.Done():
			return outcome{kind: sessionEnded, helloOK: true}
		case cl := <-c.calls:
			seq++
			id := "c" + strconv.Itoa(seq)
			wctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
			err := writeFrame(wctx, conn, map[string]any{"type": "req", "id": id, "method": cl.method, "params": cl.params})
			cancel()
			if err != nil {
				cl.reply <- callReply{err: err}
				continue
			}
			calls[id] = cl
		case err := <-readErr:
			out := classify(err, true)
			if out.kind == sessionFailed {
				out.err = fmt.Errorf("websocket dropped: %w", err)
			}
			return out
		case f := <-frames:
			switch {
			case f.Type == "event" && f.Event == "tick":
				lastTick = time.Now()
				c.deepSuccess(gen, func() { c.st.Deep.LastTick = lastTick })
				degraded = false
			case f.Type == "event" && f.Event == "shutdown":
				c.log.Info("gateway announced shutdown", "payload", string(f.Payload))
			case f.Type == "res" && calls[f.ID].reply != nil:
				answer(calls[f.ID], f)
				delete(calls, f.ID)
			case f.Type == "res" && f.ID == pendingID && pendingID != "":
				pendingID = ""
				if !f.OK {
					msg := "health RPC failed"
					if f.Error != nil {
						msg = fmt.Sprintf("health RPC failed: %s: %s", f.Error.Code, f.Error.Message)
					}
					c.deepFailure(gen, failed, msg)
					continue
				}
				at := time.Now()
				c.deepSuccess(gen, func() { c.st.Deep.LastHealth = at })
				degraded = false
			}
		case now := <-t.C:
			if gap := now.Sub(lastTick); gap > tickLimit {
				c.deepFailure(gen, failed, fmt.Sprintf("no tick event for %s (tickIntervalMs %d)", gap.Round(time.Millisecond), h.tick.Milliseconds()))
				lastTick, degraded = now, true // the next lapse counts again
			}
			if pendingID != "" && now.Sub(sentAt) > c.o.Timeout {
				c.deepFailure(gen, failed, fmt.Sprintf("health RPC got no reply within %s", c.o.Timeout))
				pendingID, degraded = "", true
			}
		}
	}
}

// deepSuccess ends the WebSocket part of the streak and applies f.
func (c *Checker) deepSuccess(gen uint64, f func()) {
	c.update(gen, func() {
		if c.deepFails > 0 {
			c.log.Info("gateway websocket probe recovered", "after_failures", c.deepFails)
		}
		c.deepFails, c.deepErr = 0, ""
		f()
	})
}
