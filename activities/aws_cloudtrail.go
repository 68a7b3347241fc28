package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"go.temporal.io/sdk/activity"
)

// cloudtrailActions lists the CloudTrail actions.
func (a *AWS) cloudtrailActions() []Action { return []Action{a.cloudtrailLookupEvents()} }

// LookupEventsInput is the input of aws.cloudtrail.lookup_events: exactly one of the lookup
// fields, and an optional window.
type LookupEventsInput struct {
	AWSTarget
	AccessKeyID string `json:"access_key_id,omitempty"`
	Username    string `json:"username,omitempty"`
	// RoleSession is a role session name (CloudTrail's Username for assumed roles); EC2
	// instance roles use the instance ID.
	RoleSession  string `json:"role_session,omitempty"`
	ResourceName string `json:"resource_name,omitempty"`
	// Start and End are RFC 3339 times or durations back from now ("24h", "7d"). No start means
	// all of CloudTrail's event history (90 days); no end means now.
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	// MaxEvents bounds how many events are read (default 10000).
	MaxEvents int `json:"max_events,omitempty"`
}

const (
	defaultMaxEvents = 10000
	maxMaxEvents     = 100000
	// lookupPageSize is the most events LookupEvents returns per call.
	lookupPageSize = 50
)

// Bounds of the summary: a playbook reads it through CEL and the timeline shows it, so it stays
// a few KB however many events there were.
const (
	topEventNames = 50
	topSourceIPs  = 20
	topAgents     = 10
	topResources  = 20
	topErrorCodes = 20
	maxAgentLen   = 120
)

// lookup is a checked LookupEventsInput.
type lookup struct {
	key        cttypes.LookupAttributeKey
	value      string
	what       string // "access key AKIA..."
	start, end *time.Time
	max        int
}

func (in LookupEventsInput) check(action string, now time.Time) (lookup, error) {
	var l lookup
	n := 0
	for _, f := range []struct {
		v    string
		key  cttypes.LookupAttributeKey
		what string
	}{
		{in.AccessKeyID, cttypes.LookupAttributeKeyAccessKeyId, "access key"},
		{in.Username, cttypes.LookupAttributeKeyUsername, "user"},
		{in.RoleSession, cttypes.LookupAttributeKeyUsername, "role session"},
		{in.ResourceName, cttypes.LookupAttributeKeyResourceName, "resource"},
	} {
		if f.v != "" {
			n++
			l.key, l.value, l.what = f.key, f.v, f.what+" "+f.v
		}
	}
	if n != 1 {
		// CloudTrail's LookupEvents takes one lookup attribute.
		return l, badInput(action, "name exactly one of access_key_id, username, role_session and resource_name")
	}
	switch {
	case in.AccessKeyID != "":
		if err := checkAccessKeyID(action, in.AccessKeyID); err != nil {
			return l, err
		}
	case in.RoleSession != "" && !sessionNameRe.MatchString(in.RoleSession):
		return l, badInput(action, "role_session %q is not a role session name (2 to 64 of letters, digits and +=,.@_-)", in.RoleSession)
	case len(l.value) > 2000:
		return l, badInput(action, "the lookup value is longer than 2000 characters")
	}
	for _, t := range []struct {
		name, v string
		dst     **time.Time
	}{{"start", in.Start, &l.start}, {"end", in.End, &l.end}} {
		if t.v == "" {
			continue
		}
		when, err := parseWhen(t.v, now)
		if err != nil {
			return l, badInput(action, "%s %q: want an RFC 3339 time (2026-12-01T10:00:00Z) or a duration back from now (24h, 7d)", t.name, t.v)
		}
		*t.dst = &when
	}
	if l.start != nil && l.end != nil && !l.start.Before(*l.end) {
		return l, badInput(action, "start %s is not before end %s", l.start.Format(time.RFC3339), l.end.Format(time.RFC3339))
	}
	switch {
	case in.MaxEvents == 0:
		l.max = defaultMaxEvents
	case in.MaxEvents < 0 || in.MaxEvents > maxMaxEvents:
		return l, badInput(action, "max_events %d: want 1 to %d", in.MaxEvents, maxMaxEvents)
	default:
		l.max = in.MaxEvents
	}
	return l, nil
}

// sessionNameRe is AWS's pattern for role session names.
var sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// parseWhen reads an RFC 3339 time or a duration back from now; "d" counts days.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("bad day count %q", s)
		}
		return now.AddDate(0, 0, -n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad duration %q", s)
	}
	return now.Add(-d), nil
}

func (l lookup) window() string {
	switch {
	case l.start == nil && l.end == nil:
		return "in CloudTrail's event history (90 days)"
	case l.end == nil:
		return "since " + shortTime(*l.start)
	case l.start == nil:
		return "until " + shortTime(*l.end)
	}
	return fmt.Sprintf("between %s and %s", shortTime(*l.start), shortTime(*l.end))
}

