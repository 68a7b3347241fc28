package awsfake

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func registerSTS(s *Server) {
	s.Handle("sts", "GetCallerIdentity", stsGetCallerIdentity)
	s.Handle("sts", "AssumeRole", stsAssumeRole)
	s.Handle("sts", "GetAccessKeyInfo", stsGetAccessKeyInfo)
}

type callerIdentity struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

func stsGetCallerIdentity(_ *Server, r *Request) (any, error) {
	return callerIdentity{UserID: r.Caller.UserID, Account: r.Caller.Account, Arn: r.Caller.ARN}, nil
}

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
}

// sessionNameRe is AWS's constraint on RoleSessionName.
var sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)

// roleARNRe splits arn:aws:iam::ACCOUNT:role/path/NAME.
var roleARNRe = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$`)

func stsAssumeRole(s *Server, r *Request) (any, error) {
	roleARN, name := r.Params.Get("RoleArn"), r.Params.Get("RoleSessionName")
	if len(name) < 2 || len(name) > 64 {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", name)}
	}
	if !sessionNameRe.MatchString(name) {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf(`1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`, name)}
	}
	duration := 3600
	if d := r.Params.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", d)}
		}
		duration = n
	}
	m := roleARNRe.FindStringSubmatch(roleARN)
	s.mu.Lock()
	defer s.mu.Unlock()
	wantExternal, known := s.roles[roleARN]
	if m == nil || !known || wantExternal != r.Params.Get("ExternalId") {
		return nil, &APIError{Status: 403, Code: "AccessDenied", Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", r.Caller.ARN, roleARN)}
	}
	account, roleName := m[1], m[2]
	roleID := "AROA" + strings.ToUpper(fmt.Sprintf("%x", account+roleName))[:17]
	p := Principal{Account: account, ARN: fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, name), UserID: roleID + ":" + name}
	token := "FwoGZXIvYXdzEfake" + s.nextID("T")
	id, secret := s.issueKey("ASIA", p, token)
	var out assumeRoleResult
	out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = id, secret, token
	// Expiry is only handed to the SDK's credential cache; no test outcome depends on the clock.
	out.Credentials.Expiration = time.Now().UTC().Add(time.Duration(duration) * time.Second).Format(time.RFC3339)
	out.AssumedRoleUser.AssumedRoleID, out.AssumedRoleUser.Arn = p.UserID, p.ARN
	return out, nil
}

type accessKeyInfo struct {
	Account string `xml:"Account"`
}

func stsGetAccessKeyInfo(s *Server, r *Request) (any, error) {
	id := r.Params.Get("AccessKeyId")
	if len(id) < 16 || len(id) > 128 {
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16", id)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		// AWS decodes the account from any well-formed key; the fake only knows keys it issued.
		return nil, &APIError{Code: "ValidationError", Message: fmt.Sprintf("awsfake: access key %s was not issued by this fake", id)}
	}
	return accessKeyInfo{Account: k.principal.Account}, nil
}
