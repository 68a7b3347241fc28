package slack

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text string
		want Command
	}{
		{"", Command{Verb: VerbHelp}},
		{"  ", Command{Verb: VerbHelp}},
		{"help", Command{Verb: VerbHelp}},
		{"HELP", Command{Verb: VerbHelp}},
		{"status", Command{Verb: VerbStatus}},
		{"Timeline", Command{Verb: VerbTimeline}},
		{"list ", Command{Verb: VerbList}},

		// declare: quoted titles, straight or curly.
		{`declare "DB down"`, Command{Verb: VerbDeclare, Title: "DB down", Severity: "SEV3"}},
		{`declare "DB down" sev1`, Command{Verb: VerbDeclare, Title: "DB down", Severity: "SEV1"}},
		{`declare “DB down” SEV2`, Command{Verb: VerbDeclare, Title: "DB down", Severity: "SEV2"}},
		{`declare “DB down“ sev 4`, Command{Verb: VerbDeclare, Title: "DB down", Severity: "SEV4"}},
		{`declare „DB down” Sev-1`, Command{Verb: VerbDeclare, Title: "DB down", Severity: "SEV1"}},
		{`declare "Tom &amp; Jerry &lt;3" sev2`, Command{Verb: VerbDeclare, Title: "Tom & Jerry <3", Severity: "SEV2"}},
		{`declare "sev1 in prod"`, Command{Verb: VerbDeclare, Title: "sev1 in prod", Severity: "SEV3"}},
		{`declare "Key leak" sev1 aws-key-rotation access_key_id=AKIA1 note="rotate now"`, Command{
			Verb: VerbDeclare, Title: "Key leak", Severity: "SEV1", Playbook: "aws-key-rotation",
			Inputs: []KV{{"access_key_id", "AKIA1"}, {"note", "rotate now"}},
		}},
		// A playbook may follow a quoted title without a severity.
		{`declare "Key leak" aws-key-rotation`, Command{Verb: VerbDeclare, Title: "Key leak", Severity: "SEV3", Playbook: "aws-key-rotation"}},
		{`declare "Key leak"aws-key-rotation`, Command{Verb: VerbDeclare, Title: "Key leak", Severity: "SEV3", Playbook: "aws-key-rotation"}},
		// declare: unquoted titles end at the severity.
		{"declare DB is down", Command{Verb: VerbDeclare, Title: "DB is down", Severity: "SEV3"}},
		{"declare DB is down sev1", Command{Verb: VerbDeclare, Title: "DB is down", Severity: "SEV1"}},
		{"declare DB is down sev 2", Command{Verb: VerbDeclare, Title: "DB is down", Severity: "SEV2"}},
		{"declare  DB   is down  SEV1  ec2-containment  instance_id=i-1", Command{
			Verb: VerbDeclare, Title: "DB   is down", Severity: "SEV1", Playbook: "ec2-containment",
			Inputs: []KV{{"instance_id", "i-1"}},
		}},
		{`declare Bob's "prod" box sev2`, Command{Verb: VerbDeclare, Title: `Bob's "prod" box`, Severity: "SEV2"}},
		{`declare 5" screen cracked`, Command{Verb: VerbDeclare, Title: `5" screen cracked`, Severity: "SEV3"}},
		{"declare Tom &amp; Jerry &lt;3 sev4", Command{Verb: VerbDeclare, Title: "Tom & Jerry <3", Severity: "SEV4"}},
		{"declare paged <@U1ABC|al> about it sev3", Command{Verb: VerbDeclare, Title: "paged <@U1ABC|al> about it", Severity: "SEV3"}},
		{"declare fix sev scoring", Command{Verb: VerbDeclare, Title: "fix sev scoring", Severity: "SEV3"}},
		{"DECLARE x SEV1", Command{Verb: VerbDeclare, Title: "x", Severity: "SEV1"}},
		// declare: `private` right after the severity or a quoted title.
		{`declare "Insider" sev1 private`, Command{Verb: VerbDeclare, Title: "Insider", Severity: "SEV1", Private: true}},
		{`declare "Insider" PRIVATE`, Command{Verb: VerbDeclare, Title: "Insider", Severity: "SEV3", Private: true}},
		{"declare Insider on payroll sev2 private hr-triage who=U1", Command{
			Verb: VerbDeclare, Title: "Insider on payroll", Severity: "SEV2", Private: true, Playbook: "hr-triage", Inputs: []KV{{"who", "U1"}},
		}},
		{"declare private repo leaked", Command{Verb: VerbDeclare, Title: "private repo leaked", Severity: "SEV3"}},

		{"run ec2-containment", Command{Verb: VerbRun, Playbook: "ec2-containment"}},
		{`run ec2-containment instance_id=i-0abc account=prod`, Command{
			Verb: VerbRun, Playbook: "ec2-containment", Inputs: []KV{{"instance_id", "i-0abc"}, {"account", "prod"}},
		}},
		{`RUN restore db="orders main" "why=it&amp;s broken" empty= smart=“a b”`, Command{
			Verb: VerbRun, Playbook: "restore",
			Inputs: []KV{{"db", "orders main"}, {"why", "it&s broken"}, {"empty", ""}, {"smart", "a b"}},
		}},
		{`run notify owner=<@U1ABC|al> url=<https://x.example/a b|x>`, Command{
			Verb: VerbRun, Playbook: "notify", Inputs: []KV{{"owner", "<@U1ABC|al>"}, {"url", "<https://x.example/a b|x>"}},
		}},
		{"plan restore-backup database=orders", Command{Verb: VerbPlan, Playbook: "restore-backup", Inputs: []KV{{"database", "orders"}}}},

		{"sev 1", Command{Verb: VerbSev, Severity: "SEV1"}},
		{"sev sev2", Command{Verb: VerbSev, Severity: "SEV2"}},
		{"Sev SEV3", Command{Verb: VerbSev, Severity: "SEV3"}},
		{"sev sev 4", Command{Verb: VerbSev, Severity: "SEV4"}},
		{"sev sev-1", Command{Verb: VerbSev, Severity: "SEV1"}},

		{"role commander <@U123ABC>", Command{Verb: VerbRole, Role: RoleCommander, User: "U123ABC"}},
		{"role Scribe <@W0DEF|bob>", Command{Verb: VerbRole, Role: RoleScribe, User: "W0DEF"}},
		{"role comms <@U9XY|mary jane>", Command{Verb: VerbRole, Role: RoleComms, User: "U9XY"}},

		{"note rolled back deploy 1234", Command{Verb: VerbNote, Text: "rolled back deploy 1234"}},
		{`note  told <@U1ABC> &amp; &lt;@U2&gt; "quoted"  `, Command{Verb: VerbNote, Text: `told <@U1ABC> & <@U2> "quoted"`}},
		{"resolve", Command{Verb: VerbResolve}},
		{"resolve rolled back; root cause TBD", Command{Verb: VerbResolve, Text: "rolled back; root cause TBD"}},
		{"abort", Command{Verb: VerbAbort}},
		{"abort wrong instance", Command{Verb: VerbAbort, Text: "wrong instance"}},
		{"approve isolate", Command{Verb: VerbApprove, Step: "isolate"}},
		{"approve rotate_key-2", Command{Verb: VerbApprove, Step: "rotate_key-2"}},
		{"reject isolate", Command{Verb: VerbReject, Step: "isolate"}},
		{"reject isolate wrong box &gt; use i-2", Command{Verb: VerbReject, Step: "isolate", Text: "wrong box > use i-2"}},
		{"done collect-evidence", Command{Verb: VerbDone, Step: "collect-evidence"}},
		{"status Contained", Command{Verb: VerbStatus, Text: "contained"}},
		{"DONE ack image &amp; logs saved", Command{Verb: VerbDone, Step: "ack", Text: "image & logs saved"}},
		{"extend hold 24h", Command{Verb: VerbExtend, Step: "hold", By: "24h"}},
		{"extend hold 2d attack still going &lt;3", Command{Verb: VerbExtend, Step: "hold", By: "48h", Text: "attack still going <3"}},
		{"Extend unblock-later 1h30m", Command{Verb: VerbExtend, Step: "unblock-later", By: "1h30m"}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.text)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tt.text, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q)\n got %+v\nwant %+v", tt.text, got, tt.want)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	const (
		see      = "\nSee `/incident help` for all commands."
		declare  = "\nUsage: `/incident declare \"&lt;title&gt;\" [sev1-sev4] [private] [playbook key=value ...]`" + see
		run      = "\nUsage: `/incident run &lt;playbook&gt; [key=value ...]`" + see
		plan     = "\nUsage: `/incident plan &lt;playbook&gt; [key=value ...]`" + see
		sev      = "\nUsage: `/incident sev &lt;sev1-sev4&gt;`" + see
		role     = "\nUsage: `/incident role &lt;commander|scribe|comms&gt; &lt;@person&gt;`" + see
		approve  = "\nUsage: `/incident approve &lt;step-id&gt;`" + see
		reject   = "\nUsage: `/incident reject &lt;step-id&gt; [reason]`" + see
		extend   = "\nUsage: `/incident extend &lt;step-id&gt; &lt;duration&gt; [reason]`" + see
		pickUser = "Type `@` and pick the person from the list so Slack sends a real mention."
	)
	tests := []struct{ text, want string }{
		{"decalre x", "Unknown command `decalre`. Did you mean `declare`?" + see},
		{"stauts", "Unknown command `stauts`. Did you mean `status`?" + see},
		{"rn x", "Unknown command `rn`. Did you mean `run`?" + see},
		{"timelin", "Unknown command `timelin`. Did you mean `timeline`?" + see},
		{"app isolate", "Unknown command `app`. Did you mean `approve`?" + see},
		{"xyzzy", "Unknown command `xyzzy`." + see},
		{"`rm` -rf", "Unknown command `'rm'`." + see},

		{"status now", "`now` is not a status: use `investigating`, `contained` or `recovering`.\nUsage: `/incident status [investigating|contained|recovering]`" + see},
		{"status resolved", "Use `/incident resolve [summary]` to resolve the incident.\nUsage: `/incident status [investigating|contained|recovering]`" + see},
		{"status contained now", "`/incident status` takes at most one status, but got `now` too.\nUsage: `/incident status [investigating|contained|recovering]`" + see},
		{"timeline all", "`/incident timeline` takes no arguments, but got `all`.\nUsage: `/incident timeline`" + see},
		{"list open", "`/incident list` takes no arguments, but got `open`.\nUsage: `/incident list`" + see},
		{"help run", "`/incident help` takes no arguments, but got `run`.\nUsage: `/incident help`" + see},

		{"declare", "`/incident declare` needs a title." + declare},
		{`declare "DB down`, "The title's closing quote is missing." + declare},
		{`declare "" sev1`, "The title is empty." + declare},
		{`declare “ ” sev1`, "The title is empty." + declare},
		{"declare sev1 DB down", "The title comes before the severity, e.g. `/incident declare \"API down\" sev2`." + declare},
		{"declare sev 1 DB down", "The title comes before the severity, e.g. `/incident declare \"API down\" sev2`." + declare},
		{"declare DB down ec2-containment instance_id=i-1", "To start a playbook when declaring, put it after the severity or after a quoted title, e.g. `/incident declare \"API down\" sev2 api-failover region=eu`; `instance_id=i-1` looks like a playbook input." + declare},
		{"declare DB down sev5", "`sev5` is not a severity: use `sev1` (most severe) to `sev4`." + declare},
		{"declare DB down sev 0", "`sev 0` is not a severity: use `sev1` (most severe) to `sev4`." + declare},
		{`declare "DB down" sev9`, "`sev9` is not a severity: use `sev1` (most severe) to `sev4`." + declare},
		{`declare "DB down" sev1 sev2`, "The severity is given twice: `sev2`." + declare},
		{"declare DB down sev1 SEV2", "The severity is given twice: `SEV2`." + declare},
		{"declare DB down sev1 sev9 x=1", "The severity is given twice: `sev9`." + declare},
		{`declare "DB down" sev1 pb "k=v`, "A quote is not closed in `\"k=v`." + declare},
		{`declare "DB down" sev1 pb k=v x`, "After the playbook `pb` come `key=value` inputs, but got `x`. Quote values that contain spaces: `key=\"a b\"`." + declare},

		{"run", "`/incident run` needs a playbook name." + run},
		{"plan", "`/incident plan` needs a playbook name." + plan},
		{"run instance_id=i-1", "Name the playbook before its inputs: `instance_id=i-1` is an input." + run},
		{"run EC2", "`EC2` is not a playbook name: names are lowercase letters, digits and dashes." + run},
		{"plan -x", "`-x` is not a playbook name: names are lowercase letters, digits and dashes." + plan},
		{"run ec2 Bad=1", "`Bad` is not an input name: names are lowercase letters, digits and `_`." + run},
		{"run ec2 =1", "`` is not an input name: names are lowercase letters, digits and `_`." + run},
		{"run ec2 a=1 b=2 a=3", "Input `a` is given twice." + run},
		{"run ec2 note=a b", "After the playbook `ec2` come `key=value` inputs, but got `b`. Quote values that contain spaces: `key=\"a b\"`." + run},
		{`run ec2 note="a b`, "A quote is not closed in `note=\"a b`." + run},

		{"sev", "`/incident sev` needs a severity: `sev1` (most severe) to `sev4`." + sev},
		{"sev 5", "`5` is not a severity: use `sev1` (most severe) to `sev4`, or `1` to `4`." + sev},
		{"sev high", "`high` is not a severity: use `sev1` (most severe) to `sev4`, or `1` to `4`." + sev},
		{"sev sev0", "`sev0` is not a severity: use `sev1` (most severe) to `sev4`." + sev},
		{"sev 2 now", "`/incident sev` takes only the severity, but got `now` too." + sev},
		{"sev sev1 sev2", "`/incident sev` takes only the severity, but got `sev2` too." + sev},

		{"role", "`/incident role` needs a role (`commander`, `scribe` or `comms`) and a person." + role},
		{"role boss <@U1>", "`boss` is not a role: use `commander`, `scribe` or `comms`." + role},
		{"role <@U1ABC> commander", "Name the role first, then the person, e.g. `/incident role commander @alice`." + role},
		{"role commander", "Who should be commander? " + pickUser + role},
		{"role commander @alice", "`@alice` is not a mention. " + pickUser + role},
		{"role commander <#C123|general>", "`<#C123|general>` is not a mention. " + pickUser + role},
		{"role commander <@U1>", "`<@U1>` is not a mention. " + pickUser + role},
		{"role scribe <!subteam^S123|@oncall>", "A role goes to one person, not a group. " + pickUser + role},
		{"role comms <@U1ABC> <@U2DEF>", "A role goes to one person, but got `<@U2DEF>` too." + role},

		{"note", "`/incident note` needs the text of the note.\nUsage: `/incident note &lt;text&gt;`" + see},
		{"approve", "`/incident approve` needs the ID of the step, as `/incident status` shows it." + approve},
		{"approve isolate now", "`/incident approve` takes only the step ID, but got `now` too." + approve},
		{"approve Isolate", "`Isolate` is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`." + approve},
		{"reject", "`/incident reject` needs the ID of the step, as `/incident status` shows it." + reject},
		{"reject 1st because", "`1st` is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`." + reject},
		{"done", "`/incident done` needs the ID of the step, as `/incident status` shows it.\nUsage: `/incident done &lt;step-id&gt; [note]`" + see},
		{"extend", "`/incident extend` needs the ID of the waiting step and how much longer it should wait, e.g. `/incident extend hold 24h`." + extend},
		{"extend Hold 1h", "`Hold` is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`." + extend},
		{"extend hold", "How much longer should `hold` wait? Give a duration such as `24h`, `90m` or `2d`." + extend},
		{"extend hold tomorrow", "`tomorrow` is not a duration: use a number and a unit, such as `90m`, `24h` or `2d`." + extend},
		{"extend hold 24", "`24` is not a duration: use a number and a unit, such as `90m`, `24h` or `2d`." + extend},
		{"extend hold -1h", "`-1h` is negative: an extension makes the wait longer, e.g. `24h`." + extend},
		{"extend hold 0s", "`0s` would not extend anything: give a duration longer than 0s, such as `24h`." + extend},
		{"extend 24h hold", "`24h` is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`." + extend},
	}
	for _, tt := range tests {
		_, err := ParseCommand(tt.text)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%q) = %v, want a *UsageError", tt.text, err)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("ParseCommand(%q) error\n got %q\nwant %q", tt.text, got, tt.want)
		}
	}
}

