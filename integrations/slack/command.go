package slack

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak-ir/firebreak/playbooks"
)

// Verbs of the /incident command.
const (
	VerbDeclare  = "declare"
	VerbRun      = "run"
	VerbPlan     = "plan"
	VerbStatus   = "status"
	VerbTimeline = "timeline"
	VerbList     = "list"
	VerbHelp     = "help"
	VerbSev      = "sev"
	VerbRole     = "role"
	VerbNote     = "note"
	VerbResolve  = "resolve"
	VerbAbort    = "abort"
	VerbApprove  = "approve"
	VerbReject   = "reject"
	VerbDone     = "done"
	VerbExtend   = "extend"
)

// Incident roles a person can be assigned with `role`.
const (
	RoleCommander = "commander"
	RoleScribe    = "scribe"
	RoleComms     = "comms"
)

// DefaultSeverity is the severity of an incident declared without one.
const DefaultSeverity = "SEV3"

// Command is a parsed /incident command. Free text (Title, Text, input
// values) has Slack's HTML escaping undone; mentions inside it keep
// Slack's <@U…> syntax.
type Command struct {
	Verb     string
	Title    string // declare
	Severity string // "SEV1".."SEV4": declare (default SEV3), sev
	Playbook string // run, plan, declare
	Private  bool   // declare: a private channel, read and steered from it only
	Inputs   []KV   // run, plan, declare; in the order given
	Role     string // role: RoleCommander, RoleScribe or RoleComms
	User     string // role: Slack user ID
	Text     string // note (required); resolve summary, abort and reject reason (optional)
	Step     string // approve, reject, done, extend
	By       string // extend: how much longer, a duration such as "24h"
}

// KV is one key=value playbook input.
type KV struct{ Key, Value string }

// InputMap returns the inputs as a map; keys are unique by construction.
func (c Command) InputMap() map[string]string {
	m := make(map[string]string, len(c.Inputs))
	for _, kv := range c.Inputs {
		m[kv.Key] = kv.Value
	}
	return m
}

// UsageError is a command the user got wrong. Its Error text is meant for
// the user in Slack (mrkdwn): what is wrong, the verb's usage, and a
// pointer to /incident help.
type UsageError struct {
	Verb string // the verb the usage line is about; "" if unknown
	Msg  string
}

func (e *UsageError) Error() string {
	var b strings.Builder
	b.WriteString(e.Msg)
	if u := usageOf(e.Verb); u != "" {
		b.WriteString("\nUsage: `" + esc(u) + "`")
	}
	b.WriteString("\nSee `/incident help` for all commands.")
	return b.String()
}

func usageErr(verb, format string, args ...any) *UsageError {
	return &UsageError{Verb: verb, Msg: fmt.Sprintf(format, args...)}
}

type commandSpec struct {
	verb, usage, what string
}

// commands lists every verb in help order; a function, so the table
// cannot be modified.
func commands() []commandSpec {
	return []commandSpec{
		{VerbDeclare, `/incident declare "<title>" [sev1-sev4] [private] [playbook key=value ...]`, "declare an incident (default SEV3; `private` for a private channel) and optionally start a playbook"},
		{VerbRun, `/incident run <playbook> [key=value ...]`, "run a playbook in this incident"},
		{VerbPlan, `/incident plan <playbook> [key=value ...]`, "show what a playbook would do, changing nothing"},
		{VerbStatus, `/incident status [investigating|contained|recovering]`, "show the incident and its runs, or move it to a new status"},
		{VerbTimeline, `/incident timeline`, "show the incident's timeline"},
		{VerbList, `/incident list`, "list open incidents"},
		{VerbSev, `/incident sev <sev1-sev4>`, "change the severity"},
		{VerbRole, `/incident role <commander|scribe|comms> <@person>`, "assign an incident role"},
		{VerbNote, `/incident note <text>`, "add a note to the timeline"},
		{VerbResolve, `/incident resolve [summary]`, "resolve the incident"},
		{VerbAbort, `/incident abort [reason]`, "abort the running playbook"},
		{VerbApprove, `/incident approve <step-id>`, "approve a step waiting for approval"},
		{VerbReject, `/incident reject <step-id> [reason]`, "reject a step waiting for approval"},
		{VerbDone, `/incident done <step-id> [note]`, "mark a manual task done"},
		{VerbExtend, `/incident extend <step-id> <duration> [reason]`, "make an extendable wait (such as a WAF block's expiry) last longer, e.g. 24h or 2d"},
		{VerbHelp, `/incident help`, "show this help"},
	}
}