func (a *AWS) cloudtrailLookupEvents() Action {
	const name = "aws.cloudtrail.lookup_events"
	return Def[LookupEventsInput]{
		Name: name,
		Description: "Sweep CloudTrail's event history for one access key, user name, role session or resource in a " +
			"time window (LookupEvents, paged at CloudTrail's 2 calls a second per account and region) and summarise " +
			"it: event names, source IPs, user agents, resources and error codes with counts, first and last seen. " +
			"The events themselves are not returned.",
		Permissions: Permissions{IAM: iamPerms("*", "cloudtrail:LookupEvents")},
		PlanFunc: func(_ context.Context, _ Request, in LookupEventsInput) (Plan, error) {
			l, err := in.check(name, time.Now())
			if err != nil {
				return Plan{}, err
			}
			return Plan{Summary: fmt.Sprintf("read only: summarise the CloudTrail events of %s %s (at most %s events)", l.what, l.window(), thousands(l.max))}, nil
		},
		ExecuteFunc: func(ctx context.Context, req Request, in LookupEventsInput) (Result, error) {
			l, err := in.check(name, time.Now())
			if err != nil {
				return Result{}, err
			}
			sess, err := a.session(ctx, req, in.AWSTarget)
			if err != nil {
				return Result{}, err
			}
			// CloudTrail's quota is per account: key the limiter by the account ID the
			// credentials are for (assumed-role credentials say), so that "prod" and "" (the
			// only account) share it; the name serves when the credentials do not say.
			account := in.Account
			if creds, err := sess.Config.Credentials.Retrieve(ctx); err == nil && creds.AccountID != "" {
				account = creds.AccountID
			} else if account == "" {
				account = "default"
			}
			c := cloudtrail.NewFromConfig(sess.Config)
			res, err := a.lookupEvents(ctx, c, account, sess.Config.Region, l)
			res.RequestIDs, res.Resource = boundRequestIDs(sess.RequestIDs()), l.value
			return res, err
		},
	}
}

// maxRequestIDs bounds the request IDs a sweep reports: one per page would put hundreds in the
// workflow's history. The first and the last calls are kept; the failed one, if any, is last.
const maxRequestIDs = 20

func boundRequestIDs(ids []string) []string {
	if len(ids) <= maxRequestIDs {
		return ids
	}
	return append(ids[:maxRequestIDs/2:maxRequestIDs/2], ids[len(ids)-maxRequestIDs/2:]...)
}

// lookupProgress is what the sweep heartbeats, so a long one shows where it is.
type lookupProgress struct {
	Pages  int `json:"pages"`
	Events int `json:"events"`
}

func (a *AWS) lookupEvents(ctx context.Context, c *cloudtrail.Client, account, region string, l lookup) (Result, error) {
	// Worker-wide, so parallel sweeps of one account and region share CloudTrail's quota.
	limit := a.limiter("cloudtrail.LookupEvents/"+account+"/"+region, 2, 1)
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: l.key, AttributeValue: &l.value}},
		StartTime:        l.start, EndTime: l.end,
	}
	sum := newEventSummary()
	pages, truncated := 0, false
	for {
		in.MaxResults = awssdk.Int32(int32(min(lookupPageSize, l.max-sum.total)))
		if err := limit.Wait(ctx); err != nil {
			return Result{}, fmt.Errorf("aws.cloudtrail.lookup_events: waiting for CloudTrail's rate: %w", err)
		}
		out, err := c.LookupEvents(ctx, in)
		if err != nil {
			return Result{}, awsFailure(err)
		}
		pages++
		for _, e := range out.Events {
			sum.add(e)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, lookupProgress{Pages: pages, Events: sum.total})
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		if sum.total >= l.max {
			truncated = true // there is more than max_events allows reading
			break
		}
		in.NextToken = out.NextToken
	}
	outputs := sum.outputs()
	outputs["truncated"], outputs["max_events"], outputs["pages"] = truncated, l.max, pages
	outputs["lookup"] = map[string]any{"attribute": string(l.key), "value": l.value}
	outputs["start"], outputs["end"] = "", ""
	if l.start != nil {
		outputs["start"] = l.start.Format(time.RFC3339)
	}
	if l.end != nil {
		outputs["end"] = l.end.Format(time.RFC3339)
	}
	summary := sum.summary(l, region, truncated)
	// In the outputs too, so a later step can post it (slack.post).
	outputs["summary"] = summary
	return Result{Outputs: outputs, Summary: summary}, nil
}

// eventSummary counts what a sweep saw; it keeps counts, never events.
type eventSummary struct {
	total, readOnly, write, failed int
	first, last                    time.Time
	names, ips, agents, resources  counts
	errorCodes                     counts
	resourceTypes                  map[string]string // resource key -> type, for outputs
}

type counts map[string]int

func newEventSummary() *eventSummary {
	return &eventSummary{names: counts{}, ips: counts{}, agents: counts{}, resources: counts{}, errorCodes: counts{}, resourceTypes: map[string]string{}}
}

// record is the part of the CloudTrailEvent JSON the summary reads.
type record struct {
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
	ErrorCode       string `json:"errorCode"`
}

