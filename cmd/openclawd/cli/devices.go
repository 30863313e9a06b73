package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openclawd/openclawd/config"
)

// devicesCmd shows and settles the gateway's device pairing through the
// openclaw CLI (as the service user, via openclawd's launcher):
//
//	openclawd devices [list] [--json]
//	openclawd devices approve|reject <requestId>
//	openclawd devices revoke <deviceId>
//
// approve and reject take an id only: openclaw's own `devices approve`
// without one picks the latest request, which may be a stranger's.
func devicesCmd(args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlags("devices "+sub, stderr)
	var asJSON *bool
	if sub == "list" {
		asJSON = fs.Bool("json", false, "print pending and paired devices as JSON")
	}
	// The id may come before or after --config.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	path := fs.String("config", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	var action, what string
	switch sub {
	case "list":
		if id != "" {
			fmt.Fprintf(stderr, "openclawd devices list: unexpected argument %q\n", id)
			return ExitUsage
		}
	case "approve", "reject":
		action, what = sub, "requestId"
	case "revoke":
		action, what = "remove", "deviceId" // openclaw's revoke drops one role's token; remove unpairs
	default:
		fmt.Fprintf(stderr, "openclawd devices: unknown subcommand %q (list, approve, reject, revoke)\n", sub)
		return ExitUsage
	}
	if action != "" && id == "" {
		fmt.Fprintf(stderr, "openclawd devices %s: give the %s; `openclawd devices list` shows them\n", sub, what)
		return ExitUsage
	}
	cfg, rc := loadConfig(*path, stderr)
	if cfg == nil {
		return rc
	}
	if action != "" {
		out, rc := openclawOutput(cfg, []string{"devices", action, id, "--json"}, stderr)
		if rc != 0 {
			fmt.Fprintf(stderr, "openclawd devices %s %s: openclaw exited %d%s\n", sub, id, rc, failReason(out))
			return ExitFailure
		}
		fmt.Fprintf(stdout, "%s %s\n", map[string]string{"approve": "approved", "reject": "rejected", "revoke": "revoked"}[sub], id)
		return ExitOK
	}
	out, rc := openclawOutput(cfg, []string{"devices", "list", "--json"}, stderr)
	if rc != 0 {
		fmt.Fprintf(stderr, "openclawd devices: openclaw devices list exited %d%s\n", rc, failReason(out))
		return ExitFailure
	}
	l, err := parseDeviceList(out)
	if err != nil {
		fmt.Fprintf(stderr, "openclawd devices: %v\n", err)
		return ExitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(l)
		return ExitOK
	}
	printDevices(stdout, l, time.Now())
	return ExitOK
}

// deviceList is openclawd's view of `openclaw devices list --json`.
type deviceList struct {
	Pending []pendingDevice `json:"pending"`
	Paired  []pairedDevice  `json:"paired"`
}

type pendingDevice struct {
	RequestID   string    `json:"requestId"`
	DeviceID    string    `json:"deviceId"`
	Name        string    `json:"name,omitempty"`
	IP          string    `json:"ip,omitempty"`
	RequestedAt time.Time `json:"requestedAt"`
	Repair      bool      `json:"repair,omitempty"`
}

type pairedDevice struct {
	DeviceID   string    `json:"deviceId"`
	Name       string    `json:"name,omitempty"`
	IP         string    `json:"ip,omitempty"`
	Roles      []string  `json:"roles,omitempty"`
	Scopes     []string  `json:"scopes,omitempty"`
	ApprovedAt time.Time `json:"approvedAt,omitzero"`
	LastSeen   time.Time `json:"lastSeen,omitzero"`
}

// failReason picks the error text out of openclaw's JSON output; the rest
// is not printed, since an approval's result can carry a device token.
func failReason(out []byte) string {
	var v struct{ Error, Message, Reason any }
	if decodeLastJSON(out, &v) != nil {
		return ""
	}
	for _, f := range []any{v.Error, v.Message, v.Reason} {
		switch f := f.(type) {
		case string:
			return ": " + f
		case map[string]any:
			if m, ok := f["message"].(string); ok {
				return ": " + m
			}
		}
	}
	return ""
}

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseDeviceList reads openclaw's JSON (fields as measured in
// docs/pairing.md); tokens in paired entries are never copied.
func parseDeviceList(out []byte) (deviceList, error) {
	var raw struct {
		Pending []struct {
			RequestID   string `json:"requestId"`
			DeviceID    string `json:"deviceId"`
			DisplayName string `json:"displayName"`
			ClientID    string `json:"clientId"`
			RemoteIP    string `json:"remoteIp"`
			TS          int64  `json:"ts"`
			IsRepair    bool   `json:"isRepair"`
		} `json:"pending"`
		Paired []struct {
			DeviceID      string   `json:"deviceId"`
			DisplayName   string   `json:"displayName"`
			OperatorLabel string   `json:"operatorLabel"`
			ClientID      string   `json:"clientId"`
			RemoteIP      string   `json:"remoteIp"`
			Roles         []string `json:"roles"`
			Scopes        []string `json:"scopes"`
			ApprovedAtMs  int64    `json:"approvedAtMs"`
			LastSeenAtMs  int64    `json:"lastSeenAtMs"`
		} `json:"paired"`
	}
	if err := decodeLastJSON(out, &raw); err != nil {
		return deviceList{}, fmt.Errorf("reading openclaw devices list: %w", err)
	}
	l := deviceList{Pending: []pendingDevice{}, Paired: []pairedDevice{}}
	for _, p := range raw.Pending {
		l.Pending = append(l.Pending, pendingDevice{RequestID: p.RequestID, DeviceID: p.DeviceID,
			Name: firstNonEmpty(p.DisplayName, p.ClientID), IP: p.RemoteIP, RequestedAt: msTime(p.TS), Repair: p.IsRepair})
	}
	for _, p := range raw.Paired {
		l.Paired = append(l.Paired, pairedDevice{DeviceID: p.DeviceID, Name: firstNonEmpty(p.OperatorLabel, p.DisplayName, p.ClientID),
			IP: p.RemoteIP, Roles: p.Roles, Scopes: p.Scopes, ApprovedAt: msTime(p.ApprovedAtMs), LastSeen: msTime(p.LastSeenAtMs)})
	}
	return l, nil
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Format("2006-01-02")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printDevices(w io.Writer, l deviceList, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(l.Pending) == 0 {
		fmt.Fprintln(tw, "No pending requests.")
	} else {
		fmt.Fprintf(tw, "Pending (%d): approve with `openclawd devices approve <request>`\n", len(l.Pending))
		fmt.Fprintln(tw, "REQUEST\tIP\tREQUESTED\tDEVICE\tNAME")
		for _, p := range l.Pending {
			name := orDash(p.Name)
			if p.Repair {
				name += " (repair)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.RequestID, orDash(p.IP), ago(now, p.RequestedAt), short(p.DeviceID), name)
		}
	}
	fmt.Fprintln(tw)
	if len(l.Paired) == 0 {
		fmt.Fprintln(tw, "No paired devices.")
	} else {
		fmt.Fprintf(tw, "Paired (%d): remove with `openclawd devices revoke <device>`\n", len(l.Paired))
		fmt.Fprintln(tw, "DEVICE\tNAME\tIP\tSCOPES\tLAST SEEN")
		for _, p := range l.Paired {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.DeviceID, orDash(p.Name), orDash(p.IP), orDash(strings.Join(p.Scopes, ",")), ago(now, p.LastSeen))
		}
	}
	tw.Flush()
}

// short keeps a device id readable in the pending table; the full id is
// in the paired table and --json.
func short(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return orDash(id)
}