// helpExamples are shown in HelpText and must all parse.
func helpExamples() []string {
	return []string{
		`/incident declare "Checkout 5xx spike" sev2`,
		`/incident declare Leaked AWS key in public repo sev1 aws-key-rotation access_key_id=AKIAEXAMPLE`,
		`/incident run ec2-compromise-containment instance_id=i-0abc1234def567890 account=prod`,
		`/incident plan restore-backup database=orders snapshot="nightly 2024-05-01"`,
		`/incident sev 1`,
		`/incident status contained`,
		`/incident role commander @alice`,
		`/incident note Rolled back deploy 1234`,
		`/incident reject isolate wrong instance`,
		`/incident done collect-evidence disk image in s3://forensics/i-0abc`,
		`/incident extend hold 24h attack still going`,
	}
}

func usageOf(verb string) string {
	for _, c := range commands() {
		if c.verb == verb {
			return c.usage
		}
	}
	return ""
}

// HelpText lists every command with its usage, in Slack mrkdwn (where
// "<" would start a link, so usages are escaped).
func HelpText() string {
	var b strings.Builder
	b.WriteString("*Firebreak incident commands*\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "• `%s`: %s\n", esc(c.usage), c.what)
	}
	b.WriteString("*Examples*\n")
	for _, ex := range helpExamples() {
		fmt.Fprintf(&b, "• `%s`\n", esc(ex))
	}
	b.WriteString("Type `@` and pick a person from the list to mention them; quote titles and values that contain spaces.")
	return b.String()
}

var (
	keyRE      = regexp.MustCompile(`^[a-z0-9_]+$`)
	playbookRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	stepRE     = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	// Slack sends mentions as <@U123ABC> or <@U123ABC|name>.
	mentionRE = regexp.MustCompile(`^<@(` + userIDPattern + `)(?:\|[^>]*)?>$`)
	// sevTokenRE matches severities, and ones out of range like sev5 so
	// they can be refused rather than taken for words. ASCII only: (?i)
	// would also match the long s, "ſ".
	sevTokenRE = regexp.MustCompile(`^[sS][eE][vV]-?([0-9]+)$`)
	inputRE    = regexp.MustCompile(`^[a-z0-9_]+=`)
)

// ParseCommand parses the text after /incident, as Slack sends it
// (HTML-escaped, mentions as <@U…>). Empty text means help. Every error
// is a *UsageError.
func ParseCommand(text string) (Command, error) {
	text = strings.TrimSpace(strings.ToValidUTF8(text, "\uFFFD"))
	if text == "" {
		return Command{Verb: VerbHelp}, nil
	}
	first, rest := cutWord(text)
	verb := strings.ToLower(first)
	switch verb {
	case VerbDeclare:
		return parseDeclare(rest)
	case VerbRun, VerbPlan:
		return parseRun(verb, rest)
	case VerbStatus:
		return parseStatus(rest)
	case VerbTimeline, VerbList, VerbHelp:
		if rest != "" {
			return Command{}, usageErr(verb, "`/incident %s` takes no arguments, but got %s.", verb, quoteRaw(rest))
		}
		return Command{Verb: verb}, nil
	case VerbSev:
		return parseSev(rest)
	case VerbRole:
		return parseRole(rest)
	case VerbNote:
		t := unescape(rest)
		if t == "" {
			return Command{}, usageErr(verb, "`/incident note` needs the text of the note.")
		}
		return Command{Verb: verb, Text: t}, nil
	case VerbResolve, VerbAbort:
		return Command{Verb: verb, Text: unescape(rest)}, nil
	case VerbApprove, VerbReject, VerbDone:
		return parseVote(verb, rest)
	case VerbExtend:
		return parseExtend(rest)
	}
	msg := fmt.Sprintf("Unknown command %s.", quoteRaw(first))
	if s := closestVerb(verb); s != "" {
		msg += fmt.Sprintf(" Did you mean `%s`?", s)
	}
	return Command{}, &UsageError{Msg: msg}
}