func TestParseCommandEchoesLittle(t *testing.T) {
	// Long input shown back is cut short.
	_, err := ParseCommand("status " + strings.Repeat("x", 500))
	if err == nil || strings.Contains(err.Error(), strings.Repeat("x", 61)) {
		t.Fatalf("error echoes too much: %v", err)
	}
}

func TestInputMap(t *testing.T) {
	c, err := ParseCommand(`run p a=1 b="two words"`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "b": "two words"}
	if got := c.InputMap(); !reflect.DeepEqual(got, want) {
		t.Fatalf("InputMap = %v, want %v", got, want)
	}
	if got := (Command{}).InputMap(); got == nil || len(got) != 0 {
		t.Fatalf("empty InputMap = %#v, want an empty map", got)
	}
}

// helpCommands pulls every `/incident ...` code span out of the help text,
// with the mentions people type (@alice) as Slack sends them.
func helpCommands(t testing.TB) (usages, examples []string) {
	t.Helper()
	help := HelpText()
	head, tail, ok := strings.Cut(help, "*Examples*")
	if !ok {
		t.Fatalf("help has no examples:\n%s", help)
	}
	span := regexp.MustCompile("`(/incident[^`]*)`")
	for _, m := range span.FindAllStringSubmatch(head, -1) {
		usages = append(usages, m[1])
	}
	for _, m := range span.FindAllStringSubmatch(tail, -1) {
		examples = append(examples, strings.ReplaceAll(strings.TrimPrefix(m[1], "/incident "), "@alice", "<@U0ALICE|alice>"))
	}
	return usages, examples
}

