//go:build unix

package devdir

import (
	"errors"
	"os"
	"syscall"
)

var errHeld = errors.New("held by another process")

// tryLock takes an exclusive flock without waiting. flock, unlike fcntl
// locks, belongs to the open file, so nothing else this process opens or
// closes can drop it.
func tryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errHeld
	}
	return err
}

// alive reports whether pid is a running process (EPERM: it is, but
// belongs to another user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
