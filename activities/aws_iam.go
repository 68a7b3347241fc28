package activities

// iamActions lists the IAM actions.
func (a *AWS) iamActions() []Action { return nil }
