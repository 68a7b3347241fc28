package activities_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/firebreak-ir/firebreak/activities"
	"github.com/firebreak-ir/firebreak/playbooks"
)

// The playbooks package loads the shipped library against a copy of the registered actions'
// specs (it cannot import this package); this keeps the copy current. FIREBREAK_UPDATE=1
// rewrites it.
func TestShippedActionsFile(t *testing.T) {
	const file = "../playbooks/testdata/shipped-actions.json"
	reg, err := activities.NewRegistry(slices.Concat(activities.CoreActions(), activities.AWSActions(nil), activities.SlackActions(nil))...)
	if err != nil {
		t.Fatal(err)
	}
	var specs []playbooks.ActionSpec
	for _, name := range reg.ActionNames() {
		s, _ := reg.LookupAction(name)
		specs = append(specs, s)
	}
	want, err := json.MarshalIndent(specs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("FIREBREAK_UPDATE") == "1" {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != string(want) {
		t.Fatalf("%s is not the registry's specs (%v): run FIREBREAK_UPDATE=1 go test ./activities -run TestShippedActionsFile", file, err)
	}
}
