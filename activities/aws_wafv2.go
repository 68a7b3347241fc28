package activities

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/wafv2"
	wafv2types "github.com/aws/aws-sdk-go-v2/service/wafv2/types"
	"go.temporal.io/sdk/temporal"

	fbaws "github.com/firebreak-ir/firebreak/integrations/aws"
	"github.com/firebreak-ir/firebreak/integrations/config"
)

// wafv2Actions lists the WAFv2 actions.
func (a *AWS) wafv2Actions() []Action {
	return []Action{a.wafv2IPs(wafBlock), a.wafv2IPs(wafUnblock)}
}

// WAFIPSetInput is the input of aws.wafv2.block_ips and aws.wafv2.unblock_ips.
type WAFIPSetInput struct {
	AWSTarget
	// IPSet names the set: name and id, or its ARN.
	IPSet WAFIPSetRef `json:"ip_set" action:"required"`
	// Scope is REGIONAL (default) or CLOUDFRONT (CloudFront's sets live in us-east-1); an ARN
	// says it itself.
	Scope string `json:"scope,omitempty"`
	// Addresses are IPs or CIDRs; a bare IP means that one address (/32, /128).
	Addresses []string `json:"addresses" action:"required"`
}

// WAFIPSetRef names a WAFv2 IP set.
type WAFIPSetRef struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	ARN  string `json:"arn,omitempty"`
}

// wafMode is what a step does to an IP set.
type wafMode int

const (
	wafBlock wafMode = iota
	wafUnblock
)

// wafLockAttempts bounds the re-read-and-retry loop on WAFOptimisticLockException: another
// writer is rare, and a set that keeps changing under us is better left to Temporal's retry.
const wafLockAttempts = 5

