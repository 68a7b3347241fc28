package playbooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("compile schema.json: %v", err)
	}
	return sch
}

// yamlInstance converts a YAML file into the JSON values a schema
// validator (or an editor) sees.
func yamlInstance(t *testing.T, path string) any {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: to JSON: %v", path, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchemaAcceptsLibrary(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("library/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("library has %d playbooks, want at least 2", len(files))
	}
	for _, f := range files {
		if err := sch.Validate(yamlInstance(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestSchemaRejectsBrokenFixtures(t *testing.T) {
	sch := compileSchema(t)
	// The structural mistakes a schema can see; action names, CEL and
	// step references need the loader.
	for _, name := range []string{
		"unknown_key", "missing_id", "two_kinds", "approval_non_action",
		"bad_api_version", "wrong_types", "bad_duration", "default_type",
		"enum_mismatch", "multiple_errors", "wait_extend",
	} {
		f := filepath.Join("testdata", name+".yaml")
		if err := sch.Validate(yamlInstance(t, f)); err == nil {
			t.Errorf("%s: schema accepted a broken playbook", f)
		}
	}
}

func TestSchemaMatchesDuration(t *testing.T) {
	sch := compileSchema(t)
	base := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: d}\nsteps:\n- {id: w, wait: {duration: %q}}\n"
	for dur, ok := range map[string]bool{"15m": true, "1h30m": true, "1.5s": true, "250ms": true, "15": false, "m": false, "15 m": false, "-1s": false,
		"7d": true, "1d12h": true, "1.5d": true, "12h1d": false, "d": false, "1d-2h": false} {
		var v any
		if err := yaml.Unmarshal(fmt.Appendf(nil, base, dur), &v); err != nil {
			t.Fatal(err)
		}
		err := sch.Validate(v)
		if (err == nil) != ok {
			t.Errorf("duration %q: schema valid = %v, want %v (%v)", dur, err == nil, ok, err)
		}
	}
}

// TestSchemaWait: the schema takes what the loader takes of a wait's
// duration, extendable and max, and refuses the same structural mistakes.
func TestSchemaWait(t *testing.T) {
	sch := compileSchema(t)
	base := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: w}\ninputs: {d: {type: duration}}\nsteps:\n- {id: w, wait: %s}\n"
	for wait, ok := range map[string]bool{
		`{duration: 24h}`:                                   true,
		`{duration: "${{ inputs.d }}"}`:                     true,
		`{duration: "${{ inputs.d }}", extendable: true}`:   true,
		`{duration: 1d, extendable: true, max: 7d}`:         true,
		`{duration: 1d, extendable: false}`:                 true,
		`{duration: soon}`:                                  false,
		`{duration: 1d, max: 7d}`:                           false,
		`{duration: 1d, extendable: false, max: 7d}`:        false,
		`{duration: 1d, extendable: true, max: "${{ 1 }}"}`: false,
		`{duration: 1d, extendable: "yes"}`:                 false,
		`{signal: go, extendable: true}`:                    false,
		`{signal: go, max: 1d}`:                             false,
	} {
		var v any
		if err := yaml.Unmarshal(fmt.Appendf(nil, base, wait), &v); err != nil {
			t.Fatal(err)
		}
		err := sch.Validate(v)
		if (err == nil) != ok {
			t.Errorf("wait %s: schema valid = %v, want %v (%v)", wait, err == nil, ok, err)
		}
		// The loader agrees.
		_, lerr := Parse(fmt.Appendf(nil, base, wait), "w.yaml", newTestCatalog())
		if (lerr == nil) != ok {
			t.Errorf("wait %s: loader valid = %v, want %v (%v)", wait, lerr == nil, ok, lerr)
		}
	}
}
