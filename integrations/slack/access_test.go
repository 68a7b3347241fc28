package slack

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/config"
	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
	"github.com/firebreak-ir/firebreak/workflows"
	"github.com/firebreak-ir/firebreak/workflows/policy"
)

func accessBot(t *testing.T, access config.Access) (*Bot, *slackfake.Server) {
	t.Helper()
	fake := slackfake.New(slackfake.WithBotTokens("xoxb-access"))
	t.Cleanup(fake.Close)
	fake.AddUserGroup("S0SRE", "sre", "U0SRE")
	api := goslack.New("xoxb-access", goslack.OptionAPIURL(fake.URL()))
	return &Bot{o: Options{Access: access, Groups: &Groups{API: api, Static: access.Groups}, Log: slog.New(slog.DiscardHandler)}}, fake
}

// A responder list given as a Slack user group is resolved through Slack;
// when Slack does not answer, the person is told to retry, not refused as
// if they were not allowed.
func TestAllowResolvesUserGroupsAndSaysWhenItCannot(t *testing.T) {
	b, fake := accessBot(t, config.Access{Responders: []string{"S0SRE"}, Commanders: []string{"U0IC"}})
	st := &workflows.IncidentState{Key: "INC-2026-0042", Channel: "C0INC", Roles: map[string]string{}}
	req := asker{User: "U0SRE", Channel: "C0INC"}
	a, why := b.allow(context.Background(), policy.Run, req, st)
	if why != "" || a.Origin != policy.OriginSlack || len(a.Holds) != 1 || a.Holds[0] != policy.Responders {
		t.Fatalf("member of the responders' user group: actor %+v, refusal %q", a, why)
	}
	_, why = b.allow(context.Background(), policy.Run, asker{User: "U0OTHER", Channel: "C0INC"}, st)
	if why != "You are not allowed to run playbooks here. Ask <!subteam^S0SRE> <@U0IC>." {
		t.Fatalf("outsider: %q", why)
	}
	fake.InjectError("usergroups.users.list", "internal_error", 5)
	b.o.Groups = &Groups{API: b.o.Groups.API} // no cached members
	_, why = b.allow(context.Background(), policy.Run, req, st)
	if !strings.Contains(why, "Could not check who may do that") || !strings.Contains(why, "try again") {
		t.Fatalf("Slack down: %q", why)
	}
}

// The bot proves the incident's commander to runs, which cannot know it.
func TestAllowProvesTheIncidentCommander(t *testing.T) {
	b, _ := accessBot(t, config.Access{Commanders: []string{"U0CMD"}})
	st := &workflows.IncidentState{Key: "INC-2026-0042", Channel: "C0INC", Roles: map[string]string{workflows.RoleCommander: "U0IC"}}
	a, why := b.allow(context.Background(), policy.Abort, asker{User: "U0IC", Channel: "C0INC"}, st)
	if why != "" || !slices.Contains(a.Holds, policy.IncidentCommander) {
		t.Fatalf("incident commander: actor %+v, refusal %q", a, why)
	}
	_, why = b.allow(context.Background(), policy.Abort, asker{User: "U0X", Channel: "C0INC"}, st)
	if why != "You are not allowed to abort runs here. Ask <@U0CMD> or the incident commander <@U0IC>." {
		t.Fatalf("outsider: %q", why)
	}
}
