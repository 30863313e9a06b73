package privdrop

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/openclawd/openclawd/internal/account"
)

func sysProcAttr(a account.Account, bind bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Credential: a.Credential(), Pdeathsig: syscall.SIGTERM}
	if bind {
		attr.AmbientCaps = []uintptr{unix.CAP_NET_BIND_SERVICE}
	}
	return attr
}
