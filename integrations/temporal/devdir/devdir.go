// Package devdir keeps the files a running `firebreak dev` leaves in its
// data directory for other processes: a lock holding its PID, so a second
// dev on the same directory is refused instead of fighting over the
// database, and the embedded Temporal frontend's address, so CLI commands
// find it without flags. It imports nothing heavy, so the configuration
// layer of every command can read it.
package devdir

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File names inside the data directory.
const (
	LockFile    = "dev.lock"
	AddressFile = "temporal.addr"
)

// LockedError says another live process holds the data directory.
type LockedError struct {
	Dir string
	PID int // 0 when the holder has not written its PID yet
}

func (e *LockedError) Error() string {
	holder := "another firebreak dev"
	if e.PID > 0 {
		holder = fmt.Sprintf("another firebreak dev (pid %d)", e.PID)
	}
	return fmt.Sprintf("data dir %s is in use by %s: stop it, or give this one another --data-dir", e.Dir, holder)
}

// Lock is the held data directory. The kernel releases it when the
// process exits, however it exits, so a crash leaves no stale lock.
type Lock struct {
	dir string
	f   *os.File
}

// Acquire creates dir if needed and locks it for this process, writing
// this process's PID into the lock file. It returns a *LockedError when a
// live process holds it already.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	// A client checking whether the lock is held (see Address) holds it
	// shared for a moment; only a lock that stays taken is another dev.
	err = tryLock(f)
	for try := 1; errors.Is(err, errHeld) && try < 5; try++ {
		time.Sleep(10 * time.Millisecond)
		err = tryLock(f)
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, errHeld) {
			pid, _ := readPID(path)
			return nil, &LockedError{Dir: dir, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l := &Lock{dir: dir, f: f}
	if err := l.writePID(); err != nil {
		_ = l.Release()
		return nil, err
	}
	// An address left by a process that was killed is stale; clients
	// must not find it while this one starts.
	if err := os.Remove(filepath.Join(dir, AddressFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = l.Release()
		return nil, fmt.Errorf("remove stale address file: %w", err)
	}
	return l, nil
}

func (l *Lock) writePID() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if _, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	return nil
}

// PublishAddress records the frontend address for clients. It writes a
// temporary file and renames it, so a reader never sees half an address.
func (l *Lock) PublishAddress(addr string) error {
	tmp, err := os.CreateTemp(l.dir, AddressFile+".*")
	if err != nil {
		return fmt.Errorf("write address file: %w", err)
	}
	_, werr := tmp.WriteString(addr + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write address file: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(l.dir, AddressFile)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write address file: %w", err)
	}
	return nil
}

// Release removes the address file and unlocks. The lock file stays:
// removing it would let two processes lock different files of one name.
func (l *Lock) Release() error {
	err := os.Remove(filepath.Join(l.dir, AddressFile))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, l.f.Close())
}

// Address returns the frontend address the dev process holding dir
// published, or ok=false when there is none: no address file, or one left
// behind by a process that no longer runs.
func Address(dir string) (addr string, ok bool, err error) {
	path := filepath.Join(dir, AddressFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	addr = strings.TrimSpace(string(b))
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", false, fmt.Errorf("%s: want the host:port firebreak dev writes, got %q", path, addr)
	}
	live, err := held(filepath.Join(dir, LockFile))
	if err != nil {
		return "", false, err
	}
	if !live {
		return "", false, nil
	}
	return addr, true, nil
}

// held reports whether a process holds the lock file: a process killed
// with -9 leaves its address file behind, but never its lock. (Its PID
// would not do: a killed process stays a zombie until reaped, and PIDs
// are reused.)
func held(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	err = tryLockShared(f)
	if errors.Is(err, errHeld) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lock %s: %w", path, err)
	}
	return false, unlock(f)
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no PID", path)
	}
	return pid, nil
}
