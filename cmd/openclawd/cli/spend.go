package cli

import (
	"fmt"
	"io"

	"github.com/openclawd/openclawd/localapi"
)

// spendCmd is `openclawd spend resume`: lift the daily cap's pause until
// the next day.
func spendCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "resume" {
		fmt.Fprintln(stderr, "usage: openclawd spend resume   (lift the daily spend cap's pause until the day ends; `openclawd status` shows the spend)")
		return ExitUsage
	}
	return control("spend resume", args[1:], stdout, stderr, (*localapi.Client).ResumeSpend, "%s\n")
}
