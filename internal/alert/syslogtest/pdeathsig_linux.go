package syslogtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill rsyslogd when the test binary
// exits, so a collector a test started is never orphaned.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
