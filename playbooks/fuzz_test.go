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

// FuzzRender renders arbitrary template strings: no panics, and whatever
// renders is JSON-friendly (it becomes activity input).
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"plain", "${{ inputs.count }}", "a ${{ inputs.instance_id }} b ${{ incident.key }}",
		"${{ {'a': [1, 2.5, null, true]} }}", "${{ '}}' }}", "${{", "${{ }}",
		"${{ config.aws.accounts.map(k, k) }}", "${{ 1.0 / 0.0 }}", "${{ b'\\xff' }}",
		"${{ timestamp('2024-01-01T00:00:00Z') }}", "${{ optional.none() }}",
	} {
		f.Add(s)
	}
	ev := NewEvaluator()
	v := testVars()
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ev.Render(map[string]any{"x": s, "l": []any{s}}, v)
		if err != nil {
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("Render(%q) is not JSON-friendly: %v", s, err)
		}
	})
}
