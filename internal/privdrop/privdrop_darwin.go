package privdrop

import (
	"syscall"

	"github.com/openclawd/openclawd/internal/account"
)

// macOS lets any user bind ports below 1024 (since 10.14), and has no
// parent-death signal: launchd stops the whole job.
func sysProcAttr(a account.Account, _ bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: a.Credential()}
}
