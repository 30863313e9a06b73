//go:build !linux

package target

import "errors"

// renameExcl has no atomic no-replace rename here: renameNoReplace falls
// back to link and remove.
func renameExcl(old, new string) error { return errors.ErrUnsupported }
