//go:build !linux

package progress

import "os"

// isTerminal reports whether f is a character device: the best guess without
// asking the kernel for terminal attributes (firedrill runs on Linux).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
