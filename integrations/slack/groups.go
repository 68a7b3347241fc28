package slack

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/firebreak-ir/firebreak/activities"
)

// Groups resolves configured member lists (access.groups, responders,
// commanders) to Slack user IDs. Entries are user IDs (U…, W…) or Slack
// user group IDs (S…), expanded through usergroups.users.list and cached
// briefly so a burst of clicks costs one API call.
type Groups struct {
	API    *goslack.Client
	Static map[string][]string
	TTL    time.Duration
	Now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedGroup
}

type cachedGroup struct {
	members []string
	at      time.Time
}

func (g *Groups) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Members implements activities.GroupResolver for approver groups.
func (g *Groups) Members(ctx context.Context, group string) ([]string, error) {
	entries, ok := g.Static[group]
	if !ok {
		return nil, fmt.Errorf("%w %q (configure access.groups.%s)", activities.ErrUnknownGroup, group, group)
	}
	return g.Expand(ctx, entries)
}

// Expand turns entries into the sorted, de-duplicated user IDs they name.
func (g *Groups) Expand(ctx context.Context, entries []string) ([]string, error) {
	set := map[string]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e, "S") {
			set[e] = true
			continue
		}
		members, err := g.userGroup(ctx, e)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			set[m] = true
		}
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out, nil
}

// Contains reports whether user is named by entries.
func (g *Groups) Contains(ctx context.Context, entries []string, user string) (bool, error) {
	members, err := g.Expand(ctx, entries)
	if err != nil {
		return false, err
	}
	i := sort.SearchStrings(members, user)
	return i < len(members) && members[i] == user, nil
}

func (g *Groups) userGroup(ctx context.Context, id string) ([]string, error) {
	ttl := g.TTL
	if ttl == 0 {
		ttl = time.Minute
	}
	g.mu.Lock()
	c, ok := g.cache[id]
	g.mu.Unlock()
	if ok && g.now().Sub(c.at) < ttl {
		return c.members, nil
	}
	members, err := g.API.GetUserGroupMembersContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("members of user group %s: %w", id, err)
	}
	g.mu.Lock()
	if g.cache == nil {
		g.cache = map[string]cachedGroup{}
	}
	g.cache[id] = cachedGroup{members: members, at: g.now()}
	g.mu.Unlock()
	return members, nil
}

// Mention tags a group the way people know it: its configured entries
// (user groups stay one mention), else the resolved eligible users.
func (g *Groups) Mention(group string, eligible []string) string {
	if g != nil {
		if entries, ok := g.Static[group]; ok && len(entries) > 0 {
			return mentionOf(entries)
		}
	}
	return mentionOf(eligible)
}
