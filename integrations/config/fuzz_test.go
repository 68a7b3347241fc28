package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzDecodeFile: any bytes decode without panicking, and every problem
// names a key and, unless it is a syntax error past the end, a line.
func FuzzDecodeFile(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{string(full), "http: {addr: x}", "a: [", "log:\n  level: 3\n", "access: {groups: {x: [1, {a: b}]}}", "- a\n- b", "&a x: *a"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg := Defaults()
		for _, e := range decodeFile(src, "f.yaml", &cfg) {
			if e.Key == "" || e.File != "f.yaml" || strings.TrimSpace(e.Msg) == "" {
				t.Fatalf("error without key, file or message: %+v", e)
			}
			if e.Key != "(syntax)" && e.Line <= 0 {
				t.Fatalf("error without a line: %+v", e)
			}
		}
	})
}
