package playbooks

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err from the loader's output")

// TestLoadErrors loads each broken fixture in testdata and compares the
// full error output with the .err file beside it. Directories are loaded
// as one set (LoadDir) and compared with dir.err.
func TestLoadErrors(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cat := newTestCatalog()
	n := 0
	for _, e := range entries {
		name := e.Name()
		var load func() error
		var base string
		switch {
		case e.IsDir():
			base = filepath.Join("testdata", name)
			load = func() error {
				_, err := LoadDir(base, cat)
				return err
			}
		case strings.HasSuffix(name, ".yaml"):
			base = filepath.Join("testdata", strings.TrimSuffix(name, ".yaml"))
			load = func() error {
				_, err := Load(filepath.Join("testdata", name), cat)
				return err
			}
		default:
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			err := load()
			if err == nil {
				t.Fatal("loaded without error; every fixture in testdata is broken on purpose")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Col < 1 {
					t.Errorf("error without position: %v", e)
				}
			}
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(base+".err", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(base + ".err")
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
	if n < 20 {
		t.Errorf("found %d fixtures, want at least 20", n)
	}
}
