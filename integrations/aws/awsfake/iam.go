package awsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// iamState is the fake's IAM state; the Server's mutex guards it. IAM is global, so it is keyed
// by account only.
type iamState struct {
	accounts map[string]*iamAccount
}

type iamAccount struct {
	users    map[string]*iamUser
	roles    map[string]*iamRole
	profiles map[string]*iamInstanceProfile
}

type iamUser struct {
	Name, Path, ID, ARN string
	Created             time.Time
	Tags                []IAMTag
	Keys                []*iamKey
	Policies            map[string]string // inline policy name -> document as put
	LoginProfile        *iamLoginProfile
}

type iamKey struct {
	ID       string
	Status   string
	Created  time.Time
	LastUsed *AccessKeyUse
}

type iamLoginProfile struct {
	Created               time.Time
	PasswordResetRequired bool
}

type iamRole struct {
	Name, Path, ID, ARN string
	Created             time.Time
	Policies            map[string]string
}

type iamInstanceProfile struct {
	Name, Path, ID, ARN string
	Created             time.Time
	Role                string // "" when the profile has no role
}

func newIAMState() *iamState { return &iamState{accounts: map[string]*iamAccount{}} }

// account returns the account's IAM, created on first use; seeding only, so that a call never
// changes State by merely looking.
func (st *iamState) account(id string) *iamAccount {
	a, ok := st.accounts[id]
	if !ok {
		a = newIAMAccount()
		st.accounts[id] = a
	}
	return a
}

// lookup returns the account's IAM, empty when nothing was seeded there.
func (st *iamState) lookup(id string) *iamAccount {
	if a, ok := st.accounts[id]; ok {
		return a
	}
	return newIAMAccount()
}

func newIAMAccount() *iamAccount {
	return &iamAccount{users: map[string]*iamUser{}, roles: map[string]*iamRole{}, profiles: map[string]*iamInstanceProfile{}}
}

// registerIAM registers the IAM operations the fake serves.
func registerIAM(s *Server) {
	s.Handle("iam", "GetUser", iamGetUser)
	s.Handle("iam", "GetRole", iamGetRole)
	s.Handle("iam", "TagUser", iamTagUser)
	s.Handle("iam", "UntagUser", iamUntagUser)
	s.Handle("iam", "ListAccessKeys", iamListAccessKeys)
	s.Handle("iam", "GetAccessKeyLastUsed", iamGetAccessKeyLastUsed)
	s.Handle("iam", "UpdateAccessKey", iamUpdateAccessKey)
	s.Handle("iam", "PutUserPolicy", iamPutPolicy(userPolicies))
	s.Handle("iam", "GetUserPolicy", iamGetPolicy(userPolicies))
	s.Handle("iam", "DeleteUserPolicy", iamDeletePolicy(userPolicies))
	s.Handle("iam", "PutRolePolicy", iamPutPolicy(rolePolicies))
	s.Handle("iam", "GetRolePolicy", iamGetPolicy(rolePolicies))
	s.Handle("iam", "DeleteRolePolicy", iamDeletePolicy(rolePolicies))
	s.Handle("iam", "GetLoginProfile", iamGetLoginProfile)
	s.Handle("iam", "DeleteLoginProfile", iamDeleteLoginProfile)
	s.Handle("iam", "GetInstanceProfile", iamGetInstanceProfile)
}

// IAMTag is a tag on an IAM user.
type IAMTag struct{ Key, Value string }

// AccessKeyUse is when, where and for which service an access key was last used.
type AccessKeyUse struct {
	Date    time.Time
	Service string // e.g. "s3"
	Region  string // e.g. "eu-west-1"
}

// IAMAccessKey describes an access key to seed on an IAMUser.
type IAMAccessKey struct {
	// Status is "Active" (when empty) or "Inactive".
	Status string
	// LastUsed is nil for a key never used.
	LastUsed *AccessKeyUse
}

// IAMUser describes an IAM user to seed with AddIAMUser.
type IAMUser struct {
	Name string
	Path string // "/" when empty
	// Keys are the user's access keys (AWS allows two).
	Keys []IAMAccessKey
	// LoginProfile gives the user a console password.
	LoginProfile bool
	// Policies are inline policies: name -> JSON document.
	Policies map[string]string
	Tags     []IAMTag
}

