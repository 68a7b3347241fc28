package slackfake

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// methodScopes is the bot-token scopes each Web API method the fake
// serves requires, from Slack's method reference
// (https://docs.slack.dev/reference/methods/<method>). Each inner list
// is one requirement, met by any of its scopes (Slack's newer granular
// scope first, the broad one last). conversations.* methods require the
// public-channel and the private-channel scope: Firebreak's incident
// channels are either, and a mention or a declare can come from both.
// Direct messages (im:*, mpim:*) are left out: the bot never creates
// them, and where it reads one (a declare from a DM) it treats
// missing_scope as "nothing posted yet".
var methodScopes = map[string][][]string{
	"auth.test":             nil, // no scope required
	"apps.connections.open": nil, // app-level token with connections:write, not a bot scope

	"chat.postMessage":   {{"chat:write"}},
	"chat.update":        {{"chat:write"}},
	"chat.postEphemeral": {{"chat:write"}},
	"chat.getPermalink":  nil, // no scope required

	"conversations.create":     {{"channels:manage"}, {"groups:write"}},
	"conversations.invite":     {{"channels:manage"}, {"groups:write"}},
	"conversations.setTopic":   {{"channels:write.topic", "channels:manage"}, {"groups:write.topic", "groups:write"}},
	"conversations.setPurpose": {{"channels:write.topic", "channels:manage"}, {"groups:write.topic", "groups:write"}},
	"conversations.join":       {{"channels:join"}},
	"conversations.info":       {{"channels:read"}, {"groups:read"}},
	"conversations.members":    {{"channels:read"}, {"groups:read"}},
	"conversations.history":    {{"channels:history"}, {"groups:history"}},
	"conversations.replies":    {{"channels:history"}, {"groups:history"}},

	"files.getUploadURLExternal":   {{"files:write"}},
	"files.completeUploadExternal": {{"files:write"}},

	"usergroups.list":       {{"usergroups:read"}},
	"usergroups.users.list": {{"usergroups:read"}},

	"users.info":          {{"users:read"}},
	"users.list":          {{"users:read"}},
	"users.lookupByEmail": {{"users:read.email"}, {"users:read"}},
}

// BotScopes returns the scope requirements of a Web API method for a bot
// token (each met by any one of its scopes) and whether the table knows
// the method at all.
func BotScopes(method string) ([][]string, bool) {
	need, ok := methodScopes[method]
	out := make([][]string, len(need))
	for i, alts := range need {
		out[i] = slices.Clone(alts)
	}
	return out, ok
}

// CheckScopes compares the Web API methods a bot called with the bot
// scopes its app manifest grants and returns what is wrong, sorted: a
// method the table does not know, a method whose requirement no granted
// scope meets, and, when complete (every test ran, so called is every
// method the bot calls), a granted scope that no called method needs
// and exempt does not explain. exempt maps a scope granted for something
// other than a Web API method (a slash command, an event) to that reason.
func CheckScopes(called, granted []string, exempt map[string]string, complete bool) []string {
	var problems []string
	used := map[string]bool{}
	for _, m := range called {
		need, ok := methodScopes[m]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: called, but its scopes are not in slackfake's table (look it up in Slack's method reference)", m))
			continue
		}
		for _, alts := range need {
			i := slices.IndexFunc(alts, func(s string) bool { return slices.Contains(granted, s) })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("%s: called, but the manifest grants none of %s", m, strings.Join(alts, ", ")))
				continue
			}
			used[alts[i]] = true
		}
	}
	if complete {
		for _, s := range granted {
			if !used[s] && exempt[s] == "" {
				problems = append(problems, fmt.Sprintf("%s: granted by the manifest, but no called method needs it", s))
			}
		}
	}
	for _, s := range slices.Sorted(maps.Keys(exempt)) {
		if !slices.Contains(granted, s) {
			problems = append(problems, fmt.Sprintf("%s: exempt (%s), but the manifest does not grant it", s, exempt[s]))
		}
	}
	slices.Sort(problems)
	return problems
}
