package workflows

import (
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/workflows/policy"
)

// TestRunAbortNeedsCommanderRights: a run cannot know the incident's
// current commander, so a Slack abort needs the bot's proof of commander
// rights (configured, or holding the role), from the run's channel.
func TestRunAbortNeedsCommanderRights(t *testing.T) {
	pb := load(t, approvalPlaybook)
	r := newRun(PlaybookInput{Playbook: pb, Requester: "U_REQ", Slack: &RunSlack{Channel: "C0INC"}, Incident: map[string]any{"key": "INC-2026-0042"}})
	r.cancel = func() {}
	abort := func(holds ...policy.Principal) AbortRequest {
		return AbortRequest{Actor: "U1", Origin: "slack", Channel: "C0INC", Holds: holds}
	}
	for _, c := range []struct {
		name string
		req  AbortRequest
		want string
	}{
		{"responder", abort(policy.Responders), "you are not allowed to abort runs"},
		{"claimed nothing", abort(), "you are not allowed to abort runs"},
		{"commander from a look-alike", func() AbortRequest { a := abort(policy.Commanders); a.Channel = "C0FAKE"; return a }(), "this is not INC-2026-0042's channel; use <#C0INC>"},
		{"commander", abort(policy.Commanders), ""},
		{"incident commander", abort(policy.IncidentCommander), ""},
		{"operator", AbortRequest{Actor: "alice", Origin: "cli"}, ""},
	} {
		err := r.validateAbort(nil, c.req)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: want %q, got %v", c.name, c.want, err)
		}
	}
}
