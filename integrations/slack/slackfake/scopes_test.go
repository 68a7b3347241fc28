package slackfake_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

func TestCheckScopes(t *testing.T) {
	exempt := map[string]string{"commands": "/incident"}
	cases := []struct {
		name     string
		called   []string
		granted  []string
		complete bool
		want     []string // substrings, one per problem, in order
	}{
		{"all met", []string{"chat.postMessage", "auth.test"}, []string{"chat:write", "commands"}, true, nil},
		{"missing scope", []string{"files.getUploadURLExternal"}, []string{"commands"}, false,
			[]string{"files.getUploadURLExternal: called, but the manifest grants none of files:write"}},
		{"private variant missing", []string{"conversations.create"}, []string{"channels:manage", "commands"}, false,
			[]string{"conversations.create: called, but the manifest grants none of groups:write"}},
		{"granular alternative", []string{"conversations.setTopic"}, []string{"channels:write.topic", "groups:write", "commands"}, true, nil},
		{"unknown method", []string{"admin.teams.list"}, []string{"commands"}, false,
			[]string{"admin.teams.list: called, but its scopes are not in slackfake's table"}},
		{"unused scope", []string{"chat.postMessage"}, []string{"chat:write", "users:read", "commands"}, true,
			[]string{"users:read: granted by the manifest, but no called method needs it"}},
		{"unused scope not judged on a partial run", []string{"chat.postMessage"}, []string{"chat:write", "users:read", "commands"}, false, nil},
		{"exempt scope not granted", nil, nil, false,
			[]string{"commands: exempt (/incident), but the manifest does not grant it"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := slackfake.CheckScopes(tc.called, tc.granted, exempt, tc.complete)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d like %q", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestScopeTableCoversTheFake: every method the fake serves has a row in
// the scope table, so a test that calls it can be checked.
func TestScopeTableCoversTheFake(t *testing.T) {
	fake, _ := newFake(t)
	for _, m := range []string{"auth.test", "conversations.create", "conversations.invite", "conversations.setTopic",
		"conversations.setPurpose", "conversations.info", "conversations.join", "conversations.members",
		"conversations.history", "conversations.replies", "chat.postMessage", "chat.update", "chat.postEphemeral",
		"chat.getPermalink", "usergroups.list", "usergroups.users.list", "users.info", "users.list",
		"users.lookupByEmail", "files.getUploadURLExternal", "files.completeUploadExternal", "apps.connections.open"} {
		if _, ok := slackfake.BotScopes(m); !ok {
			t.Errorf("%s: no row in the scope table", m)
		}
		if got := callRaw(t, fake, m); got == "unknown_method" {
			t.Errorf("%s: listed here but the fake does not serve it", m)
		}
	}
	if got := fake.CallCounts()["auth.test"]; got != 1 {
		t.Errorf("CallCounts()[auth.test] = %d, want 1", got)
	}
	counts := fake.CallCounts()
	counts["auth.test"] = 99 // a copy: the fake's count must not change
	if got := fake.Calls("auth.test"); got != 1 {
		t.Errorf("Calls(auth.test) after changing the copy = %d, want 1", got)
	}
}

func TestRevokeToken(t *testing.T) {
	fake, api := newFake(t)
	if _, err := api.AuthTest(); err != nil {
		t.Fatal(err)
	}
	fake.RevokeToken(slackfake.DefaultBotToken)
	_, err := api.AuthTest()
	wantSlackError(t, err, "token_revoked")

	apps := slack.New(slackfake.DefaultBotToken, slack.OptionAPIURL(fake.URL()), slack.OptionAppLevelToken(slackfake.DefaultAppToken))
	if _, _, err := apps.StartSocketModeContext(context.Background()); err != nil {
		t.Fatalf("apps.connections.open before revoking the app token: %v", err)
	}
	fake.RevokeToken(slackfake.DefaultAppToken)
	_, _, err = apps.StartSocketModeContext(context.Background())
	wantSlackError(t, err, "token_revoked")
	if fake.Calls("apps.connections.open") != 2 {
		t.Errorf("apps.connections.open calls = %d, want 2", fake.Calls("apps.connections.open"))
	}
}

// callRaw calls a Web API method with the bot token and no arguments and
// returns Slack's error code ("" when ok).
func callRaw(t *testing.T, fake *slackfake.Server, method string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fake.URL()+method, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+slackfake.DefaultBotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return body.Error
}