func parseDeclare(rest string) (Command, error) {
	c := Command{Verb: VerbDeclare, Severity: DefaultSeverity}
	if rest == "" {
		return Command{}, usageErr(VerbDeclare, "`/incident declare` needs a title.")
	}
	var tail []token
	if r, size := utf8.DecodeRuneInString(rest); isQuote(r) {
		end := strings.IndexFunc(rest[size:], isQuote)
		if end < 0 {
			return Command{}, usageErr(VerbDeclare, "The title's closing quote is missing.")
		}
		c.Title = unescape(rest[size : size+end])
		if c.Title == "" {
			return Command{}, usageErr(VerbDeclare, "The title is empty.")
		}
		after := rest[size+end:]
		_, qsize := utf8.DecodeRuneInString(after)
		toks, err := tokenize(VerbDeclare, after[qsize:])
		if err != nil {
			return Command{}, err
		}
		if len(toks) > 0 {
			sev, n, err := severityAt(VerbDeclare, toks)
			if err != nil {
				return Command{}, err
			}
			if n > 0 {
				c.Severity, toks = sev, toks[n:]
			}
		}
		tail = toks
	} else {
		// An unquoted title runs up to the severity; split on spaces only
		// so quotes and apostrophes in it are just text.
		words := fields(rest)
		at := -1
		for i := range words {
			sev, n, err := severityAt(VerbDeclare, words[i:])
			if err != nil {
				return Command{}, err
			}
			if n > 0 {
				at, c.Severity = i, sev
				toks, err := tokenize(VerbDeclare, rest[words[i+n-1].end:])
				if err != nil {
					return Command{}, err
				}
				tail = toks
				break
			}
		}
		if at == 0 {
			return Command{}, usageErr(VerbDeclare, "The title comes before the severity, e.g. `/incident declare \"API down\" sev2`.")
		}
		if at < 0 {
			for _, w := range words {
				if inputRE.MatchString(w.text) {
					return Command{}, usageErr(VerbDeclare, "To start a playbook when declaring, put it after the severity or after a quoted title, e.g. `/incident declare \"API down\" sev2 api-failover region=eu`; %s looks like a playbook input.", quoteRaw(w.text))
				}
			}
			c.Title = unescape(rest)
		} else {
			c.Title = unescape(rest[:words[at].start])
		}
	}
	// `private` is a word only where the severity may stand or right
	// after it, so a title can still say "private".
	if len(tail) > 0 && strings.EqualFold(tail[0].text, "private") {
		c.Private, tail = true, tail[1:]
	}
	if len(tail) == 0 {
		return c, nil
	}
	if _, n, err := severityAt(VerbDeclare, tail); n > 0 || err != nil {
		return Command{}, usageErr(VerbDeclare, "The severity is given twice: %s.", quoteRaw(tail[0].raw))
	}
	pb, inputs, err := parsePlaybook(VerbDeclare, tail)
	if err != nil {
		return Command{}, err
	}
	c.Playbook, c.Inputs = pb, inputs
	return c, nil
}

