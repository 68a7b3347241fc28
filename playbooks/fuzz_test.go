package playbooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds Parse arbitrary bytes: it must never panic, every
// problem it reports must carry a position, and whatever it accepts must
// survive the JSON trip into a workflow.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"library/*.yaml", "testdata/*.yaml", "testdata/*/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	cat := newTestCatalog()
	f.Fuzz(func(t *testing.T, src []byte) {
		pb, err := Parse(src, "fuzz.yaml", cat)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			if len(list) == 0 {
				t.Fatal("empty ErrorList returned as an error")
			}
			for _, e := range list {
				if e.Line < 1 || e.Col < 1 || e.File != "fuzz.yaml" {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		if pb == nil {
			t.Fatal("nil playbook without an error")
		}
		if _, err := json.Marshal(pb); err != nil {
			t.Fatalf("accepted playbook does not marshal: %v", err)
		}
		_ = pb.Hash()
		_ = pb.AllSteps()
	})
}
