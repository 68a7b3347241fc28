package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-ir/firebreak/integrations/slack/slackfake"
)

// TestSlackLongPlanIsUploaded: the full text of a long plan arrives as a
// file in its message's thread, linked from the message (the files:write
// scope).
func TestSlackLongPlanIsUploaded(t *testing.T) {
	lib := t.TempDir()
	var steps strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&steps, "  - id: step-%02d\n    action: core.log\n    with: {message: \"check shard %02d\"}\n", i, i)
	}
	playbook := "apiVersion: firebreak/v1\nkind: Playbook\nmetadata:\n  name: long-check\n  title: Check every shard\ninputs: {}\nsteps:\n" + steps.String()
	if err := os.WriteFile(filepath.Join(lib, "long-check.yaml"), []byte(playbook), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startSlackDevWith(t, "access:\n  responders: [U0DECL]\n", "FIREBREAK_PLAYBOOKS="+lib)
	e.fake.AddChannel("C0GENERAL", "general", slackfake.Members(e.fake.BotUserID()))
	e.command("U0DECL", "C0GENERAL", "general", `declare "Shards are slow" sev3`, "trig-long-declare", nil)
	ch := e.boundChannel("Shards are slow")
	out := e.command("U0DECL", ch.ID, ch.Name, "run long-check", "trig-long-run", nil)
	if !strings.Contains(out["text"].(string), "started `long-check`") {
		t.Fatalf("run reply: %v", out)
	}

	// The message links the full plan once the file is in its thread.
	plan := e.messageWith(ch.ID, "|full plan")
	var file slackfake.File
	waitFor(t, func() bool {
		i := slices.IndexFunc(e.fake.Files(), func(f slackfake.File) bool { return slices.Contains(f.Channels, ch.ID) })
		if i >= 0 {
			file = e.fake.Files()[i]
		}
		return i >= 0
	})
	for _, want := range []string{"Plan of long-check", "1. step-01: ", "20. step-20: ", "check shard 20"} {
		if !strings.Contains(string(file.Content), want) {
			t.Errorf("uploaded plan lacks %q:\n%s", want, file.Content)
		}
	}
	thread := slices.IndexFunc(e.fake.Messages(ch.ID), func(m slackfake.Message) bool {
		return m.ThreadTS == plan.TS && slices.Contains(m.Files, file.ID)
	})
	if thread < 0 {
		t.Errorf("the plan file %s is not in the plan message's thread (ts %s)", file.ID, plan.TS)
	}
	e.assertNoSecrets()
}
