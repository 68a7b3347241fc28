package awsfake

// iamState is the fake's IAM state; the Server's mutex guards it.
type iamState struct{}

func newIAMState() *iamState { return &iamState{} }

// registerIAM registers the IAM operations the fake serves.
func registerIAM(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *iamState) snapshot() any { return nil }