func parseRun(verb, rest string) (Command, error) {
	toks, err := tokenize(verb, rest)
	if err != nil {
		return Command{}, err
	}
	if len(toks) == 0 {
		return Command{}, usageErr(verb, "`/incident %s` needs a playbook name.", verb)
	}
	pb, inputs, err := parsePlaybook(verb, toks)
	if err != nil {
		return Command{}, err
	}
	return Command{Verb: verb, Playbook: pb, Inputs: inputs}, nil
}

// parsePlaybook reads `<playbook> [key=value ...]`; toks is not empty.
func parsePlaybook(verb string, toks []token) (string, []KV, error) {
	name := toks[0]
	if strings.Contains(name.text, "=") {
		return "", nil, usageErr(verb, "Name the playbook before its inputs: %s is an input.", quoteRaw(name.raw))
	}
	if !playbookRE.MatchString(name.text) {
		return "", nil, usageErr(verb, "%s is not a playbook name: names are lowercase letters, digits and dashes.", quoteRaw(name.raw))
	}
	var inputs []KV
	for _, t := range toks[1:] {
		key, val, ok := strings.Cut(t.text, "=")
		if !ok {
			return "", nil, usageErr(verb, "After the playbook %s come `key=value` inputs, but got %s. Quote values that contain spaces: `key=\"a b\"`.", quoteRaw(name.raw), quoteRaw(t.raw))
		}
		if !keyRE.MatchString(key) {
			return "", nil, usageErr(verb, "%s is not an input name: names are lowercase letters, digits and `_`.", quoteRaw(key))
		}
		for _, kv := range inputs {
			if kv.Key == key {
				return "", nil, usageErr(verb, "Input `%s` is given twice.", key)
			}
		}
		inputs = append(inputs, KV{Key: key, Value: unescape(val)})
	}
	return name.text, inputs, nil
}

func parseSev(rest string) (Command, error) {
	toks := fields(rest)
	if len(toks) == 0 {
		return Command{}, usageErr(VerbSev, "`/incident sev` needs a severity: `sev1` (most severe) to `sev4`.")
	}
	sev, ok := bareSeverity(toks[0].text)
	n := 1
	if !ok {
		var err error
		if sev, n, err = severityAt(VerbSev, toks); err != nil {
			return Command{}, err
		}
	}
	if n == 0 {
		return Command{}, usageErr(VerbSev, "%s is not a severity: use `sev1` (most severe) to `sev4`, or `1` to `4`.", quoteRaw(toks[0].raw))
	}
	if n < len(toks) {
		return Command{}, usageErr(VerbSev, "`/incident sev` takes only the severity, but got %s too.", quoteRaw(rest[toks[n].start:]))
	}
	return Command{Verb: VerbSev, Severity: sev}, nil
}

func parseRole(rest string) (Command, error) {
	toks := fields(rest)
	if len(toks) == 0 {
		return Command{}, usageErr(VerbRole, "`/incident role` needs a role (`commander`, `scribe` or `comms`) and a person.")
	}
	role := strings.ToLower(toks[0].text)
	switch role {
	case RoleCommander, RoleScribe, RoleComms:
	default:
		if mentionRE.MatchString(toks[0].text) {
			return Command{}, usageErr(VerbRole, "Name the role first, then the person, e.g. `/incident role commander @alice`.")
		}
		return Command{}, usageErr(VerbRole, "%s is not a role: use `commander`, `scribe` or `comms`.", quoteRaw(toks[0].text))
	}
	const pick = "Type `@` and pick the person from the list so Slack sends a real mention."
	if len(toks) == 1 {
		return Command{}, usageErr(VerbRole, "Who should be %s? %s", role, pick)
	}
	m := mentionRE.FindStringSubmatch(toks[1].text)
	if m == nil {
		if strings.HasPrefix(toks[1].text, "<!subteam^") {
			return Command{}, usageErr(VerbRole, "A role goes to one person, not a group. %s", pick)
		}
		return Command{}, usageErr(VerbRole, "%s is not a mention. %s", quoteRaw(toks[1].text), pick)
	}
	if len(toks) > 2 {
		return Command{}, usageErr(VerbRole, "A role goes to one person, but got %s too.", quoteRaw(rest[toks[2].start:]))
	}
	return Command{Verb: VerbRole, Role: role, User: m[1]}, nil
}