// wafIPSetARNRe reads arn:aws:wafv2:REGION:ACCOUNT:regional|global/ipset/NAME/ID.
var wafIPSetARNRe = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:([a-z0-9-]+):(\d{12}):(regional|global)/ipset/([\w-]{1,128})/([0-9a-f-]{1,128})$`)

func (a *AWS) wafv2IPs(mode wafMode) Action {
	name, desc := "aws.wafv2.block_ips", "Add addresses (IPs or CIDRs) to a WAFv2 IP set that a block rule uses. "+
		"Refuses more than aws.wafv2.max_block addresses and anything overlapping aws.wafv2.never_block. "+
		"Outputs `added`: only what this step added, which is what unblock_ips should remove to undo it."
	if mode == wafUnblock {
		name, desc = "aws.wafv2.unblock_ips", "Remove addresses (IPs or CIDRs) from a WAFv2 IP set; absent ones are skipped."
	}
	return Def[WAFIPSetInput]{
		Name:        name,
		Description: desc,
		Permissions: Permissions{IAM: []IAMPermission{
			{Action: "wafv2:GetIPSet", Resource: "arn:aws:wafv2:*:*:*/ipset/*/*"},
			{Action: "wafv2:UpdateIPSet", Resource: "arn:aws:wafv2:*:*:*/ipset/*/*"},
		}},
		PlanFunc: func(ctx context.Context, req Request, in WAFIPSetInput) (Plan, error) {
			return a.wafPlan(ctx, req, name, mode, in)
		},
		ExecuteFunc: func(ctx context.Context, req Request, in WAFIPSetInput) (Result, error) {
			return a.wafExecute(ctx, req, name, mode, in)
		},
	}
}

// wafTarget is a validated WAFIPSetInput.
type wafTarget struct {
	where     AWSTarget
	name, id  string
	scope     wafv2types.Scope
	addresses []netip.Prefix // normalised, de-duplicated, in the order given
}

// wafCheck validates and normalises the input, and for a block applies the configured limits,
// all before any call to AWS, so a refused step changes nothing.
func (a *AWS) wafCheck(action string, mode wafMode, in WAFIPSetInput) (wafTarget, error) {
	t := wafTarget{where: in.AWSTarget, name: in.IPSet.Name, id: in.IPSet.ID}
	scope := strings.ToUpper(in.Scope)
	switch {
	case in.IPSet.ARN != "":
		if in.IPSet.Name != "" || in.IPSet.ID != "" {
			return t, badInput(action, "ip_set: give its arn, or its name and id, not both")
		}
		m := wafIPSetARNRe.FindStringSubmatch(in.IPSet.ARN)
		if m == nil {
			return t, badInput(action, "ip_set.arn: %q is not a WAFv2 IP set ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID)", in.IPSet.ARN)
		}
		arnScope := "REGIONAL"
		if m[3] == "global" {
			arnScope = "CLOUDFRONT"
		}
		if scope != "" && scope != arnScope {
			return t, badInput(action, "scope: %s, but ip_set.arn is a %s set", scope, arnScope)
		}
		if in.Region != "" && in.Region != m[1] {
			return t, badInput(action, "region: %s, but ip_set.arn is in %s", in.Region, m[1])
		}
		scope, t.where.Region, t.name, t.id = arnScope, m[1], m[4], m[5]
	case in.IPSet.Name == "" || in.IPSet.ID == "":
		return t, badInput(action, "ip_set: give its name and id, or its arn")
	}
	switch scope {
	case "", "REGIONAL":
		t.scope = wafv2types.ScopeRegional
	case "CLOUDFRONT":
		if t.where.Region != "" && t.where.Region != "us-east-1" {
			return t, badInput(action, "region: CloudFront IP sets are in us-east-1, not %s", t.where.Region)
		}
		t.scope, t.where.Region = wafv2types.ScopeCloudfront, "us-east-1"
	default:
		return t, badInput(action, "scope: %q, want REGIONAL or CLOUDFRONT", in.Scope)
	}
	var bad []string
	for _, s := range in.Addresses {
		p, err := parseWAFAddress(s)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		if !slices.Contains(t.addresses, p) {
			t.addresses = append(t.addresses, p)
		}
	}
	if len(bad) > 0 {
		return t, badInput(action, "addresses: %s", strings.Join(bad, "; "))
	}
	if mode == wafUnblock {
		return t, nil
	}
	limit := a.WAFv2.MaxBlock
	if limit == 0 {
		limit = config.DefaultWAFMaxBlock
	}
	if len(t.addresses) > limit {
		return t, badInput(action, "addresses: %d addresses, more than aws.wafv2.max_block (%d) allows in one step; nothing was blocked", len(t.addresses), limit)
	}
	var never []netip.Prefix
	for _, s := range a.WAFv2.NeverBlock {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				// Config validation refuses this; refusing to block is the safe answer if it slips through.
				return t, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: aws.wafv2.never_block entry %q is not a CIDR", action, s), "BadConfig", err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		never = append(never, p.Masked())
	}
	for _, p := range t.addresses {
		for _, n := range never {
			if p.Overlaps(n) {
				bad = append(bad, fmt.Sprintf("%s overlaps %s", p, n))
			}
		}
	}
	if len(bad) > 0 {
		return t, badInput(action, "addresses: %s in aws.wafv2.never_block; nothing was blocked", strings.Join(bad, ", "))
	}
	return t, nil
}

// parseWAFAddress reads an IP or CIDR as WAF stores it: a bare address becomes its /32 or /128.
func parseWAFAddress(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		if p.Bits() == 0 {
			return p, fmt.Errorf("%q is every address (WAF refuses /0)", s)
		}
		if p != p.Masked() {
			// Blocking the whole range silently could hit far more than meant.
			return p, fmt.Errorf("%q has host bits set: write %s for the range or %s for the address", s, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
		}
	} else {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return p, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("%q is an IPv4 address written as IPv6: write %s", s, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96))
	}
	return p, nil
}

// wafSet is an IP set as read: its entries, each parsed where it parses.
type wafSet struct {
	out     *wafv2.GetIPSetOutput
	entries []string
	parsed  []netip.Prefix // zero Prefix for an entry that does not parse
}

func (s wafSet) arn() string { return awssdk.ToString(s.out.IPSet.ARN) }

func (s wafSet) has(p netip.Prefix) bool { return slices.Contains(s.parsed, p) }

// wafDiff is what a step changes in a set.
type wafDiff struct {
	change    []netip.Prefix // to add (block) or remove (unblock)
	unchanged []netip.Prefix // already present (block) or absent (unblock)
	next      []string       // the set's entries after the change
}

func wafRead(ctx context.Context, client *wafv2.Client, t wafTarget) (wafSet, error) {
	out, err := client.GetIPSet(ctx, &wafv2.GetIPSetInput{Name: &t.name, Id: &t.id, Scope: t.scope})
	if err != nil {
		return wafSet{}, awsFailure(err)
	}
	s := wafSet{out: out}
	if out.IPSet != nil {
		s.entries = out.IPSet.Addresses
	}
	for _, e := range s.entries {
		p, _ := netip.ParsePrefix(e)
		s.parsed = append(s.parsed, p.Masked())
	}
	return s, nil
}

// diff checks the addresses against the set's IP version and works out the change.
func (t wafTarget) diff(action string, mode wafMode, s wafSet) (wafDiff, error) {
	version := s.out.IPSet.IPAddressVersion
	var d wafDiff
	for _, p := range t.addresses {
		if p.Addr().Is4() != (version == wafv2types.IPAddressVersionIpv4) {
			family := "IPv6"
			if p.Addr().Is4() {
				family = "IPv4"
			}
			return d, badInput(action, "addresses: %s is %s, but IP set %s holds %s addresses; nothing was changed", p, family, t.name, version)
		}
		if s.has(p) == (mode == wafBlock) {
			d.unchanged = append(d.unchanged, p)
		} else {
			d.change = append(d.change, p)
		}
	}
	if mode == wafBlock {
		d.next = slices.Clone(s.entries)
		for _, p := range d.change {
			d.next = append(d.next, p.String())
		}
		return d, nil
	}
	d.next = []string{}
	for i, e := range s.entries {
		// Other entries keep the spelling AWS stored them with.
		if !s.parsed[i].IsValid() || !slices.Contains(d.change, s.parsed[i]) {
			d.next = append(d.next, e)
		}
	}
	return d, nil
}

func (a *AWS) wafPlan(ctx context.Context, req Request, action string, mode wafMode, in WAFIPSetInput) (Plan, error) {
	t, err := a.wafCheck(action, mode, in)
	if err != nil {
		return Plan{}, err
	}
	if len(t.addresses) == 0 {
		return Plan{Summary: "no change: no addresses given"}, nil
	}
	sess, err := a.session(ctx, req, t.where)
	if err != nil {
		return Plan{}, err
	}
	s, err := wafRead(ctx, wafv2.NewFromConfig(sess.Config), t)
	if err != nil {
		return Plan{}, err
	}
	d, err := t.diff(action, mode, s)
	if err != nil {
		return Plan{}, err
	}
	verb, prep, already := "add", "to", "already in"
	if mode == wafUnblock {
		verb, prep, already = "remove", "from", "not in"
	}
	where := fmt.Sprintf("IP set %s (%s, %s)", t.name, t.scope, sess.Config.Region)
	var p Plan
	for _, c := range d.change {
		p.Changes = append(p.Changes, fmt.Sprintf("%s %s %s %s", verb, c, prep, t.name))
	}
	for _, u := range d.unchanged {
		p.Changes = append(p.Changes, fmt.Sprintf("%s %s: %s (no change)", already, t.name, u))
	}
	if len(d.change) == 0 {
		p.Summary = fmt.Sprintf("no change: %s %s", already, where)
		if len(d.unchanged) > 1 {
			p.Summary = fmt.Sprintf("no change: all %d addresses are %s %s", len(d.unchanged), already, where)
		}
		return p, nil
	}
	p.Summary = fmt.Sprintf("%s %s %s %s", verb, wafJoin(d.change), prep, where)
	if len(d.unchanged) > 0 {
		p.Summary += fmt.Sprintf("; %s it: %s", already, wafJoin(d.unchanged))
	}
	return p, nil
}

func (a *AWS) wafExecute(ctx context.Context, req Request, action string, mode wafMode, in WAFIPSetInput) (Result, error) {
	t, err := a.wafCheck(action, mode, in)
	if err != nil {
		return Result{}, err
	}
	changed, unchanged, verb, already := "added", "already_present", "blocked", "already blocked"
	if mode == wafUnblock {
		changed, unchanged, verb, already = "removed", "not_present", "unblocked", "not blocked"
	}
	if len(t.addresses) == 0 {
		// An unblock of a block that added nothing: no set to read, nothing to undo.
		return Result{Summary: "no addresses given: nothing changed",
			Outputs: map[string]any{changed: []any{}, unchanged: []any{}}}, nil
	}
	sess, err := a.session(ctx, req, t.where)
	if err != nil {
		return Result{}, err
	}
	d, arn, err := t.apply(ctx, action, mode, wafv2.NewFromConfig(sess.Config))
	res := Result{Resource: arn, RequestIDs: sess.RequestIDs()}
	if err != nil {
		return res, err
	}
	res.Outputs = map[string]any{"ip_set_arn": arn, changed: wafPrefixList(d.change), unchanged: wafPrefixList(d.unchanged)}
	switch {
	case len(d.change) == 0:
		res.Summary = fmt.Sprintf("no change: %s in %s", already, t.name)
	case len(d.unchanged) == 0:
		res.Summary = fmt.Sprintf("%s %s in %s", verb, wafJoin(d.change), t.name)
	default:
		res.Summary = fmt.Sprintf("%s %s in %s; %s: %s", verb, wafJoin(d.change), t.name, already, wafJoin(d.unchanged))
	}
	if mode == wafBlock && req.Attempt > 1 && len(d.unchanged) > 0 {
		// An earlier attempt may have added these before losing its answer; they are not in
		// `added`, so undoing this step leaves them blocked rather than unblocking someone else's.
		res.Summary += fmt.Sprintf(" (attempt %d: an earlier attempt may have added the ones already there; undoing this step keeps them)", req.Attempt)
	}
	return res, nil
}

// apply reads the set and updates it with the lock token it read, re-reading and trying again
// when another writer got in between; it returns the change made and the set's ARN.
func (t wafTarget) apply(ctx context.Context, action string, mode wafMode, client *wafv2.Client) (wafDiff, string, error) {
	for attempt := 1; ; attempt++ {
		// Re-read on every attempt: the lock token, and what is already there, may have changed.
		s, err := wafRead(ctx, client, t)
		if err != nil {
			return wafDiff{}, "", err
		}
		d, err := t.diff(action, mode, s)
		if err != nil || len(d.change) == 0 {
			return d, s.arn(), err
		}
		_, err = client.UpdateIPSet(ctx, &wafv2.UpdateIPSetInput{Name: &t.name, Id: &t.id, Scope: t.scope,
			Addresses: d.next, LockToken: s.out.LockToken, Description: s.out.IPSet.Description})
		var lock *wafv2types.WAFOptimisticLockException
		switch {
		case errors.As(err, &lock) && attempt < wafLockAttempts:
			continue
		case errors.As(err, &lock):
			// Contention is transient: Temporal's retry policy tries again later.
			ae := fbaws.Classify(err)
			return d, s.arn(), temporal.NewApplicationErrorWithCause(
				fmt.Sprintf("%s: IP set %s changed under each of %d attempts: %v", action, t.name, wafLockAttempts, ae), "WAFOptimisticLockException", ae)
		case err != nil:
			return d, s.arn(), awsFailure(err)
		}
		return d, s.arn(), nil
	}
}

func wafPrefixList(ps []netip.Prefix) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// wafJoin lists addresses for a summary, the first few by name.
func wafJoin(ps []netip.Prefix) string {
	const shown = 10
	var parts []string
	for i, p := range ps {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-shown))
			break
		}
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}
