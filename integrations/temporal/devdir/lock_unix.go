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
// closes can drop it, and the kernel drops it when the process dies.
func tryLock(f *os.File) error { return flock(f, syscall.LOCK_EX) }

// tryLockShared takes a shared flock without waiting: it fails only
// while a dev holds the exclusive one.
func tryLockShared(f *os.File) error { return flock(f, syscall.LOCK_SH) }

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

func flock(f *os.File, how int) error {
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errHeld
	}
	return err
}
