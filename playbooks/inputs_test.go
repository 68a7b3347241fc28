package playbooks

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const inputsDoc = `
apiVersion: firebreak/v1
kind: Playbook
metadata: {name: inputs}
inputs:
  instance_id: {type: string, required: true, pattern: "^i-[0-9a-f]{4,17}$"}
  account: {type: string, default: prod, enum: [prod, staging]}
  attempts: {type: int, default: 3, enum: [1, 3, 5]}
  force: {type: bool, default: false}
  hold: {type: duration, default: 90m}
  regions: {type: list, default: [us-east-1], pattern: "^[a-z]+-[a-z]+-[0-9]$"}
  note: {type: string}
  limit: {type: int}
steps:
  - id: log
    action: core.log
    with: {message: "${{ inputs.instance_id }}"}
`

func mustParse(t *testing.T, doc string) *Playbook {
	t.Helper()
	pb, err := Parse([]byte(doc), "test.yaml", newTestCatalog())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return pb
}

func TestResolveInputs(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	got, err := ResolveInputs(pb, map[string]string{
		"instance_id": "i-0abc",
		"attempts":    "5",
		"force":       "true",
		"hold":        "1h30m0s",
		"regions":     "us-east-1, eu-west-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"instance_id": "i-0abc",
		"account":     "prod",
		"attempts":    int64(5),
		"force":       true,
		"hold":        "1h30m",
		"regions":     []any{"us-east-1", "eu-west-1"},
		"note":        "",
		"limit":       int64(0),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ResolveInputs:\n got %#v\nwant %#v", got, want)
	}
}

func TestResolveInputsDefaultsAndJSONList(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	got, err := ResolveInputs(pb, map[string]string{"instance_id": "i-0abc", "regions": `["eu-west-1"]`, "account": ""})
	if err != nil {
		t.Fatal(err)
	}
	if got["account"] != "prod" || got["attempts"] != int64(3) || got["hold"] != "1h30m" || !reflect.DeepEqual(got["regions"], []any{"eu-west-1"}) {
		t.Errorf("ResolveInputs = %#v", got)
	}
}

// The playbook travels through JSON in workflow input, which turns the
// int default and enum into float64; resolution must not care.
func TestResolveInputsAfterJSONRoundTrip(t *testing.T) {
	pb := roundTrip(t, mustParse(t, inputsDoc))
	got, err := ResolveInputs(pb, map[string]string{"instance_id": "i-0abc", "attempts": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if got["attempts"] != int64(1) {
		t.Errorf("attempts = %#v", got["attempts"])
	}
	got, err = ResolveInputs(pb, map[string]string{"instance_id": "i-0abc"})
	if err != nil {
		t.Fatal(err)
	}
	if got["attempts"] != int64(3) || !reflect.DeepEqual(got["regions"], []any{"us-east-1"}) {
		t.Errorf("defaults after JSON = %#v", got)
	}
}

func TestResolveInputsErrorsNameTheInput(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	_, err := ResolveInputs(pb, map[string]string{
		"account":  "dev",
		"attempts": "two",
		"force":    "maybe",
		"hold":     "soon",
		"regions":  "us-east-1,Mars",
		"acount":   "prod",
	})
	if err == nil {
		t.Fatal("ResolveInputs accepted bad inputs")
	}
	for _, want := range []string{
		`unknown input "acount" (did you mean "account"?)`,
		`input "instance_id" is required`,
		`input "account": "dev" is not one of prod, staging`,
		`input "attempts": "two" is not an integer`,
		`input "force": "maybe" is not true or false`,
		`input "hold": invalid duration "soon"`,
		`input "regions": "Mars" does not match pattern`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	_, err = ResolveInputs(pb, map[string]string{"instance_id": "vol-1"})
	if err == nil || !strings.Contains(err.Error(), `input "instance_id": "vol-1" does not match pattern "^i-[0-9a-f]{4,17}$"`) {
		t.Errorf("pattern error = %v", err)
	}
	_, err = ResolveInputs(pb, map[string]string{"instance_id": "i-0abc", "attempts": "4"})
	if err == nil || !strings.Contains(err.Error(), `input "attempts": 4 is not one of 1, 3, 5`) {
		t.Errorf("enum error = %v", err)
	}
}

func TestResolveInputValuesTyped(t *testing.T) {
	pb := mustParse(t, inputsDoc)
	got, err := ResolveInputValues(pb, map[string]any{
		"instance_id": "i-0abc",
		"attempts":    float64(5),
		"force":       true,
		"regions":     []any{"eu-west-1"},
		"note":        int64(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["attempts"] != int64(5) || got["force"] != true || got["note"] != "7" {
		t.Errorf("ResolveInputValues = %#v", got)
	}
	_, err = ResolveInputValues(pb, map[string]any{"instance_id": "i-0abc", "attempts": 2.5, "force": "x", "regions": map[string]any{}})
	for _, want := range []string{`input "attempts": 2.5 is not an integer`, `input "force"`, `input "regions": want a list of strings, got a mapping`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func roundTrip(t *testing.T, pb *Playbook) *Playbook {
	t.Helper()
	b, err := json.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	var out Playbook
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}
