package awsfake

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// wafState is the fake's WAFv2 state; the Server's mutex guards it.
type wafState struct {
	sets map[string]*wafIPSet // by ARN
	seq  int
	// concurrent holds, per IP set ARN, the addresses another writer adds just before the next
	// UpdateIPSet of that set is processed (see WAFv2ConcurrentUpdate).
	concurrent map[string][]string
}

type wafIPSet struct {
	account, region, scope string
	name, id, arn          string
	version, description   string
	addresses              []string
	lockToken              string
}

// WAFIPSet is an IP set as State shows it. The lock token is left out: it is a version marker
// that changes with every update, so a block followed by an unblock restores an equal State.
type WAFIPSet struct {
	Name             string
	ID               string
	Scope            string
	IPAddressVersion string
	Description      string
	Addresses        []string
}

func newWAFv2State() *wafState {
	return &wafState{sets: map[string]*wafIPSet{}, concurrent: map[string][]string{}}
}

// registerWAFv2 registers the WAFv2 operations the fake serves.
func registerWAFv2(s *Server) {
	s.Handle("wafv2", "GetIPSet", wafGetIPSet)
	s.Handle("wafv2", "UpdateIPSet", wafUpdateIPSet)
}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *wafState) snapshot() any {
	out := map[string]WAFIPSet{}
	for arn, set := range st.sets {
		out[arn] = WAFIPSet{Name: set.name, ID: set.id, Scope: set.scope, IPAddressVersion: set.version,
			Description: set.description, Addresses: slices.Clone(set.addresses)}
	}
	return out
}

// nextUUID returns a deterministic UUID-shaped string (IP set IDs and lock tokens look like
// this); st's lock must be held.
func (st *wafState) nextUUID() string {
	st.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", st.seq, st.seq)
}

// AddIPSet creates an IP set holding addresses (CIDRs, as WAF stores them) and returns its ID
// and ARN. scope is REGIONAL or CLOUDFRONT (CLOUDFRONT sets live in us-east-1, whatever region
// is given); version is IPV4 or IPV6. The set gets a description, so tests notice an update
// that drops it.
func (s *Server) AddIPSet(account, region, scope, name, version string, addresses ...string) (id, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := "regional"
	if scope == "CLOUDFRONT" {
		region, kind = "us-east-1", "global"
	}
	id = s.waf.nextUUID()
	arn = fmt.Sprintf("arn:aws:wafv2:%s:%s:%s/ipset/%s/%s", region, account, kind, name, id)
	s.waf.sets[arn] = &wafIPSet{account: account, region: region, scope: scope, name: name, id: id, arn: arn,
		version: version, description: "awsfake IP set " + name, addresses: slices.Clone(addresses),
		lockToken: s.waf.nextUUID()}
	return id, arn
}

// WAFv2ConcurrentUpdate makes another writer change the IP set arn just before the next
// UpdateIPSet of it is processed: addresses are appended and the lock token changes, so that
// update fails with WAFOptimisticLockException (its token is now stale) and the caller must
// re-read. It fires once.
func (s *Server) WAFv2ConcurrentUpdate(arn string, addresses ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waf.concurrent[arn] = slices.Clone(addresses)
}

type wafIPSetRequest struct {
	Name        string
	Scope       string
	ID          string `json:"Id"`
	Addresses   []string
	LockToken   string
	Description *string
}

type wafIPSetBody struct {
	Name             string
	ID               string `json:"Id"`
	ARN              string
	Description      string `json:",omitempty"`
	IPAddressVersion string
	Addresses        []string
}

// find returns the set a request names; s.mu must be held.
func (st *wafState) find(r *Request, in wafIPSetRequest) (*wafIPSet, error) {
	if in.Scope != "REGIONAL" && in.Scope != "CLOUDFRONT" || in.Scope == "CLOUDFRONT" && r.Region != "us-east-1" {
		// AWS only serves CloudFront's (global) sets from us-east-1.
		return nil, wafInvalidParameter("The scope is not valid.", "SCOPE_VALUE", in.Scope)
	}
	for _, set := range st.sets {
		if set.account == r.Caller.Account && set.region == r.Region && set.scope == in.Scope && set.id == in.ID && set.name == in.Name {
			return set, nil
		}
	}
	return nil, &APIError{Code: "WAFNonexistentItemException",
		Message: "AWS WAF couldn’t perform the operation because your resource doesn’t exist."}
}

func wafInvalidParameter(reason, field, parameter string) *APIError {
	return &APIError{Code: "WAFInvalidParameterException",
		Message: fmt.Sprintf("Error reason: %s, field: %s, parameter: %s", reason, field, parameter)}
}

// wafIPSetCall decodes a request naming an IP set and runs fn on the set, under s.mu.
func wafIPSetCall(s *Server, r *Request, fn func(set *wafIPSet, in wafIPSetRequest) (any, error)) (any, error) {
	var in wafIPSetRequest
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return nil, &APIError{Code: "SerializationException", Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := s.waf.find(r, in)
	if err != nil {
		return nil, err
	}
	return fn(set, in)
}

func wafGetIPSet(s *Server, r *Request) (any, error) {
	return wafIPSetCall(s, r, func(set *wafIPSet, _ wafIPSetRequest) (any, error) {
		return struct {
			IPSet     wafIPSetBody
			LockToken string
		}{
			IPSet: wafIPSetBody{Name: set.name, ID: set.id, ARN: set.arn, Description: set.description,
				IPAddressVersion: set.version, Addresses: slices.Clone(set.addresses)},
			LockToken: set.lockToken,
		}, nil
	})
}

func wafUpdateIPSet(s *Server, r *Request) (any, error) {
	return wafIPSetCall(s, r, s.waf.update)
}

// update applies an UpdateIPSet; s.mu must be held.
func (st *wafState) update(set *wafIPSet, in wafIPSetRequest) (any, error) {
	if other, ok := st.concurrent[set.arn]; ok {
		delete(st.concurrent, set.arn)
		set.addresses = append(set.addresses, other...)
		set.lockToken = st.nextUUID()
	}
	for _, a := range in.Addresses {
		if !wafValidAddress(a, set.version) {
			return nil, wafInvalidParameter("The parameter contains formatting that is not valid.", "IP_ADDRESS", a)
		}
	}
	if in.LockToken != set.lockToken {
		return nil, &APIError{Code: "WAFOptimisticLockException",
			Message: "AWS WAF couldn’t save your changes because someone changed the resource after you started to edit it. Reapply your changes."}
	}
	// UpdateIPSet replaces the whole specification: a description not sent is cleared.
	set.addresses = slices.Clone(in.Addresses)
	set.description = ""
	if in.Description != nil {
		set.description = *in.Description
	}
	set.lockToken = st.nextUUID()
	return struct{ NextLockToken string }{set.lockToken}, nil
}

// wafValidAddress is WAF's rule for an IP set entry: a CIDR of the set's version, prefix length
// 1 or more (WAF refuses /0), no bare addresses.
func wafValidAddress(a, version string) bool {
	if !strings.Contains(a, "/") {
		return false
	}
	p, err := netip.ParsePrefix(a)
	if err != nil || p.Bits() == 0 {
		return false
	}
	if version == "IPV4" {
		return p.Addr().Is4()
	}
	return p.Addr().Is6() && !p.Addr().Is4In6()
}
