package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// unitState is what `systemctl show openclawd -p …` says about the unit.
type unitState struct {
	Load, Active, Sub, Result string
	NRestarts, ExecMainStatus int
}

// unitShowProps are the properties crashWatch reads.
const unitShowProps = "LoadState,ActiveState,SubState,NRestarts,Result,ExecMainStatus"

// parseUnitShow reads `systemctl show -p …` output (KEY=VALUE lines).
func parseUnitShow(out string) (unitState, error) {
	var s unitState
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "LoadState":
			s.Load = v
		case "ActiveState":
			s.Active = v
		case "SubState":
			s.Sub = v
		case "Result":
			s.Result = v
		case "NRestarts":
			s.NRestarts, err = strconv.Atoi(v)
		case "ExecMainStatus":
			s.ExecMainStatus, err = strconv.Atoi(v)
		}
		if err != nil {
			return unitState{}, fmt.Errorf("systemctl show: %s: %w", k, err)
		}
	}
	if s.Active == "" {
		return unitState{}, fmt.Errorf("systemctl show: no ActiveState in %q", out)
	}
	return s, nil
}

// crashWatch decides from successive unit states, polled while setup waits,
// that the unit crash-loops: waiting out --wait would change nothing.
type crashWatch struct {
	base         int // NRestarts when the wait began
	seen         bool
	autoRestarts int // polls that saw SubState auto-restart
}

// observe takes one state and says whether the unit crash-loops, and why.
func (w *crashWatch) observe(s unitState) (bool, string) {
	if s.Load != "" && s.Load != "loaded" {
		return false, "" // no such unit: nothing to judge
	}
	if !w.seen {
		w.seen, w.base = true, s.NRestarts
	}
	if s.Sub == "auto-restart" {
		w.autoRestarts++
	}
	exit := fmt.Sprintf("(result %s, exit status %d)", s.Result, s.ExecMainStatus)
	switch {
	case s.Active == "failed" && s.Result == "start-limit-hit":
		return true, "systemd gave up restarting openclawd: start limit hit " + exit
	case s.Active == "failed":
		return true, "the openclawd unit failed " + exit
	case s.NRestarts-w.base >= 2:
		return true, fmt.Sprintf("systemd restarted openclawd %d times while setup waited %s", s.NRestarts-w.base, exit)
	case w.autoRestarts >= 2:
		return true, "openclawd keeps exiting and systemd keeps restarting it " + exit
	}
	return false, ""
}
