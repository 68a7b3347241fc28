package activities

// cloudtrailActions lists the CloudTrail actions.
func (a *AWS) cloudtrailActions() []Action { return nil }
