package supervisor

import (
	"errors"
	"fmt"
)

// setSubreaper: macOS has no child subreaper. The process group and the
// descendants seen at stop time are what a stop reaches (best effort).
func setSubreaper() error {
	return fmt.Errorf("child subreaper: %w", errors.ErrUnsupported)
}

func (s *Supervisor) reapAdopted(int) {}

func (s *Supervisor) killAdopted() {}
