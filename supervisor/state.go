package supervisor

import "fmt"

// State is the gateway's state as openclawd sees it. The values travel in
// the control API as text, so they are explicit, not iota.
type State uint8

const (
	Stopped   State = 1 // not running, and not meant to be
	Starting  State = 2 // spawned, waiting for /startupz to say started
	Running   State = 3 // started and passing its checks
	Unhealthy State = 4 // running, but failing checks (not yet called hung)
	Backoff   State = 5 // exited; waiting before the next start
	Failed    State = 6 // will not restart until told to (exit 78, security)
	Paused    State = 7 // stopped on purpose until Resume (a restore swaps the state)
)

var stateNames = map[State]string{
	Stopped: "stopped", Starting: "starting", Running: "running",
	Unhealthy: "unhealthy", Backoff: "backoff", Failed: "failed", Paused: "paused",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes State travel as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for k, v := range stateNames {
		if v == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("unknown gateway state %q", b)
}
