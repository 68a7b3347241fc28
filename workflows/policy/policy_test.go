package policy

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// people are the kinds of person the table is tried with. Each holds what
// the bot would prove for them with every access list configured.
var people = map[string]Actor{
	"stranger":   {User: "U0STRANGER"},
	"declarer":   {User: "U0DECL", Holds: []Principal{Declarers}},
	"noter":      {User: "U0NOTE", Holds: []Principal{Noters}},
	"responder":  {User: "U0RESP", Holds: []Principal{Declarers, Noters, Responders}},
	"commander":  {User: "U0CMD", Holds: []Principal{Declarers, Noters, Responders, Commanders}},
	"incident-c": {User: "U0IC"}, // holds the incident's commander role only
}

// allowed is written out by hand, not derived from Rules, so a changed rule
// fails here.
var allowed = map[Op][]string{
	Declare:         {"declarer", "responder", "commander"},
	DeclarePlaybook: {"responder", "commander"},
	List:            {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
	Run:             {"responder", "commander", "incident-c"},
	Plan:            {"responder", "commander", "incident-c"},
	Note:            {"noter", "responder", "commander", "incident-c"},
	Severity:        {"responder", "commander", "incident-c"},
	Status:          {"responder", "commander", "incident-c"},
	RoleScribe:      {"responder", "commander", "incident-c"},
	RoleComms:       {"responder", "commander", "incident-c"},
	RoleCommander:   {"commander", "incident-c"},
	Done:            {"responder", "commander", "incident-c"},
	ExtendWait:      {"responder", "commander", "incident-c"},
	Abort:           {"commander", "incident-c"},
	Resolve:         {"commander", "incident-c"},
	// Everyone reaches the run, which checks the approver group itself.
	Approve:      {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
	Reject:       {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
	ReadStatus:   {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
	ReadTimeline: {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
	ReadPlan:     {"stranger", "declarer", "noter", "responder", "commander", "incident-c"},
}

const bound = "C0BOUND"

func TestEveryOperationIsInTheTable(t *testing.T) {
	var ops []Op
	for _, r := range Rules() {
		ops = append(ops, r.Op)
		if _, ok := allowed[r.Op]; !ok {
			t.Errorf("rule %q has no expectation in this test", r.Op)
		}
	}
	for op := range allowed {
		if !slices.Contains(ops, op) {
			t.Errorf("expected operation %q has no rule", op)
		}
	}
}

func TestPolicyTable(t *testing.T) {
	channels := map[string]struct {
		from  string // channel the request comes from
		bound string // channel bound to the incident
	}{
		"own channel":   {bound, bound},
		"other channel": {"C0LOOKALIKE", bound},
		"no channel":    {"C0LOOKALIKE", ""},
	}
	for _, rule := range Rules() {
		for who, base := range people {
			for where, ch := range channels {
				t.Run(fmt.Sprintf("%s/%s/%s", rule.Op, who, where), func(t *testing.T) {
					a := base
					a.Origin, a.Channel = OriginSlack, ch.from
					inc := &Incident{Key: "INC-2026-0042", Commander: "U0IC", KnowsCommander: true, Channel: ch.bound}
					err := Decide(rule.Op, a, inc)
					wantPerson := slices.Contains(allowed[rule.Op], who)
					wantChannel := rule.Scope == Workspace || where == "own channel"
					switch {
					case wantPerson && wantChannel:
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
					case !wantChannel:
						want := "this is not INC-2026-0042's channel; use <#C0BOUND>"
						if where == "no channel" {
							want = "INC-2026-0042 has no Slack channel yet; wait for it, or use the firebreak CLI"
						}
						if err == nil || err.Error() != want {
							t.Fatalf("got %v, want %q", err, want)
						}
					default:
						var ref *Refusal
						if !errors.As(err, &ref) || !strings.HasPrefix(ref.Reason, "you are not allowed to ") || len(ref.Need) == 0 {
							t.Fatalf("got %v, want a refusal naming who may", err)
						}
					}
				})
			}
		}
	}
}

func TestPrivateIncidentRefusesOtherChannelsWithoutNamingIt(t *testing.T) {
	inc := &Incident{Key: "INC-2026-0007", Channel: "G0SECRET", Private: true}
	err := Decide(ReadTimeline, Actor{User: "U0X", Origin: OriginSlack, Channel: "C0ELSE"}, inc)
	if err == nil || strings.Contains(err.Error(), "G0SECRET") || !strings.Contains(err.Error(), "private") {
		t.Fatalf("got %v", err)
	}
}

func TestOperatorSkipsChannelButNotIncidentFacts(t *testing.T) {
	inc := &Incident{Key: "INC-2026-0042", Commander: "U0IC", KnowsCommander: true}
	op := Actor{User: "alice", Origin: OriginCLI}
	for _, o := range []Op{Run, Abort, Resolve, RoleCommander, ReadTimeline} {
		if err := Decide(o, op, inc); err != nil {
			t.Errorf("%s from the CLI: %v", o, err)
		}
	}
	// A Slack request that forgot its origin is still a Slack request.
	if err := Decide(Run, Actor{User: "U0X", Channel: "C0ELSE", Holds: []Principal{Responders}}, &Incident{Key: "K", Channel: bound}); err == nil {
		t.Fatal("a request with a channel skipped the channel check")
	}
	if err := Decide(Run, Actor{Origin: OriginCLI}, inc); err == nil {
		t.Fatal("a request without identity was allowed")
	}
}

func TestIncidentCommanderClaim(t *testing.T) {
	a := Actor{User: "U0NEW", Origin: OriginSlack, Channel: bound, Holds: []Principal{IncidentCommander}}
	// The incident knows its commander and ignores the claim.
	if err := Decide(Abort, a, &Incident{Key: "K", Channel: bound, Commander: "U0OLD", KnowsCommander: true}); err == nil {
		t.Fatal("the incident accepted a commander claim it knows to be false")
	}
	// A run does not know; it takes the bot's proof.
	if err := Decide(Abort, a, &Incident{Key: "K", Channel: bound}); err != nil {
		t.Fatalf("run refused a proven commander: %v", err)
	}
	a.Holds = nil
	if err := Decide(Abort, a, &Incident{Key: "K", Channel: bound}); err == nil {
		t.Fatal("run allowed an abort without proof")
	}
}

func TestListsHolds(t *testing.T) {
	member := func(m ...string) Contains {
		return func(entries []string, user string) (bool, error) {
			for _, e := range entries {
				if slices.Contains(m, e) && e == user {
					return true, nil
				}
			}
			return false, nil
		}
	}
	cases := []struct {
		name  string
		lists Lists
		op    Op
		user  string
		want  []Principal
	}{
		{"empty lists open declaring", Lists{}, Declare, "U1", []Principal{Declarers}},
		{"empty responders admit everyone", Lists{}, Run, "U1", []Principal{Responders}},
		{"configured responders", Lists{Responders: []string{"U2"}}, Run, "U1", nil},
		{"commanders are responders", Lists{Responders: []string{"U2"}, Commanders: []string{"U1"}}, Run, "U1", []Principal{Responders}},
		{"no commanders: responders command", Lists{Responders: []string{"U1"}}, Abort, "U1", []Principal{Commanders}},
		{"commanders configured", Lists{Responders: []string{"U1"}, Commanders: []string{"U9"}}, Abort, "U1", nil},
		{"declare with a playbook needs both", Lists{Responders: []string{"U2"}}, DeclarePlaybook, "U1", []Principal{Declarers}},
		{"restricted declare", Lists{Declare: []string{"U2"}}, Declare, "U1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.lists.Holds(c.op, c.user, member("U1", "U2", "U9"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("holds %v, want %v", got, c.want)
			}
		})
	}
	// And the decision that follows: a declare with a playbook by a
	// declarer who is not a responder is refused (issue item 1).
	held, _ := Lists{Responders: []string{"U2"}}.Holds(DeclarePlaybook, "U1", member("U1", "U2"))
	err := Decide(DeclarePlaybook, Actor{User: "U1", Origin: OriginSlack, Channel: "C0GEN", Holds: held}, nil)
	if err == nil || err.Error() != "you are not allowed to run playbooks" {
		t.Fatalf("got %v", err)
	}
}

// TestReadmeTableMatchesThePolicy keeps README's "Who may do what" table
// in step with Rules: every operation, its scope and whom it admits.
func TestReadmeTableMatchesThePolicy(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start, end := strings.Index(text, "<!-- policy-table -->"), strings.Index(text, "<!-- /policy-table -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no policy table markers")
	}
	names := map[Principal]string{
		Everyone: "everyone", Declarers: "declarers", Noters: "noters", Responders: "responders",
		Commanders: "commanders", IncidentCommander: "incident commander", Approvers: "approvers",
	}
	var want []string
	for _, r := range Rules() {
		from := "the incident's channel"
		if r.Scope == Workspace {
			from = "any channel"
		}
		var who []string
		for _, p := range r.Allow {
			who = append(who, names[p])
		}
		allowed := strings.Join(who, ", ")
		if r.Also != "" {
			also, _ := RuleFor(r.Also)
			allowed += " who may also " + also.What
		}
		want = append(want, fmt.Sprintf("| %s | %s | %s |", r.Op, from, allowed))
	}
	var got []string
	for _, line := range strings.Split(text[start:end], "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| operation") {
			got = append(got, line)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("README policy table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
