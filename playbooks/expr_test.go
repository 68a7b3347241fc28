package playbooks

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func testVars() Vars {
	return Vars{
		Inputs: map[string]any{
			"instance_id": "i-0abc",
			"count":       int64(3),
			"ratio":       0.5,
			"dry_run":     true,
			"regions":     []any{"us-east-1", "eu-west-1"},
		},
		Steps: map[string]StepVars{
			"snapshot": {Status: StatusSucceeded, Outputs: map[string]any{
				"snapshot_ids": []any{"snap-1", "snap-2"},
				"meta":         map[string]any{"size_gb": float64(8)},
			}},
			"notify": {Status: StatusSkipped},
		},
		Incident: map[string]any{"key": "INC-7", "severity": "sev1"},
		Config: map[string]any{
			"aws": map[string]any{"accounts": map[string]any{
				"prod": map[string]any{"quarantine_sg": "sg-123"},
			}},
		},
	}
}

func TestRenderTypedWholeStringTemplates(t *testing.T) {
	got, err := Render(map[string]any{
		"count":    "${{ inputs.count }}",
		"ratio":    "${{ inputs.ratio }}",
		"dry_run":  "${{ inputs.dry_run }}",
		"regions":  "${{ inputs.regions }}",
		"ids":      "${{ steps.snapshot.outputs.snapshot_ids }}",
		"sum":      "${{ inputs.count + 2 }}",
		"nothing":  "${{ null }}",
		"map":      "${{ {'b': 2, 'a': [1, 'x']} }}",
		"sg":       "${{ config.aws.accounts['prod'].quarantine_sg }}",
		"optional": "${{ config.?github.tracking_repo.orValue('none') }}",
		"uint":     "${{ 7u }}",
		"dur":      "${{ duration('90m') }}",
		"literal":  42,
		"plain":    "no templates here",
	}, testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"count":    int64(3),
		"ratio":    0.5,
		"dry_run":  true,
		"regions":  []any{"us-east-1", "eu-west-1"},
		"ids":      []any{"snap-1", "snap-2"},
		"sum":      int64(5),
		"nothing":  nil,
		"map":      map[string]any{"a": []any{int64(1), "x"}, "b": int64(2)},
		"sg":       "sg-123",
		"optional": "none",
		"uint":     int64(7),
		"dur":      "1h30m",
		"literal":  int64(42),
		"plain":    "no templates here",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Render:\n got %#v\nwant %#v", got, want)
	}
}

func TestRenderInterpolates(t *testing.T) {
	got, err := Render(map[string]any{
		"text":  "Isolating ${{ inputs.instance_id }} (${{ inputs.count }} tries, dry=${{ inputs.dry_run }}, ratio ${{ inputs.ratio }})",
		"json":  "regions=${{ inputs.regions }} meta=${{ steps.snapshot.outputs.meta }}",
		"null":  "[${{ null }}]",
		"space": " ${{ inputs.instance_id }}",
		"brace": "${{ {'k': {'v': '}}'}}.k.v }}!",
		"quote": `${{ "it's" }} and ${{ '''tri"ple''' }}`,
	}, testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"text":  "Isolating i-0abc (3 tries, dry=true, ratio 0.5)",
		"json":  `regions=["us-east-1","eu-west-1"] meta={"size_gb":8}`,
		"null":  "[]",
		"space": " i-0abc",
		"brace": "}}!",
		"quote": `it's and tri"ple`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Render:\n got %#v\nwant %#v", got, want)
	}
}

func TestRenderNestedMapsAndLists(t *testing.T) {
	in := map[string]any{
		"target": map[string]any{
			"id":   "${{ inputs.instance_id }}",
			"tags": []any{"incident:${{ incident.key }}", map[string]any{"sev": "${{ incident.severity }}"}, 5, nil},
		},
	}
	got, err := Render(in, testVars())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"target": map[string]any{
			"id":   "i-0abc",
			"tags": []any{"incident:INC-7", map[string]any{"sev": "sev1"}, int64(5), nil},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Render:\n got %#v\nwant %#v", got, want)
	}
	// Render must not touch its input: the playbook is shared state.
	if in["target"].(map[string]any)["id"] != "${{ inputs.instance_id }}" {
		t.Error("Render modified its input")
	}
	// And the output must survive a JSON round trip (activity input).
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("output is not JSON-friendly: %v", err)
	}
}

func TestRenderErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		with map[string]any
		want string
	}{
		{map[string]any{"target": map[string]any{"arn": "${{ inputs.missing }}"}}, "target.arn: ${{ inputs.missing }}: no such key: missing"},
		{map[string]any{"tags": []any{"ok", "x-${{ steps.nope.outputs.id }}"}}, "tags[1]: ${{ steps.nope.outputs.id }}: no such key: nope"},
		{map[string]any{"n": "${{ 1 / 0 }}"}, "n: ${{ 1 / 0 }}: division by zero"},
		{map[string]any{"n": "${{ inputs.count + }}"}, "n: ${{ inputs.count + }}: compile:"},
		{map[string]any{"n": "oops ${{ inputs.count"}, "n: unterminated ${{"},
		{map[string]any{"n": "${{ 1.0 / 0.0 }}"}, "cannot be represented in JSON"},
		{map[string]any{"n": "${{ int }}"}, "n: ${{ int }}: a type value cannot be used as data"},
	} {
		_, err := Render(tc.with, testVars())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Render(%v) error = %v, want it to contain %q", tc.with, err, tc.want)
		}
	}
}

