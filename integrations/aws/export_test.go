package aws

// SetMaxSessions lets tests reach the cache bound without a thousand sessions.
func (a *Accounts) SetMaxSessions(n int) { a.maxSessions = n }