// IssuedKey is an access key pair the fake issued.
type IssuedKey struct {
	AccessKeyID     string
	SecretAccessKey string
}

// AddIAMUser creates an IAM user in account with u's keys, login profile, inline policies and
// tags. Each access key is also issued for signing (as AddUser's are), so STS GetAccessKeyInfo and
// requests signed with it work; the returned pairs are in u.Keys' order.
//
// The status UpdateAccessKey sets is kept in IAM's state (see AccessKeyStatus); the request gate
// does not consult it yet, so an Inactive key still signs requests.
func (s *Server) AddIAMUser(account string, u IAMUser) []IssuedKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := u.Path
	if path == "" {
		path = "/"
	}
	now := time.Now().UTC().Truncate(time.Second)
	user := &iamUser{
		Name: u.Name, Path: path, ID: s.nextID("AIDA"), Created: now,
		ARN:      fmt.Sprintf("arn:aws:iam::%s:user%s%s", account, path, u.Name),
		Policies: maps.Clone(u.Policies),
	}
	if len(u.Tags) > 0 {
		user.Tags = slices.Clone(u.Tags)
	}
	if user.Policies == nil {
		user.Policies = map[string]string{}
	}
	if u.LoginProfile {
		user.LoginProfile = &iamLoginProfile{Created: now}
	}
	var issued []IssuedKey
	for _, k := range u.Keys {
		id, secret := s.issueKey("AKIA", Principal{Account: account, ARN: user.ARN, UserID: user.ID}, "")
		status := k.Status
		if status == "" {
			status = "Active"
		}
		var used *AccessKeyUse
		if k.LastUsed != nil {
			cp := *k.LastUsed
			used = &cp
		}
		user.Keys = append(user.Keys, &iamKey{ID: id, Status: status, Created: now, LastUsed: used})
		issued = append(issued, IssuedKey{AccessKeyID: id, SecretAccessKey: secret})
	}
	s.iam.account(account).users[u.Name] = user
	return issued
}

// IAMRole describes an IAM role to seed with AddIAMRole.
type IAMRole struct {
	Name     string
	Path     string            // "/" when empty
	Policies map[string]string // inline policies: name -> JSON document
}

// AddIAMRole creates an IAM role in account and returns its ARN. It is IAM's view of the role
// (inline policies); AddRole is what lets callers assume a role.
func (s *Server) AddIAMRole(account string, r IAMRole) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := r.Path
	if path == "" {
		path = "/"
	}
	role := &iamRole{
		Name: r.Name, Path: path, ID: s.nextID("AROA"), Created: time.Now().UTC().Truncate(time.Second),
		ARN:      fmt.Sprintf("arn:aws:iam::%s:role%s%s", account, path, r.Name),
		Policies: maps.Clone(r.Policies),
	}
	if role.Policies == nil {
		role.Policies = map[string]string{}
	}
	s.iam.account(account).roles[r.Name] = role
	return role.ARN
}

// AddInstanceProfile creates an instance profile in account holding roleName ("" for none; the
// role is created by AddIAMRole) and returns its ARN.
func (s *Server) AddInstanceProfile(account, name, roleName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &iamInstanceProfile{
		Name: name, Path: "/", ID: s.nextID("AIPA"), Created: time.Now().UTC().Truncate(time.Second),
		ARN:  fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", account, name),
		Role: roleName,
	}
	s.iam.account(account).profiles[name] = p
	return p.ARN
}

// AccessKeyStatus returns the IAM status of an access key ("Active", "Inactive"), or "" for a key
// that is no IAM user's. A request gate that refuses inactive keys would ask this.
func (s *Server) AccessKeyStatus(accessKeyID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iam.keyStatus(accessKeyID)
}

// keyStatus is the IAM status of a key ("" when IAM does not know it); st's Server's mu must be
// held.
func (st *iamState) keyStatus(accessKeyID string) string {
	for _, a := range st.accounts {
		if _, k := a.findKey(accessKeyID); k != nil {
			return k.Status
		}
	}
	return ""
}

