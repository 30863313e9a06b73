//go:build !linux && !darwin

package nodemirror

import (
	"context"
	"errors"
)

// lockFile is never reached: Build rejects non-linux systems first.
func lockFile(context.Context, string) (func(), error) {
	return nil, errors.New("file locking not supported on this system")
}
