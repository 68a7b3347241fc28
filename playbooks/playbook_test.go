package playbooks

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLibraryLoads(t *testing.T) {
	pbs, err := LoadDir("library", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Playbook{}
	for _, pb := range pbs {
		byName[pb.Metadata.Name] = pb
		if want := strings.TrimSuffix(filepath.Base(pb.Source), ".yaml"); pb.Metadata.Name != want {
			t.Errorf("%s: metadata.name %q, want it to match the file name", pb.Source, pb.Metadata.Name)
		}
	}
	triage := byName["incident-triage"]
	if triage == nil {
		t.Fatal("incident-triage missing from the library")
	}
	if _, ok := triage.Calls["comms-checklist"]; !ok || len(triage.Calls) != 1 {
		t.Errorf("incident-triage Calls = %v, want comms-checklist", triage.Calls)
	}
	if byName["comms-checklist"].Calls != nil {
		t.Errorf("comms-checklist calls nothing but has Calls %v", byName["comms-checklist"].Calls)
	}
	drill := byName["rollback-drill"]
	if drill == nil || drill.OnFailure != OnFailureRollback {
		t.Fatalf("rollback-drill = %+v", drill)
	}

	// The embedded copy is the same library.
	embedded, err := Library(newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) != len(pbs) {
		t.Fatalf("Library() has %d playbooks, library/ has %d", len(embedded), len(pbs))
	}
	for i := range pbs {
		if embedded[i].Hash() != pbs[i].Hash() {
			t.Errorf("%s: embedded copy hashes differently", pbs[i].Source)
		}
	}
}

func TestLoadBuildsSteps(t *testing.T) {
	pb := mustParse(t, `
apiVersion: firebreak/v1
kind: Playbook
metadata: {name: build}
inputs:
  instance_id: {type: string, required: true}
steps:
  - id: isolate
    when: "${{ inputs.instance_id != '' }}"
    action: test.isolate
    with:
      instance_id: "${{ inputs.instance_id }}"
      quarantine_group: sg-1
      dry_run: false
    compensate:
      action: test.release
    approval: {users: [alice, bob], min: 2, timeout: 15m, on_timeout: escalate, escalate: managers, allow_requester: true}
    retry: {max_attempts: 5, initial_interval: 2s, backoff_coefficient: 1.5, max_interval: 1m}
    timeout: 5m
    continue_on_error: true
  - parallel:
      - id: tell
        action: core.log
        with: {message: "${{ steps.isolate.outputs.state }}"}
      - id: ack
        manual: {role: commander, task: "Ack ${{ inputs.instance_id }}"}
  - id: parallel-2
    wait: {signal: resolved}
    timeout: 1h
  - id: later
    when: false
    wait: {duration: 1h30m}
`)
	isolate := pb.Steps[0]
	if isolate.Kind != KindAction || isolate.When != "inputs.instance_id != ''" || isolate.Line != 8 || isolate.Col != 5 {
		t.Errorf("isolate = %+v", isolate)
	}
	// compensate.with defaults to the step's parameters the inverse takes.
	if !reflect.DeepEqual(isolate.Compensate.With, map[string]any{"instance_id": "${{ inputs.instance_id }}"}) {
		t.Errorf("compensate.with = %v", isolate.Compensate.With)
	}
	wantApproval := &Approval{Users: []string{"alice", "bob"}, Min: 2, Timeout: Duration(15 * time.Minute), OnTimeout: OnTimeoutEscalate, Escalate: "managers", AllowRequester: true}
	if !reflect.DeepEqual(isolate.Approval, wantApproval) {
		t.Errorf("approval = %+v", isolate.Approval)
	}
	wantRetry := &Retry{MaxAttempts: 5, InitialInterval: Duration(2 * time.Second), BackoffCoefficient: 1.5, MaxInterval: Duration(time.Minute)}
	if !reflect.DeepEqual(isolate.Retry, wantRetry) || isolate.Timeout != Duration(5*time.Minute) || !isolate.ContinueOnError {
		t.Errorf("retry/timeout = %+v %v %v", isolate.Retry, isolate.Timeout, isolate.ContinueOnError)
	}
	if v := isolate.With["dry_run"]; v != false {
		t.Errorf("with.dry_run = %#v", v)
	}
	// An unnamed parallel group gets a stable id that avoids declared ones.
	group := pb.Steps[1]
	if group.Kind != KindParallel || group.ID != "parallel-2-2" || len(group.Parallel) != 2 {
		t.Errorf("group = %+v", group)
	}
	if pb.Steps[3].When != "false" || pb.Steps[3].Wait.Duration != Duration(90*time.Minute) {
		t.Errorf("later = %+v", pb.Steps[3])
	}
	var ids []string
	for _, st := range pb.AllSteps() {
		ids = append(ids, st.ID)
	}
	if got := strings.Join(ids, " "); got != "isolate parallel-2-2 tell ack parallel-2 later" {
		t.Errorf("AllSteps = %s", got)
	}
	if st, ok := pb.Step("ack"); !ok || st.Manual.Role != "commander" {
		t.Errorf("Step(ack) = %+v, %v", st, ok)
	}
	if _, ok := pb.Step("nope"); ok {
		t.Error("Step(nope) found something")
	}
}

func TestParseDefaultsAndNilCatalog(t *testing.T) {
	pb, err := Parse([]byte(`
apiVersion: firebreak/v1
kind: Playbook
metadata: {name: minimal}
steps:
  - id: anything
    action: not.in.any.catalog
    with: {whatever: 1}
    approval: {group: sre}
`), "minimal.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pb.OnFailure != OnFailureStop || pb.Source != "minimal.yaml" {
		t.Errorf("defaults: %+v", pb)
	}
	if a := pb.Steps[0].Approval; a.Min != 1 || a.OnTimeout != OnTimeoutAbort {
		t.Errorf("approval defaults: %+v", a)
	}
}

func TestLoadFilesReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	dup := filepath.Join(dir, "dup.yaml")
	doc := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: same}\nsteps: [{id: a, action: core.noop}]\n"
	for _, p := range []string{good, dup} {
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.yaml")
	_, err := LoadFiles([]string{good, dup, missing}, newTestCatalog())
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("LoadFiles error = %v, want 2 errors", err)
	}
	want := dup + `:3:18: playbook "same" is already defined in ` + good + ":3"
	if list[0].Error() != want {
		t.Errorf("got  %s\nwant %s", list[0], want)
	}
	if list[1].File != missing || list[1].Line != 0 || !strings.HasPrefix(list[1].Error(), missing+": read playbook: ") {
		t.Errorf("missing file error = %v", list[1])
	}
}

