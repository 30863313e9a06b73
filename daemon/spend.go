package daemon

import (
	"context"
	"errors"
)

// ResumeSpend implements localapi.Backend.
func (d *Daemon) ResumeSpend(ctx context.Context) (string, error) {
	return "", errors.New("no spend cap is set (spend.daily_cap in the config)")
}
