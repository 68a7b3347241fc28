package test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

// manifestPath is the Slack app manifest users paste into Slack.
const manifestPath = "../integrations/slack/manifest.yaml"

// scopesForNoMethod are the manifest's bot scopes that no Web API method
// needs, with why the bot has them anyway.
var scopesForNoMethod = map[string]string{
	"commands":          "the /incident slash command and the message shortcut",
	"app_mentions:read": "the app_mention event (@firebreak status)",
	"chat:write.public": "chat.postMessage to a public channel the bot is not in: the announce channel, the channel a declare came from",
}

// callLog adds up the Web API calls of every fake Slack the package's
// tests start, so TestMain can hold them against the manifest.
type callLog struct {
	mu    sync.Mutex
	calls map[string]int
}

func (l *callLog) add(counts map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	for m, n := range counts {
		l.calls[m] += n
	}
}

func (l *callLog) methods() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.calls))
}

// newSlackFake starts a fake Slack for one test; its calls count towards
// the manifest check when the test ends.
func newSlackFake(tb testing.TB, opts ...slackfake.Option) *slackfake.Server {
	tb.Helper()
	fake := slackfake.New(opts...)
	tb.Cleanup(func() {
		fake.Close()
		slackCalls.add(fake.CallCounts())
	})
	return fake
}

// checkManifestScopes holds the methods the tests saw the bot call
// against the manifest's bot scopes. A scope the manifest lacks is an
// error whatever ran; a scope nothing used only when every test ran
// (a -run or -skip subset calls fewer methods).
func checkManifestScopes(l *callLog) error {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	var m struct {
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	complete := flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == ""
	problems := slackfake.CheckScopes(l.methods(), m.OAuth.Scopes.Bot, scopesForNoMethod, complete)
	if len(problems) == 0 {
		return nil
	}
	msg := manifestPath + " does not match the Web API methods the bot called in these tests:"
	for _, p := range problems {
		msg += "\n\t" + p
	}
	return fmt.Errorf("%s\ncalled: %v", msg, l.methods())
}