func TestParseRejectsSecondDocument(t *testing.T) {
	_, err := Parse([]byte("apiVersion: firebreak/v1\nkind: Playbook\nmetadata: {name: a}\nsteps: [{id: a, action: core.noop}]\n---\nkind: Playbook\n"), "two.yaml", newTestCatalog())
	if err == nil || err.Error() != "two.yaml:5:1: only one YAML document is allowed per playbook file" {
		t.Errorf("err = %v", err)
	}
}

func TestHashIsStable(t *testing.T) {
	pbs, err := LoadDir("library", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	pb := pbs[0]
	h := pb.Hash()
	if len(h) != 64 {
		t.Fatalf("Hash() = %q, want 64 hex digits", h)
	}
	for range 20 {
		if pb.Hash() != h {
			t.Fatal("Hash() changed between calls")
		}
	}
	again, err := LoadDir("library", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Hash() != h {
		t.Error("reloading changed the hash")
	}
	// Through workflow input (JSON) the hash must not change, even though
	// ints come back as float64.
	if roundTrip(t, pb).Hash() != h {
		t.Error("JSON round trip changed the hash")
	}
	// Where it was loaded from and line numbers are not part of the plan.
	moved := *pb
	moved.Source = "/elsewhere/x.yaml"
	moved.Steps = append([]Step(nil), pb.Steps...)
	moved.Steps[0].Line += 10
	if moved.Hash() != h {
		t.Error("Source or Line changed the hash")
	}
	// What it does is.
	changed := *pb
	changed.Steps = append([]Step(nil), pb.Steps...)
	changed.Steps[1].When = "false"
	if changed.Hash() == h {
		t.Error("changing a step did not change the hash")
	}
	calls := *pb
	calls.Calls = map[string]*Playbook{"x": pbs[1]}
	if calls.Hash() == h {
		t.Error("changing Calls did not change the hash")
	}
	// A hand-built cycle does not hang it.
	loop := &Playbook{Metadata: Metadata{Name: "loop"}}
	loop.Calls = map[string]*Playbook{"loop": loop}
	if loop.Hash() == "" {
		t.Error("empty hash")
	}
}

func TestCallee(t *testing.T) {
	pbs, err := LoadDir("library", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	var triage *Playbook
	for _, pb := range pbs {
		if pb.Metadata.Name == "incident-triage" {
			triage = pb
		}
	}
	child, ok := roundTrip(t, triage).Callee("comms-checklist")
	if !ok || child.Metadata.Name != "comms-checklist" || child.Calls == nil {
		t.Fatalf("Callee = %+v, %v", child, ok)
	}
	if _, ok := triage.Callee("nope"); ok {
		t.Error("Callee(nope) found something")
	}
}

func TestDurationRoundTrip(t *testing.T) {
	type holder struct {
		D Duration `json:"d" yaml:"d"`
	}
	for _, tc := range []struct {
		d    time.Duration
		text string
	}{
		{15 * time.Minute, "15m"},
		{2 * time.Second, "2s"},
		{90 * time.Minute, "1h30m"},
		{time.Hour, "1h"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
		{time.Hour + time.Second, "1h0m1s"},
	} {
		h := holder{Duration(tc.d)}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{"d":"`+tc.text+`"}` {
			t.Errorf("JSON of %v = %s", tc.d, b)
		}
		var back holder
		if err := json.Unmarshal(b, &back); err != nil || back != h {
			t.Errorf("JSON round trip of %v = %v, %v", tc.d, back, err)
		}
		y, err := yaml.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if string(y) != "d: "+tc.text+"\n" {
			t.Errorf("YAML of %v = %q", tc.d, y)
		}
		back = holder{}
		if err := yaml.Unmarshal(y, &back); err != nil || back != h {
			t.Errorf("YAML round trip of %v = %v, %v", tc.d, back, err)
		}
	}
	var h holder
	if err := json.Unmarshal([]byte(`{"d":900000000000}`), &h); err != nil || h.D != Duration(15*time.Minute) {
		t.Errorf("JSON nanoseconds = %v, %v", h.D, err)
	}
	for _, bad := range []string{`{"d":"soon"}`, `{"d":"-1s"}`, `{"d":true}`} {
		if err := json.Unmarshal([]byte(bad), &h); err == nil {
			t.Errorf("JSON %s accepted", bad)
		}
	}
	if err := yaml.Unmarshal([]byte("d: [1]\n"), &h); err == nil {
		t.Error("YAML list accepted as a duration")
	}
}

// The whole playbook survives JSON, which is how it reaches the workflow.
func TestPlaybookJSONRoundTrip(t *testing.T) {
	pbs, err := LoadDir("library", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	for _, pb := range pbs {
		b1, err := json.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := json.Marshal(roundTrip(t, pb))
		if err != nil {
			t.Fatal(err)
		}
		if string(b1) != string(b2) {
			t.Errorf("%s: JSON round trip differs:\n%s\n%s", pb.Source, b1, b2)
		}
	}
}

func TestUnconfiguredGroups(t *testing.T) {
	pb, err := Parse([]byte(`apiVersion: firebreak/v1
kind: Playbook
metadata: {name: g}
steps:
  - id: rotate
    action: core.noop
    approval: {group: oncall, timeout: 1m, on_timeout: escalate, escalate: managers}
  - id: isolate
    action: core.noop
    approval: {group: commanders}
`), "g.yaml", newTestCatalog())
	if err != nil {
		t.Fatal(err)
	}
	got := pb.UnconfiguredGroups(map[string][]string{"commanders": {"alice"}, "managers": {"U0EM"}})
	want := []string{`g.yaml:5:5: warning: step "rotate": approval.group "oncall" is not configured (access.groups.oncall in firebreak.yaml), so it adds nobody to the approvers`}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := pb.UnconfiguredGroups(nil); len(got) != 3 {
		t.Fatalf("with no configuration every group is unconfigured: %q", got)
	}
}
