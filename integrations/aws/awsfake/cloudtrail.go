package awsfake

// cloudtrailState is the fake's CloudTrail state; the Server's mutex guards it.
type cloudtrailState struct{}

func newCloudTrailState() *cloudtrailState { return &cloudtrailState{} }

// registerCloudTrail registers the CloudTrail operations the fake serves.
func registerCloudTrail(*Server) {}

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *cloudtrailState) snapshot() any { return nil }
