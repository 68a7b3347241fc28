package devdir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondAcquireNamesTheHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock belongs to the open file, so a second open in this same
	// process conflicts like another process would.
	_, err = Acquire(dir)
	var locked *LockedError
	if !errors.As(err, &locked) || locked.PID != os.Getpid() || locked.Dir != dir {
		t.Fatalf("second Acquire: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	if want := "data dir " + dir + " is in use by another firebreak dev (pid " + strconv.Itoa(os.Getpid()) + ")"; !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestAddressIsPublishedWhileHeldAndGoneAfter(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := Address(dir); ok || err != nil {
		t.Fatalf("no dev yet: ok=%v err=%v", ok, err)
	}
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := Address(dir); ok {
		t.Fatal("address before PublishAddress")
	}
	if err := l.PublishAddress("127.0.0.1:17233"); err != nil {
		t.Fatal(err)
	}
	if addr, ok, err := Address(dir); !ok || err != nil || addr != "127.0.0.1:17233" {
		t.Fatalf("Address: %q %v %v", addr, ok, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, AddressFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("address file after Release: %v", err)
	}
}

// A process killed with -9 leaves its address file, and its PID in the
// lock file, but not its lock: the address must not be used.
func TestStaleAddressIsIgnoredAndRemovedByTheNextHolder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(LockFile, strconv.Itoa(os.Getpid())+"\n") // a live PID, even
	write(AddressFile, "127.0.0.1:17234\n")
	if addr, ok, err := Address(dir); ok || err != nil {
		t.Fatalf("stale address used: %q %v %v", addr, ok, err)
	}
	// And the check left the lock free.
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := os.Stat(filepath.Join(dir, AddressFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale address file kept by the new holder: %v", err)
	}
}

func TestAddressWithoutLockFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, AddressFile), []byte("127.0.0.1:17235\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if addr, ok, err := Address(dir); ok || err != nil {
		t.Fatalf("address without a lock file: %q %v %v", addr, ok, err)
	}
}

func TestGarbledAddressFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, AddressFile)
	if err := os.WriteFile(path, []byte("not an address\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, ok, err := Address(dir)
	if ok || err == nil || !strings.Contains(err.Error(), path+`: want the host:port firebreak dev writes, got "not an address"`) {
		t.Fatalf("Address: ok=%v err=%v", ok, err)
	}
}

func TestAcquireOnAFileIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(file); err == nil || !strings.Contains(err.Error(), "create data dir") {
		t.Fatalf("Acquire on a file: %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	t.Run("lock file is a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, LockFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "open lock file") {
			t.Fatalf("Acquire: %v", err)
		}
	})
	t.Run("address file is a directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, AddressFile, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Address(dir); err == nil || !strings.Contains(err.Error(), "read "+filepath.Join(dir, AddressFile)) {
			t.Fatalf("Address: %v", err)
		}
		// A new holder cannot clear it either, and says so.
		if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "remove stale address file") {
			t.Fatalf("Acquire: %v", err)
		}
	})
	t.Run("address cannot be published", func(t *testing.T) {
		dir := t.TempDir()
		l, err := Acquire(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		if err := os.MkdirAll(filepath.Join(dir, AddressFile, "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := l.PublishAddress("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "write address file") {
			t.Fatalf("PublishAddress: %v", err)
		}
		if err := os.RemoveAll(filepath.Join(dir, AddressFile)); err != nil {
			t.Fatal(err)
		}
	})
}