func TestEvalBool(t *testing.T) {
	e := NewEvaluator()
	for expr, want := range map[string]bool{
		"":                                            true,
		"true":                                        true,
		"inputs.count > 2":                            true,
		"inputs.count > 2.5":                          true, // int vs double
		"inputs.ratio < 1":                            true,
		"steps.notify.status == 'skipped'":            true,
		"steps.snapshot.status == 'succeeded'":        true,
		"'eu-west-1' in inputs.regions":               true,
		"has(config.github)":                          false,
		"incident.severity in ['sev1', 'sev2']":       true,
		"inputs.instance_id.startsWith('i-')":         true,
		"inputs.instance_id.upperAscii() == 'I-0ABC'": true,
	} {
		got, err := e.EvalBool(expr, testVars())
		if err != nil {
			t.Errorf("EvalBool(%q): %v", expr, err)
			continue
		}
		if got != want {
			t.Errorf("EvalBool(%q) = %v, want %v", expr, got, want)
		}
	}
	for expr, want := range map[string]string{
		"inputs.count":   "got int, want bool",
		"inputs.nope":    "no such key: nope",
		"inputs.count +": "Syntax error",
		"now() > 0":      "undeclared reference to 'now'",
	} {
		_, err := e.EvalBool(expr, testVars())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("EvalBool(%q) error = %v, want it to contain %q", expr, err, want)
		}
	}
	// Empty Vars are usable: missing maps read as empty.
	if got, err := e.EvalBool("!has(config.x) && size(steps) == 0", Vars{}); err != nil || !got {
		t.Errorf("EvalBool on empty Vars = %v, %v", got, err)
	}
}

// Map iteration inside expressions must not depend on Go's random map
// order, or a replayed workflow could render different values.
func TestEvalIsDeterministic(t *testing.T) {
	keys := map[string]any{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		keys[k] = map[string]any{"n": k}
	}
	v := Vars{Config: map[string]any{"keys": keys}}
	with := map[string]any{
		"from_vars":    "${{ config.keys.map(k, k) }}",
		"nested":       "${{ config.keys.q.map(k, k) }}",
		"from_literal": "${{ {'z': 1, 'y': 2, 'x': 3, 'w': 4, 'v': 5, 'u': 6, 't': 7, 's': 8}.map(k, k) }}",
		"filtered":     "${{ config.keys.filter(k, k > 'm').join(',') }}",
		"int_keys":     "${{ {3: 'c', 1: 'a', 2: 'b', 10: 'j'}.map(k, k) }}",
	}
	e := NewEvaluator()
	first, err := e.Render(with, v)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonString(t, first["from_vars"]); got != `["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t","u","v","w","x","y","z"]` {
		t.Errorf("from_vars = %s, want sorted keys", got)
	}
	if got := first["filtered"]; got != "n,o,p,q,r,s,t,u,v,w,x,y,z" {
		t.Errorf("filtered = %v", got)
	}
	if got := jsonString(t, first["from_literal"]); got != `["s","t","u","v","w","x","y","z"]` {
		t.Errorf("from_literal = %s", got)
	}
	if got := jsonString(t, first["int_keys"]); got != `[1,2,3,10]` {
		t.Errorf("int_keys = %s", got)
	}
	for range 50 {
		again, err := NewEvaluator().Render(with, v)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("Render is not deterministic:\n%v\n%v", first, again)
		}
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A runaway expression fails instead of stalling the workflow task.
func TestEvalCostLimit(t *testing.T) {
	expr := "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))"
	_, err := EvalBool(expr, Vars{})
	if err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Errorf("EvalBool(expensive) error = %v, want a cost limit error", err)
	}
}

func TestRenderString(t *testing.T) {
	got, err := NewEvaluator().RenderString("Page the owner of ${{ inputs.instance_id }} for ${{ incident.key }}", testVars())
	if err != nil || got != "Page the owner of i-0abc for INC-7" {
		t.Errorf("RenderString = %q, %v", got, err)
	}
}

func TestSplitTemplates(t *testing.T) {
	for in, want := range map[string][]segment{
		"plain":            {{text: "plain"}},
		"":                 {{text: ""}},
		"${{ a }}":         {{text: "a", expr: true, off: 4}},
		"x${{a}}y${{ b }}": {{text: "x"}, {text: "a", expr: true, off: 4}, {text: "y", off: 7}, {text: "b", expr: true, off: 12}},
		"${{ {'a': 1} }}":  {{text: "{'a': 1}", expr: true, off: 4}},
		"${{ '}}' }} tail": {{text: "'}}'", expr: true, off: 4}, {text: " tail", off: 11}},
	} {
		got, err := splitTemplates(in)
		if err != nil {
			t.Errorf("splitTemplates(%q): %v", in, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("splitTemplates(%q) = %+v, want %+v", in, got, want)
		}
	}
	for _, in := range []string{"${{", "${{ a", "${{ }}", "${{ 'a }}", "${{ '''a }}"} {
		if _, err := splitTemplates(in); err == nil {
			t.Errorf("splitTemplates(%q) succeeded, want an error", in)
		}
	}
}
