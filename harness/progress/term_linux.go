package progress

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal asks the kernel whether f is a terminal (it has terminal
// attributes): a character device such as /dev/null is not one.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