func (s *eventSummary) add(e cttypes.Event) {
	s.total++
	if t := e.EventTime; t != nil {
		if s.first.IsZero() || t.Before(s.first) {
			s.first = *t
		}
		if t.After(s.last) {
			s.last = *t
		}
	}
	if awssdk.ToString(e.ReadOnly) == "true" {
		s.readOnly++
	} else {
		s.write++
	}
	s.names[awssdk.ToString(e.EventName)]++
	for _, r := range e.Resources {
		k := awssdk.ToString(r.ResourceType) + " " + awssdk.ToString(r.ResourceName)
		s.resources[k]++
		s.resourceTypes[k] = awssdk.ToString(r.ResourceType)
	}
	var rec record
	if e.CloudTrailEvent != nil && json.Unmarshal([]byte(*e.CloudTrailEvent), &rec) == nil {
		if rec.SourceIPAddress != "" {
			s.ips[rec.SourceIPAddress]++
		}
		if rec.UserAgent != "" {
			ua := rec.UserAgent
			if r := []rune(ua); len(r) > maxAgentLen {
				ua = string(r[:maxAgentLen]) + "…"
			}
			s.agents[ua]++
		}
		if rec.ErrorCode != "" {
			s.failed++
			s.errorCodes[rec.ErrorCode]++
		}
	}
}

type counted struct {
	name  string
	count int
}

// top returns the n most frequent entries, ties by name.
func (c counts) top(n int) []counted {
	all := make([]counted, 0, len(c))
	for k, v := range c {
		all = append(all, counted{k, v})
	}
	slices.SortFunc(all, func(a, b counted) int { return cmp.Or(cmp.Compare(b.count, a.count), strings.Compare(a.name, b.name)) })
	return all[:min(n, len(all))]
}

func (c counts) list(n int) []any {
	top := c.top(n)
	out := make([]any, len(top))
	for i, e := range top {
		out[i] = map[string]any{"name": e.name, "count": e.count}
	}
	return out
}

func (s *eventSummary) outputs() map[string]any {
	resources := make([]any, 0, topResources)
	for _, e := range s.resources.top(topResources) {
		typ := s.resourceTypes[e.name]
		resources = append(resources, map[string]any{"type": typ, "name": strings.TrimPrefix(e.name, typ+" "), "count": e.count})
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"total": s.total, "read_only": s.readOnly, "write": s.write, "errors": s.failed,
		"first_seen": when(s.first), "last_seen": when(s.last),
		"event_names": s.names.list(topEventNames), "distinct_event_names": len(s.names),
		"source_ips": s.ips.list(topSourceIPs), "distinct_source_ips": len(s.ips),
		"user_agents": s.agents.list(topAgents), "distinct_user_agents": len(s.agents),
		"resources": resources, "distinct_resources": len(s.resources),
		"error_codes": s.errorCodes.list(topErrorCodes),
	}
}

// summary reads like "1,204 events 2026-12-01T10:02Z–2026-12-03T09:55Z from 3 IPs: 612 GetObject,
// 200 ListBuckets, …".
func (s *eventSummary) summary(l lookup, region string, truncated bool) string {
	if s.total == 0 {
		return fmt.Sprintf("no CloudTrail events of %s in %s %s", l.what, region, l.window())
	}
	var b strings.Builder
	// The source IPs are what a responder acts on next (block them, ask whose they are): name
	// the busiest few.
	var ips []string
	for _, e := range s.ips.top(3) {
		ips = append(ips, e.name)
	}
	if more := len(s.ips) - len(ips); more > 0 {
		ips = append(ips, fmt.Sprintf("… (%d more)", more))
	}
	fmt.Fprintf(&b, "%s %s %s–%s from %s (%s): ", thousands(s.total), plural(s.total, "event", "events"),
		shortTime(s.first), shortTime(s.last), plural(len(s.ips), "1 IP", thousands(len(s.ips))+" IPs"), strings.Join(ips, ", "))
	const shown = 5
	var names []string
	for _, e := range s.names.top(shown) {
		names = append(names, thousands(e.count)+" "+e.name)
	}
	b.WriteString(strings.Join(names, ", "))
	if more := len(s.names) - shown; more > 0 {
		fmt.Fprintf(&b, ", … (%d more)", more)
	}
	fmt.Fprintf(&b, "; %s read-only, %s write", thousands(s.readOnly), thousands(s.write))
	if s.failed > 0 {
		var codes []string
		for _, e := range s.errorCodes.top(3) {
			codes = append(codes, fmt.Sprintf("%s %s", e.name, thousands(e.count)))
		}
		fmt.Fprintf(&b, "; %s failed (%s)", thousands(s.failed), strings.Join(codes, ", "))
	}
	if truncated {
		fmt.Fprintf(&b, "; stopped at max_events %s, more exist", thousands(l.max))
	}
	fmt.Fprintf(&b, " (%s in %s)", l.what, region)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// thousands writes n with thousands separators: 1,204.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
