package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestFullFileHasEveryKey: testdata/full.yaml says it holds every key
// Firebreak reads, and README points readers to it; every yaml key of
// Config must be in it, so a new key cannot be left out of the example.
func TestFullFileHasEveryKey(t *testing.T) {
	raw, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var walkDoc func(prefix string, v any)
	walkDoc = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, sub := range m {
			have[prefix+k] = true
			walkDoc(prefix+k+".", sub)
		}
	}
	walkDoc("", doc)

	var missing []string
	var walkType func(prefix string, t reflect.Type)
	walkType = func(prefix string, t reflect.Type) {
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			ft := f.Type
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Secret]():
				walkType(key+".", ft)
				continue
			case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
				// A map of structs (aws.accounts.<name>): look inside any entry.
				for k := range have {
					if rest, ok := strings.CutPrefix(k, key+"."); ok && !strings.Contains(rest, ".") {
						walkType(k+".", ft.Elem())
						break
					}
				}
			}
			if !have[key] {
				missing = append(missing, key)
			}
		}
	}
	walkType("", reflect.TypeFor[Config]())
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("testdata/full.yaml lacks %s", strings.Join(missing, ", "))
	}
}
