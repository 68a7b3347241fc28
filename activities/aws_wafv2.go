package activities

// wafv2Actions lists the WAFv2 actions.
func (a *AWS) wafv2Actions() []Action { return nil }