func parseVote(verb, rest string) (Command, error) {
	step, reason := cutWord(rest)
	if step == "" {
		return Command{}, usageErr(verb, "`/incident %s` needs the ID of the step, as `/incident status` shows it.", verb)
	}
	if !stepRE.MatchString(step) {
		return Command{}, usageErr(verb, "%s is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`.", quoteRaw(step))
	}
	if verb == VerbApprove && reason != "" {
		return Command{}, usageErr(verb, "`/incident approve` takes only the step ID, but got %s too.", quoteRaw(reason))
	}
	return Command{Verb: verb, Step: step, Text: unescape(reason)}, nil
}

// parseExtend reads `<step-id> <duration> [reason]`. The duration is
// checked here so a typo is answered with the usage; whether the step may
// be extended by it is the run's to say.
func parseExtend(rest string) (Command, error) {
	step, tail := cutWord(rest)
	if step == "" {
		return Command{}, usageErr(VerbExtend, "`/incident extend` needs the ID of the waiting step and how much longer it should wait, e.g. `/incident extend hold 24h`.")
	}
	if !stepRE.MatchString(step) {
		return Command{}, usageErr(VerbExtend, "%s is not a step ID: IDs are a lowercase letter, then lowercase letters, digits, `-` or `_`.", quoteRaw(step))
	}
	by, reason := cutWord(tail)
	if by == "" {
		return Command{}, usageErr(VerbExtend, "How much longer should `%s` wait? Give a duration such as `24h`, `90m` or `2d`.", step)
	}
	if strings.HasPrefix(by, "-") {
		return Command{}, usageErr(VerbExtend, "%s is negative: an extension makes the wait longer, e.g. `24h`.", quoteRaw(by))
	}
	d, err := playbooks.ParseDuration(by)
	if err != nil {
		return Command{}, usageErr(VerbExtend, "%s is not a duration: use a number and a unit, such as `90m`, `24h` or `2d`.", quoteRaw(by))
	}
	if d == 0 {
		return Command{}, usageErr(VerbExtend, "%s would not extend anything: give a duration longer than 0s, such as `24h`.", quoteRaw(by))
	}
	return Command{Verb: VerbExtend, Step: step, By: d.String(), Text: unescape(reason)}, nil
}

// severityAt reads a severity at the start of toks: `sevN`, `sev-N` or
// `sev N`. It returns how many tokens it used (0: no severity there), or
// an error for something that is clearly a severity out of range.
func severityAt(verb string, toks []token) (string, int, error) {
	t := toks[0].text
	if strings.ToLower(t) == "sev" && len(toks) > 1 {
		if sev, ok := bareSeverity(toks[1].text); ok {
			return sev, 2, nil
		}
		if isDigits(toks[1].text) {
			return "", 0, usageErr(verb, "`sev %s` is not a severity: use `sev1` (most severe) to `sev4`.", toks[1].text)
		}
	}
	m := sevTokenRE.FindStringSubmatch(t)
	if m == nil {
		return "", 0, nil
	}
	if sev, ok := bareSeverity(m[1]); ok {
		return sev, 1, nil
	}
	return "", 0, usageErr(verb, "%s is not a severity: use `sev1` (most severe) to `sev4`.", quoteRaw(t))
}