// SetAccessKeyLastUsed records a use of an access key, as AWS does a while after a request.
func (s *Server) SetAccessKeyLastUsed(accessKeyID string, use AccessKeyUse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.iam.accounts {
		if _, k := a.findKey(accessKeyID); k != nil {
			k.LastUsed = &use
			return
		}
	}
	panic("awsfake: SetAccessKeyLastUsed: no IAM user has key " + accessKeyID)
}

func (a *iamAccount) findKey(id string) (*iamUser, *iamKey) {
	for _, u := range a.users {
		for _, k := range u.Keys {
			if k.ID == id {
				return u, k
			}
		}
	}
	return nil, nil
}

// Snapshot types: plain values, exported fields so that JSON shows them too.
type (
	iamSnapshot map[string]iamAccountSnapshot

	iamAccountSnapshot struct {
		Users            map[string]iamUserSnapshot
		Roles            map[string]iamRoleSnapshot
		InstanceProfiles map[string]iamInstanceProfile
	}
	iamUserSnapshot struct {
		Name, Path, ID, ARN string
		Created             time.Time
		Tags                []IAMTag
		Keys                []iamKeySnapshot
		Policies            map[string]string
		LoginProfile        *iamLoginProfile
	}
	iamKeySnapshot struct {
		ID       string
		Status   string
		Created  time.Time
		LastUsed *AccessKeyUse
	}
	iamRoleSnapshot struct {
		Name, Path, ID, ARN string
		Created             time.Time
		Policies            map[string]string
	}
)

// snapshot returns a deep copy of the state for State; s.mu must be held.
func (st *iamState) snapshot() any {
	out := iamSnapshot{}
	for id, a := range st.accounts {
		as := iamAccountSnapshot{Users: map[string]iamUserSnapshot{}, Roles: map[string]iamRoleSnapshot{}, InstanceProfiles: map[string]iamInstanceProfile{}}
		for name, u := range a.users {
			us := iamUserSnapshot{Name: u.Name, Path: u.Path, ID: u.ID, ARN: u.ARN, Created: u.Created,
				Tags: slices.Clone(u.Tags), Policies: maps.Clone(u.Policies)}
			if u.LoginProfile != nil {
				lp := *u.LoginProfile
				us.LoginProfile = &lp
			}
			for _, k := range u.Keys {
				ks := iamKeySnapshot{ID: k.ID, Status: k.Status, Created: k.Created}
				if k.LastUsed != nil {
					lu := *k.LastUsed
					ks.LastUsed = &lu
				}
				us.Keys = append(us.Keys, ks)
			}
			as.Users[name] = us
		}
		for name, r := range a.roles {
			as.Roles[name] = iamRoleSnapshot{Name: r.Name, Path: r.Path, ID: r.ID, ARN: r.ARN, Created: r.Created, Policies: maps.Clone(r.Policies)}
		}
		for name, p := range a.profiles {
			as.InstanceProfiles[name] = *p
		}
		out[id] = as
	}
	return out
}

// iamTime is how IAM writes timestamps.
func iamTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Validation as IAM answers it.
var (
	iamNameRe     = regexp.MustCompile(`^[\w+=,.@-]+$`)
	accessKeyIDRe = regexp.MustCompile(`^\w+$`)
)

func iamValidation(value, member, constraint string) *APIError {
	return &APIError{Code: "ValidationError", Message: fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)}
}

