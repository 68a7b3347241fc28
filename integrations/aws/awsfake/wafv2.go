package awsfake

// wafState is the fake's WAFv2 state; the Server's mutex guards it.
type wafState struct{}

func newWAFv2State() *wafState { return &wafState{} }

// registerWAFv2 registers the WAFv2 operations the fake serves.
func registerWAFv2(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *wafState) snapshot() any { return nil }