func bareSeverity(s string) (string, bool) {
	switch s {
	case "1", "2", "3", "4":
		return "SEV" + s, true
	}
	return "", false
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// token is one argument: text with quotes removed (still HTML-escaped),
// raw as typed, and its byte span in the string it came from.
type token struct {
	text, raw  string
	start, end int
}

func isQuote(r rune) bool {
	switch r {
	case '"', '“', '”', '„':
		return true
	}
	return false
}

// tokenize splits s into arguments like a shell: spaces separate them,
// double quotes (straight or the curly ones Slack clients insert) group
// spaces, and Slack's <…> mentions and links are never split.
func tokenize(verb, s string) ([]token, error) {
	return split(verb, s, true)
}

// fields splits s on spaces only, keeping Slack's <…> together.
func fields(s string) []token {
	toks, _ := split("", s, false)
	return toks
}

func split(verb, s string, quotes bool) ([]token, error) {
	var toks []token
	// Only a '<' before the last '>' can open a group, so no scan for a
	// closing '>' fails and splitting stays linear.
	lastGT := strings.LastIndexByte(s, '>')
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		var b strings.Builder
	scan:
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case unicode.IsSpace(r):
				break scan
			case quotes && isQuote(r):
				end := strings.IndexFunc(s[i+size:], isQuote)
				if end < 0 {
					return nil, usageErr(verb, "A quote is not closed in %s.", quoteRaw(s[start:]))
				}
				b.WriteString(s[i+size : i+size+end])
				_, qsize := utf8.DecodeRuneInString(s[i+size+end:])
				i += size + end + qsize
			case r == '<' && i < lastGT:
				end := strings.IndexByte(s[i:], '>')
				b.WriteString(s[i : i+end+1])
				i += end + 1
			default:
				b.WriteString(s[i : i+size])
				i += size
			}
		}
		toks = append(toks, token{text: b.String(), raw: s[start:i], start: start, end: i})
	}
	return toks, nil
}

// cutWord splits off the first space-separated word; rest is trimmed.
func cutWord(s string) (word, rest string) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// unescape undoes Slack's escaping of &, < and >. One pass, so "&amp;lt;"
// becomes "&lt;", as typed. Mentions arrive unescaped and are untouched.
func unescape(s string) string {
	return strings.TrimSpace(strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s))
}

// quoteRaw shows user text back in a code span. The text is still as Slack
// escaped it, so it is safe in mrkdwn; backticks would end the span.
func quoteRaw(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "`", "'")
	const max = 60
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return "`" + s + "`"
}

// closestVerb suggests the verb nearest to an unknown one: a verb it is a
// prefix of, else one within two edits.
func closestVerb(s string) string {
	if s == "" {
		return ""
	}
	best, bestD := "", 3
	for _, c := range commands() {
		if len(s) >= 2 && strings.HasPrefix(c.verb, s) {
			return c.verb
		}
		if d := playbooks.EditDistance(s, c.verb); d < bestD {
			best, bestD = c.verb, d
		}
	}
	return best
}

// incidentStatuses are the statuses `status` can move an incident to;
// declared is where it starts and resolve has its own command.
func incidentStatuses() []string { return []string{"investigating", "contained", "recovering"} }

// parseStatus reads `status` (show) or `status <new status>` (change);
// the new status goes in Text.
func parseStatus(rest string) (Command, error) {
	if rest == "" {
		return Command{Verb: VerbStatus}, nil
	}
	word, extra := cutWord(rest)
	w := strings.ToLower(word)
	if extra != "" {
		return Command{}, usageErr(VerbStatus, "`/incident status` takes at most one status, but got %s too.", quoteRaw(extra))
	}
	for _, st := range incidentStatuses() {
		if w == st {
			return Command{Verb: VerbStatus, Text: st}, nil
		}
	}
	if w == "resolved" {
		return Command{}, usageErr(VerbStatus, "Use `/incident resolve [summary]` to resolve the incident.")
	}
	return Command{}, usageErr(VerbStatus, "%s is not a status: use `investigating`, `contained` or `recovering`.", quoteRaw(word))
}
