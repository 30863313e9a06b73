package backup

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/openclawd/openclawd/internal/fsutil"
	"github.com/openclawd/openclawd/statedir"
)

// Record is what the last backups did, for `openclawd status`: kept in
// <state_dir>/backups/record.json, written by whoever made the backup.
type Record struct {
	Local   *Attempt            `json:"local,omitempty"`
	Targets map[string]*Attempt `json:"targets,omitempty"`
}

// Attempt is the last try, and the last success, of one destination.
type Attempt struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name,omitempty"`
	Size     int64     `json:"size,omitempty"`
	Verified bool      `json:"verified,omitempty"`
	Error    string    `json:"error,omitempty"`
	TookMS   int64     `json:"took_ms,omitempty"`
	// LastGood is when the last successful one was made.
	LastGood time.Time `json:"last_good,omitzero"`
	LastName string    `json:"last_name,omitempty"`
	LastSize int64     `json:"last_size,omitempty"`
}

func recordPath(l statedir.Layout) string { return filepath.Join(l.Backups(), "record.json") }

// ReadRecord reads the record; a missing one is empty.
func ReadRecord(l statedir.Layout) (Record, error) {
	var r Record
	b, err := os.ReadFile(recordPath(l))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// Note records one attempt at dest ("" is the local archive).
func Note(l statedir.Layout, dest string, a Attempt) error {
	r, _ := ReadRecord(l) // a damaged record is replaced
	prev := r.Local
	if dest != "" {
		prev = r.Targets[dest]
	}
	if a.Error == "" {
		a.LastGood, a.LastName, a.LastSize = a.At, a.Name, a.Size
	} else if prev != nil {
		a.LastGood, a.LastName, a.LastSize = prev.LastGood, prev.LastName, prev.LastSize
	}
	if dest == "" {
		r.Local = &a
	} else {
		if r.Targets == nil {
			r.Targets = map[string]*Attempt{}
		}
		r.Targets[dest] = &a
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(recordPath(l), b, 0o600)
}
