package playbooks

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestParseDurationDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d":    7 * 24 * time.Hour,
		"1d12h": 36 * time.Hour,
		"1.5d":  36 * time.Hour,
		"0.5d":  12 * time.Hour,
		"90m":   90 * time.Minute,
		"0d":    0,
	} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, time.Duration(got), err, want)
		}
	}
	for in, want := range map[string]string{
		"-1d":             `invalid duration "-1d": must not be negative`,
		"1d-2h":           `invalid duration "1d-2h": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"12h1d":           `invalid duration "12h1d": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"d":               `invalid duration "d": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"1dd":             `invalid duration "1dd": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"999999999999d":   `invalid duration "999999999999d": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"1 d":             `invalid duration "1 d": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
		"${{ inputs.x }}": `invalid duration "${{ inputs.x }}": use a number and a unit, e.g. 90s, 15m, 1h30m, 7d`,
	} {
		if _, err := ParseDuration(in); err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %v, want %q", in, err, want)
		}
	}
}

func TestLoadExtendableWait(t *testing.T) {
	pb, err := Parse([]byte(`apiVersion: firebreak/v1
kind: Playbook
metadata: {name: block}
inputs:
  duration: {type: duration, default: 24h}
steps:
  - id: literal
    wait: {duration: 10m}
  - id: from-input
    wait: {duration: "${{ inputs.duration }}"}
  - id: extendable
    wait: {duration: "${{ inputs.duration }}", extendable: true}
  - id: bounded
    wait: {duration: 1d, extendable: true, max: 3d}
  - id: computed
    wait: {duration: "${{ duration(inputs.duration) + duration('12h') }}", extendable: false}
`), "block.yaml", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Wait{
		"literal":    {Duration: Duration(10 * time.Minute)},
		"from-input": {DurationExpr: "${{ inputs.duration }}"},
		"extendable": {DurationExpr: "${{ inputs.duration }}", Extendable: true, Max: DefaultWaitMax},
		"bounded":    {Duration: Duration(24 * time.Hour), Extendable: true, Max: Duration(72 * time.Hour)},
		"computed":   {DurationExpr: "${{ duration(inputs.duration) + duration('12h') }}"},
	}
	for _, s := range pb.Steps {
		if !reflect.DeepEqual(*s.Wait, want[s.ID]) {
			t.Errorf("%s: wait %+v, want %+v", s.ID, *s.Wait, want[s.ID])
		}
	}
	if got := pb.Steps[2].Wait.String(); got != "${{ inputs.duration }}, extendable up to 168h" {
		t.Errorf("String() = %q", got)
	}
	if got := pb.Steps[3].Wait.Limit(); got != 72*time.Hour {
		t.Errorf("Limit() = %v", got)
	}
	// A literal wait that is not extendable travels exactly as before, so
	// runs started by older code decode the same input.
	b, err := json.Marshal(pb.Steps[0].Wait)
	if err != nil || string(b) != `{"duration":"10m"}` {
		t.Errorf("JSON of a literal wait = %s, %v", b, err)
	}
}
