package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoSession is Call's error while no authenticated WebSocket is open.
var ErrNoSession = errors.New("the gateway's WebSocket is not connected")

type call struct {
	method string
	params any
	reply  chan callReply
}

type callReply struct {
	payload json.RawMessage
	err     error
}

// Call sends one request over the probe's own authenticated WebSocket
// (scope operator.read) and returns the reply's payload: reading the
// gateway's state this way costs a frame, where the CLI costs a cold
// Node start. It waits for a session until ctx ends.
func (c *Checker) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	cl := call{method: method, params: params, reply: make(chan callReply, 1)}
	select {
	case c.calls <- cl:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ErrNoSession)
	}
	select {
	case r := <-cl.reply:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", method, r.err)
		}
		return r.payload, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no reply: %w", method, ctx.Err())
	}
}

// answer delivers a res frame to the call waiting for it.
func answer(cl call, f frame) {
	if !f.OK {
		msg := "refused"
		if f.Error != nil {
			msg = f.Error.Code + ": " + f.Error.Message
		}
		cl.reply <- callReply{err: errors.New(msg)}
		return
	}
	cl.reply <- callReply{payload: f.Payload}
}