func TestHelpText(t *testing.T) {
	if help := HelpText(); strings.ContainsAny(help, "<>") {
		t.Errorf("help has a raw < or >, which mrkdwn would take for a link:\n%s", help)
	}
	usages, examples := helpCommands(t)
	for _, c := range commands() {
		found := false
		for _, u := range usages {
			if strings.HasPrefix(u, "/incident "+c.verb) {
				found = true
			}
		}
		if !found {
			t.Errorf("help lacks %s", c.verb)
		}
	}
	if len(usages) != len(commands()) {
		t.Errorf("help has %d usage lines, want %d", len(usages), len(commands()))
	}
	if len(examples) == 0 {
		t.Fatal("help has no examples")
	}
	for _, ex := range examples {
		if _, err := ParseCommand(ex); err != nil {
			t.Errorf("help example %q does not parse: %v", ex, err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	_, examples := helpCommands(f)
	for _, ex := range examples {
		f.Add(ex)
	}
	for _, s := range []string{
		"", " ", "\t\n", "help", "declare", `declare "`, `declare “`, `declare ""`, `declare "a" "b"`,
		`declare a "b sev1 c "d`, "declare sev", "declare x sev", "declare x sev 9", "declare x sev1 sev 2",
		"declare x sev-4 y z=1", "declare ſev1 x", "declare x ſev1", "run a =", "run a b==c", "run a <", "run a <@U1",
		"run a k=<@U1|x y> j=“q” l=”r“", "run a k=\"", "sev ", "sev -1", "sev sev-", "role commander <@>",
		"role commander <@U1|", "role commander <@u1>", "role CommAnder <@U0>", "role commander <@U1>>", "note &amp;lt;", "note &", "note <",
		"approve a b", "reject a\u00a0b", "\u00a0status", "status\u200b", "de\xffclare x", "declare \xff sev1",
		"run \x00", strings.Repeat("declare ", 50), "declare " + strings.Repeat(`"`, 31),
	} {
		f.Add(s)
	}
	sevRE := regexp.MustCompile(`^SEV[1-4]$`)
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text)
		again, err2 := ParseCommand(text)
		if !reflect.DeepEqual(c, again) || (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("ParseCommand(%q) is not deterministic", text)
		}
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("ParseCommand(%q) = %T, want *UsageError", text, err)
			}
			msg := err.Error()
			if ue.Msg == "" || !strings.Contains(msg, "/incident help") {
				t.Fatalf("ParseCommand(%q): unhelpful error %q", text, msg)
			}
			if !utf8.ValidString(msg) {
				t.Fatalf("ParseCommand(%q): error is not UTF-8: %q", text, msg)
			}
			return
		}
		if usageOf(c.Verb) == "" {
			t.Fatalf("ParseCommand(%q): unknown verb %q", text, c.Verb)
		}
		switch c.Verb {
		case VerbDeclare:
			if c.Title == "" {
				t.Fatalf("ParseCommand(%q): declare without a title", text)
			}
			fallthrough
		case VerbSev:
			if !sevRE.MatchString(c.Severity) {
				t.Fatalf("ParseCommand(%q): severity %q", text, c.Severity)
			}
		case VerbRole:
			if !userIDRE.MatchString(c.User) {
				t.Fatalf("ParseCommand(%q): user %q", text, c.User)
			}
		case VerbApprove, VerbReject:
			if !stepRE.MatchString(c.Step) {
				t.Fatalf("ParseCommand(%q): step %q", text, c.Step)
			}
		case VerbNote:
			if c.Text == "" {
				t.Fatalf("ParseCommand(%q): empty note", text)
			}
		}
		if c.Playbook != "" && !playbookRE.MatchString(c.Playbook) {
			t.Fatalf("ParseCommand(%q): playbook %q", text, c.Playbook)
		}
		seen := map[string]bool{}
		for _, kv := range c.Inputs {
			if !keyRE.MatchString(kv.Key) || seen[kv.Key] {
				t.Fatalf("ParseCommand(%q): input key %q", text, kv.Key)
			}
			seen[kv.Key] = true
		}
	})
}
