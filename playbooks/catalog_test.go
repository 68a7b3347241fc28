package playbooks

import (
	"encoding/json"
	"os"
	"slices"
)

// testCatalog is the action registry the tests load against: the core
// actions the library uses, plus invented ones for parameter checks.
type testCatalog map[string]ActionSpec

func newTestCatalog() testCatalog {
	c := testCatalog{}
	for _, s := range []ActionSpec{
		{Name: "core.log", Params: []Param{
			{Name: "message", Type: "string", Required: true},
			{Name: "level", Type: "string"},
		}},
		{Name: "core.noop"},
		{Name: "core.fail", Params: []Param{{Name: "message", Type: "string"}}},
		{Name: "test.isolate", Params: []Param{
			{Name: "instance_id", Type: "string", Required: true},
			{Name: "quarantine_group", Type: "string"},
			{Name: "dry_run", Type: "bool"},
			{Name: "wait", Type: "duration"},
			{Name: "tags", Type: "map"},
		}},
		{Name: "test.release", Params: []Param{
			{Name: "instance_id", Type: "string", Required: true},
		}},
		{Name: "test.page", Params: []Param{
			{Name: "targets", Type: "list", Required: true},
			{Name: "urgency", Type: "int"},
		}},
	} {
		c[s.Name] = s
	}
	// The shipped actions, as activities registers them; activities' TestShippedActionsFile
	// keeps the file current.
	b, err := os.ReadFile(shippedActionsFile)
	if err != nil {
		panic(err)
	}
	var shipped []ActionSpec
	if err := json.Unmarshal(b, &shipped); err != nil {
		panic(err)
	}
	for _, s := range shipped {
		if _, ok := c[s.Name]; !ok {
			c[s.Name] = s
		}
	}
	return c
}

// shippedActionsFile lists the action specs the binary registers, so the library's playbooks
// load here without importing activities (which imports this package).
const shippedActionsFile = "testdata/shipped-actions.json"

func (c testCatalog) LookupAction(name string) (ActionSpec, bool) {
	s, ok := c[name]
	return s, ok
}

func (c testCatalog) ActionNames() []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