// iamName checks a user, role or policy name parameter the way IAM does.
func iamName(r *Request, param string, max int) (string, *APIError) {
	v := r.Params.Get(param)
	member := strings.ToLower(param[:1]) + param[1:]
	if v == "" {
		return "", iamValidation(v, member, "Member must have length greater than or equal to 1")
	}
	if len(v) > max {
		return "", iamValidation(v, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
	if !iamNameRe.MatchString(v) {
		return "", iamValidation(v, member, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	return v, nil
}

func iamAccessKeyID(r *Request) (string, *APIError) {
	v := r.Params.Get("AccessKeyId")
	if len(v) < 16 || len(v) > 128 {
		return "", iamValidation(v, "accessKeyId", "Member must have length greater than or equal to 16")
	}
	if !accessKeyIDRe.MatchString(v) {
		return "", iamValidation(v, "accessKeyId", `Member must satisfy regular expression pattern: [\w]+`)
	}
	return v, nil
}

func noSuchEntity(format string, args ...any) *APIError {
	return &APIError{Status: 404, Code: "NoSuchEntity", Message: fmt.Sprintf(format, args...)}
}

// user finds the user named by the UserName parameter; s.mu must be held.
func (s *Server) iamUser(r *Request) (*iamUser, error) {
	name, verr := iamName(r, "UserName", 64)
	if verr != nil {
		return nil, verr
	}
	u := s.iam.lookup(r.Caller.Account).users[name]
	if u == nil {
		return nil, noSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (s *Server) iamRole(r *Request) (*iamRole, error) {
	name, verr := iamName(r, "RoleName", 64)
	if verr != nil {
		return nil, verr
	}
	role := s.iam.lookup(r.Caller.Account).roles[name]
	if role == nil {
		return nil, noSuchEntity("The role with name %s cannot be found.", name)
	}
	return role, nil
}

type iamXMLTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type getUserResult struct {
	User struct {
		Path       string      `xml:"Path"`
		UserName   string      `xml:"UserName"`
		UserID     string      `xml:"UserId"`
		Arn        string      `xml:"Arn"`
		CreateDate string      `xml:"CreateDate"`
		Tags       []iamXMLTag `xml:"Tags>member,omitempty"`
	} `xml:"User"`
}

func iamGetUser(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *iamUser
	if !r.Params.Has("UserName") {
		// Without a name IAM answers for the caller, who must be a user.
		path, name, ok := strings.Cut(strings.TrimPrefix(r.Caller.ARN, "arn:aws:iam::"+r.Caller.Account+":user"), "/")
		if !ok || !strings.HasPrefix(r.Caller.ARN, "arn:aws:iam::") {
			return nil, &APIError{Code: "ValidationError", Message: "Must specify userName when calling with non-User credentials"}
		}
		if i := strings.LastIndex(name, "/"); i >= 0 {
			path, name = path+"/"+name[:i], name[i+1:]
		}
		if u = s.iam.lookup(r.Caller.Account).users[name]; u == nil {
			// A user AddUser made: known to STS, not seeded in IAM.
			u = &iamUser{Name: name, Path: path + "/", ID: r.Caller.UserID, ARN: r.Caller.ARN}
		}
	} else {
		var err error
		if u, err = s.iamUser(r); err != nil {
			return nil, err
		}
	}
	var out getUserResult
	out.User.Path, out.User.UserName, out.User.UserID, out.User.Arn, out.User.CreateDate = u.Path, u.Name, u.ID, u.ARN, iamTime(u.Created)
	for _, t := range u.Tags {
		out.User.Tags = append(out.User.Tags, iamXMLTag(t))
	}
	return out, nil
}

type getRoleResult struct {
	Role xmlRole `xml:"Role"`
}

func iamGetRole(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	role, err := s.iamRole(r)
	if err != nil {
		return nil, err
	}
	return getRoleResult{Role: xmlRole{Path: role.Path, RoleName: role.Name, RoleID: role.ID, Arn: role.ARN, CreateDate: iamTime(role.Created)}}, nil
}

// maxUserTags is IAM's quota of tags per user.
const maxUserTags = 50

func iamTagUser(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	var tags []IAMTag
	for i := 1; r.Params.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
		k, v := r.Params.Get(fmt.Sprintf("Tags.member.%d.Key", i)), r.Params.Get(fmt.Sprintf("Tags.member.%d.Value", i))
		if k == "" || len(k) > 128 || !validTagText(k) || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, &APIError{Code: "InvalidInput", Message: fmt.Sprintf("Invalid tag key: %q", k)}
		}
		if len(v) > 256 || !validTagText(v) {
			return nil, &APIError{Code: "InvalidInput", Message: fmt.Sprintf("Invalid tag value: %q", v)}
		}
		tags = append(tags, IAMTag{Key: k, Value: v})
	}
	if len(tags) == 0 {
		return nil, iamValidation("[]", "tags", "Member must have length greater than or equal to 1")
	}
	merged := slices.Clone(u.Tags)
	for _, t := range tags {
		if i := slices.IndexFunc(merged, func(x IAMTag) bool { return x.Key == t.Key }); i >= 0 {
			merged[i].Value = t.Value
		} else {
			merged = append(merged, t)
		}
	}
	if len(merged) > maxUserTags {
		return nil, &APIError{Status: 409, Code: "LimitExceeded", Message: fmt.Sprintf("Cannot exceed quota for TagsPerUser: %d", maxUserTags)}
	}
	u.Tags = merged
	return nil, nil
}

// validTagText is IAM's tag character set: letters, digits, spaces and _.:/=+-@.
func validTagText(s string) bool {
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !unicode.IsSpace(c) && !strings.ContainsRune("_.:/=+-@", c) {
			return false
		}
	}
	return true
}

func iamUntagUser(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	var keys []string
	for i := 1; r.Params.Has(fmt.Sprintf("TagKeys.member.%d", i)); i++ {
		keys = append(keys, r.Params.Get(fmt.Sprintf("TagKeys.member.%d", i)))
	}
	if len(keys) == 0 {
		return nil, iamValidation("[]", "tagKeys", "Member must have length greater than or equal to 1")
	}
	// Removing a tag the user does not have is not an error in IAM.
	u.Tags = slices.DeleteFunc(slices.Clone(u.Tags), func(t IAMTag) bool { return slices.Contains(keys, t.Key) })
	if len(u.Tags) == 0 {
		u.Tags = nil // as seeded without tags, so State compares equal after a tag and untag
	}
	return nil, nil
}

type accessKeyMetadata struct {
	UserName    string `xml:"UserName"`
	AccessKeyID string `xml:"AccessKeyId"`
	Status      string `xml:"Status"`
	CreateDate  string `xml:"CreateDate"`
}

type listAccessKeysResult struct {
	AccessKeyMetadata []accessKeyMetadata `xml:"AccessKeyMetadata>member"`
	IsTruncated       bool                `xml:"IsTruncated"`
	Marker            string              `xml:"Marker,omitempty"`
}

func iamListAccessKeys(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	maxItems := 100
	if m := r.Params.Get("MaxItems"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 1000 {
			return nil, iamValidation(m, "maxItems", "Member must have value greater than or equal to 1")
		}
		maxItems = n
	}
	start := 0
	if m := r.Params.Get("Marker"); m != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(m, "key-"))
		if err != nil || !strings.HasPrefix(m, "key-") || n < 0 || n > len(u.Keys) {
			return nil, &APIError{Code: "InvalidInput", Message: "Invalid Marker."}
		}
		start = n
	}
	out := listAccessKeysResult{AccessKeyMetadata: []accessKeyMetadata{}}
	end := min(start+maxItems, len(u.Keys))
	for _, k := range u.Keys[start:end] {
		out.AccessKeyMetadata = append(out.AccessKeyMetadata, accessKeyMetadata{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, CreateDate: iamTime(k.Created)})
	}
	if end < len(u.Keys) {
		out.IsTruncated, out.Marker = true, fmt.Sprintf("key-%d", end)
	}
	return out, nil
}

type getAccessKeyLastUsedResult struct {
	UserName          string `xml:"UserName"`
	AccessKeyLastUsed struct {
		LastUsedDate string `xml:"LastUsedDate,omitempty"`
		ServiceName  string `xml:"ServiceName"`
		Region       string `xml:"Region"`
	} `xml:"AccessKeyLastUsed"`
}

func iamGetAccessKeyLastUsed(s *Server, r *Request) (any, error) {
	id, verr := iamAccessKeyID(r)
	if verr != nil {
		return nil, verr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, k := s.iam.lookup(r.Caller.Account).findKey(id)
	if k == nil {
		// IAM does not say "no such key": a key outside the caller's account (or none at all)
		// is a resource the caller may not read.
		return nil, &APIError{Status: 403, Code: "AccessDenied", Message: fmt.Sprintf("User: %s is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key %s", r.Caller.ARN, id)}
	}
	var out getAccessKeyLastUsedResult
	out.UserName = u.Name
	// A key never used reads N/A for service and region, and has no date.
	out.AccessKeyLastUsed.ServiceName, out.AccessKeyLastUsed.Region = "N/A", "N/A"
	if k.LastUsed != nil {
		out.AccessKeyLastUsed.LastUsedDate = iamTime(k.LastUsed.Date)
		out.AccessKeyLastUsed.ServiceName, out.AccessKeyLastUsed.Region = k.LastUsed.Service, k.LastUsed.Region
	}
	return out, nil
}

func iamUpdateAccessKey(s *Server, r *Request) (any, error) {
	id, verr := iamAccessKeyID(r)
	if verr != nil {
		return nil, verr
	}
	status := r.Params.Get("Status")
	if status != "Active" && status != "Inactive" {
		return nil, iamValidation(status, "status", "Member must satisfy enum value set: [Active, Expired, Inactive]")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(u.Keys, func(k *iamKey) bool { return k.ID == id })
	if i < 0 {
		return nil, noSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	u.Keys[i].Status = status
	return nil, nil
}

// policyHolder is what user and role inline policies have in common: the operations are the
// same but for the entity they name.
type policyHolder struct {
	kind    string // "user" or "role"
	param   string // UserName or RoleName
	maxSize int    // IAM's quota of inline policy characters (whitespace aside) per entity
	find    func(s *Server, r *Request) (name string, policies map[string]string, err error)
}

var (
	userPolicies = policyHolder{kind: "user", param: "UserName", maxSize: 2048,
		find: func(s *Server, r *Request) (string, map[string]string, error) {
			u, err := s.iamUser(r)
			if err != nil {
				return "", nil, err
			}
			return u.Name, u.Policies, nil
		}}
	rolePolicies = policyHolder{kind: "role", param: "RoleName", maxSize: 10240,
		find: func(s *Server, r *Request) (string, map[string]string, error) {
			role, err := s.iamRole(r)
			if err != nil {
				return "", nil, err
			}
			return role.Name, role.Policies, nil
		}}
)

func iamPutPolicy(h policyHolder) Handler {
	return func(s *Server, r *Request) (any, error) {
		name, verr := iamName(r, "PolicyName", 128)
		if verr != nil {
			return nil, verr
		}
		doc := r.Params.Get("PolicyDocument")
		if doc == "" {
			return nil, iamValidation("", "policyDocument", "Member must have length greater than or equal to 1")
		}
		if e := checkPolicy(doc); e != nil {
			return nil, e
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		entity, policies, err := h.find(s, r)
		if err != nil {
			return nil, err
		}
		size := nonSpaceLen(doc)
		for n, d := range policies {
			if n != name {
				size += nonSpaceLen(d)
			}
		}
		if size > h.maxSize {
			return nil, &APIError{Status: 409, Code: "LimitExceeded", Message: fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s %s", h.maxSize, h.kind, entity)}
		}
		policies[name] = doc
		return nil, nil
	}
}

type getPolicyResult struct {
	UserName       string `xml:"UserName,omitempty"`
	RoleName       string `xml:"RoleName,omitempty"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func iamGetPolicy(h policyHolder) Handler {
	return func(s *Server, r *Request) (any, error) {
		name, verr := iamName(r, "PolicyName", 128)
		if verr != nil {
			return nil, verr
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		entity, policies, err := h.find(s, r)
		if err != nil {
			return nil, err
		}
		doc, ok := policies[name]
		if !ok {
			return nil, noSuchEntity("The %s policy with name %s cannot be found.", h.kind, name)
		}
		// IAM returns policy documents URL-encoded (RFC 3986); clients decode them.
		out := getPolicyResult{PolicyName: name, PolicyDocument: strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")}
		if h.kind == "user" {
			out.UserName = entity
		} else {
			out.RoleName = entity
		}
		return out, nil
	}
}

func iamDeletePolicy(h policyHolder) Handler {
	return func(s *Server, r *Request) (any, error) {
		name, verr := iamName(r, "PolicyName", 128)
		if verr != nil {
			return nil, verr
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		_, policies, err := h.find(s, r)
		if err != nil {
			return nil, err
		}
		if _, ok := policies[name]; !ok {
			return nil, noSuchEntity("The %s policy with name %s cannot be found.", h.kind, name)
		}
		delete(policies, name)
		return nil, nil
	}
}

func nonSpaceLen(s string) int {
	n := 0
	for _, c := range s {
		if !unicode.IsSpace(c) {
			n++
		}
	}
	return n
}

var sidRe = regexp.MustCompile(`^[0-9A-Za-z]*$`)

// checkPolicy is the part of IAM's policy grammar the fake enforces, with IAM's messages.
func checkPolicy(doc string) *APIError {
	malformed := func(msg string) *APIError { return &APIError{Code: "MalformedPolicyDocument", Message: msg} }
	var p struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return malformed("Syntax errors in policy.")
	}
	if p.Version != "" && p.Version != "2012-10-17" && p.Version != "2008-10-17" {
		return malformed("The policy failed legacy parsing")
	}
	var statements []map[string]json.RawMessage
	if err := json.Unmarshal(p.Statement, &statements); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(p.Statement, &one); err != nil || one == nil {
			return malformed("Syntax errors in policy.")
		}
		statements = append(statements, one)
	}
	if len(statements) == 0 {
		return malformed("Syntax errors in policy.")
	}
	for _, st := range statements {
		var effect, sid string
		if err := json.Unmarshal(st["Effect"], &effect); err != nil || (effect != "Allow" && effect != "Deny") {
			return malformed("Invalid effect: " + string(st["Effect"]))
		}
		if raw, ok := st["Sid"]; ok {
			if err := json.Unmarshal(raw, &sid); err != nil || !sidRe.MatchString(sid) {
				return malformed("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
			}
		}
		if _, ok := st["Principal"]; ok {
			return malformed("Policy document should not specify a principal.")
		}
		if st["Action"] == nil && st["NotAction"] == nil {
			return malformed("Policy statement must contain actions.")
		}
		if st["Resource"] == nil && st["NotResource"] == nil {
			return malformed("Policy statement must contain resources.")
		}
	}
	return nil
}

type getLoginProfileResult struct {
	LoginProfile struct {
		UserName              string `xml:"UserName"`
		CreateDate            string `xml:"CreateDate"`
		PasswordResetRequired bool   `xml:"PasswordResetRequired"`
	} `xml:"LoginProfile"`
}

func iamGetLoginProfile(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	if u.LoginProfile == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.Name)
	}
	var out getLoginProfileResult
	out.LoginProfile.UserName, out.LoginProfile.CreateDate = u.Name, iamTime(u.LoginProfile.Created)
	out.LoginProfile.PasswordResetRequired = u.LoginProfile.PasswordResetRequired
	return out, nil
}

func iamDeleteLoginProfile(s *Server, r *Request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.iamUser(r)
	if err != nil {
		return nil, err
	}
	if u.LoginProfile == nil {
		return nil, noSuchEntity("Login Profile for User %s cannot be found.", u.Name)
	}
	u.LoginProfile = nil
	return nil, nil
}

type xmlRole struct {
	Path       string `xml:"Path"`
	RoleName   string `xml:"RoleName"`
	RoleID     string `xml:"RoleId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type getInstanceProfileResult struct {
	InstanceProfile struct {
		Path                string    `xml:"Path"`
		InstanceProfileName string    `xml:"InstanceProfileName"`
		InstanceProfileID   string    `xml:"InstanceProfileId"`
		Arn                 string    `xml:"Arn"`
		CreateDate          string    `xml:"CreateDate"`
		Roles               []xmlRole `xml:"Roles>member"`
	} `xml:"InstanceProfile"`
}

func iamGetInstanceProfile(s *Server, r *Request) (any, error) {
	name, verr := iamName(r, "InstanceProfileName", 128)
	if verr != nil {
		return nil, verr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.iam.lookup(r.Caller.Account)
	p := a.profiles[name]
	if p == nil {
		return nil, noSuchEntity("Instance Profile %s cannot be found.", name)
	}
	var out getInstanceProfileResult
	ip := &out.InstanceProfile
	ip.Path, ip.InstanceProfileName, ip.InstanceProfileID, ip.Arn, ip.CreateDate = p.Path, p.Name, p.ID, p.ARN, iamTime(p.Created)
	ip.Roles = []xmlRole{}
	if role := a.roles[p.Role]; role != nil {
		ip.Roles = append(ip.Roles, xmlRole{Path: role.Path, RoleName: role.Name, RoleID: role.ID, Arn: role.ARN, CreateDate: iamTime(role.Created)})
	}
	return out, nil
}
