// Package issuers holds the external OIDC issuers (Auth0, Google Identity Platform,
// Okta, ...) a tenant trusts to sign its users' tokens: the configuration and its
// validation (issuer.go, no I/O), the tenant-admin use cases (service.go), the
// verifier the authenticator hands every token of a foreign iss to (verifier.go), the
// key sets it fetches (keys.go), the per-instance caches in front of both (cache.go)
// and the only SQL that touches them (store.go).
//
// A token binds to exactly one tenant through a claim the tenant names and the value
// that claim must have (org_id = org_123): the tenant is never read from anything a
// token's issuer did not sign, and nothing from an external token grants Ledgerline's
// platform_admin.
package issuers

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// Algorithms are the signature algorithms an issuer may be pinned to: asymmetric only,
// so a verification key can never double as a signing secret (the HS256 confusion),
// and never "none".
var Algorithms = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}

// DefaultAlgorithm is the pin when a configuration names none: what OIDC providers
// sign ID and access tokens with unless told otherwise.
const DefaultAlgorithm = "RS256"

// Bounds on the configuration, matching the table's CHECK constraints. The unique
// binding index holds issuer, claim and value together, which PostgreSQL limits to
// about 2.7 kB per entry; these keep it well inside.
const (
	MaxIssuerLength       = 1024
	MaxURLLength          = 2048
	MaxAudienceLength     = 512
	MaxClaimLength        = 128
	MaxBindingValueLength = 512
	MaxRoleMappings       = 50
)

// Issuer is an OIDC issuer the tenant trusts, as the API shows it.
type Issuer struct {
	ID         uuid.UUID `json:"id"`
	Object     string    `json:"object"`
	Issuer     string    `json:"issuer"`
	Audience   string    `json:"audience"`
	Algorithms []string  `json:"algorithms"`
	// JWKSURL is where the issuer's keys are; nil means discovered from the issuer's
	// /.well-known/openid-configuration.
	JWKSURL     *string           `json:"jwks_url"`
	RolesClaim  string            `json:"roles_claim"`
	RoleMapping map[string]string `json:"role_mapping"`
	Binding     Binding           `json:"binding"`
	Version     int               `json:"version"`
	CreatedAt   time.Time         `json:"created_at"`
}

// Binding ties a token to the tenant: the token's Claim must be the string Value.
type Binding struct {
	Claim string `json:"claim"`
	Value string `json:"value"`
}

// CreateInput is the body of POST /v1/tenant/issuers.
type CreateInput struct {
	Issuer      string            `json:"issuer"`
	Audience    string            `json:"audience"`
	Algorithms  []string          `json:"algorithms"`
	JWKSURL     *string           `json:"jwks_url"`
	RolesClaim  string            `json:"roles_claim"`
	RoleMapping map[string]string `json:"role_mapping"`
	Binding     *Binding          `json:"binding"`
}

// Unbindable are the claims a binding cannot use. A binding names a tenant, so its
// claim must be one every token of the tenant's users carries with the same value (an
// organisation or a team). Refused are the claims checked against the configuration
// already (iss, aud), times, claims that differ per token or session (jti, nonce,
// sid...), and claims that name a user or a client rather than an organisation: bound by
// one of those, the trust would admit one user (or one application) only, and, as all
// the trusts of an issuer bind by the same claim, it would let whoever trusts an issuer
// first decide that nobody else can bind it by an organisation claim.
var Unbindable = []string{
	// Checked against the configuration, or times.
	"iss", "aud", "exp", "nbf", "iat", "auth_time",
	// Per token or session.
	"jti", "nonce", "sid", "at_hash", "c_hash", "acr", "amr", "scope", "scp",
	// Per user.
	"sub", "email", "email_verified", "preferred_username", "name", "given_name", "family_name",
	"middle_name", "nickname", "phone_number", "upn", "unique_name", "oid", "uid",
	// Per client application.
	"azp", "client_id", "cid", "appid",
}

// Apply returns the issuer in describes, with defaults applied, the 422 naming every
// invalid field, or the 403 role_escalation when the mapping gives some role creator
// may not give (auth.Principal.MayGive: the rule API clients follow too).
// allowLoopback admits http and loopback hosts (development and tests). Identity,
// version and time are the caller's.
func (in CreateInput) Apply(creator auth.Principal, allowLoopback bool) (Issuer, error) {
	f := apperr.Fields{}
	if msg := checkIssuer(in.Issuer, allowLoopback); msg != "" {
		f.Add("issuer", msg)
	}
	checkText(f, "audience", in.Audience, MaxAudienceLength)
	algs := in.Algorithms
	if algs == nil {
		algs = []string{DefaultAlgorithm}
	}
	if len(algs) == 0 {
		f.Add("algorithms", "must name at least one algorithm, or be left out for "+DefaultAlgorithm)
	}
	for i, a := range algs {
		field := fmt.Sprintf("algorithms[%d]", i)
		switch {
		case !slices.Contains(Algorithms, a):
			f.Add(field, "must be one of "+strings.Join(Algorithms, ", "))
		case slices.Index(algs, a) < i:
			f.Add(field, "is listed twice")
		}
	}
	if in.JWKSURL != nil {
		if msg := checkURL(*in.JWKSURL, allowLoopback, true); msg != "" {
			f.Add("jwks_url", msg)
		}
	}
	checkText(f, "roles_claim", in.RolesClaim, MaxClaimLength)
	// Required: an issuer's role names are never taken as Ledgerline's, or an issuer
	// the tenant does not control could grant any role, owner included.
	if len(in.RoleMapping) == 0 {
		f.Add("role_mapping", "is required: map the issuer's role names to the Ledgerline roles they grant")
	}
	if len(in.RoleMapping) > MaxRoleMappings {
		f.Add("role_mapping", fmt.Sprintf("must map at most %d roles", MaxRoleMappings))
	}
	for name, role := range in.RoleMapping {
		field := "role_mapping." + name
		switch {
		case name == "" || utf8.RuneCountInString(name) > MaxClaimLength:
			f.Add("role_mapping", fmt.Sprintf("role names must be 1 to %d characters", MaxClaimLength))
		case !validRole(role):
			f.Add(field, "must be a Ledgerline role: "+roleNames())
		}
	}
	if in.Binding == nil {
		f.Add("binding", "is required: the claim and value that tie a token to this tenant")
	} else {
		checkText(f, "binding.claim", in.Binding.Claim, MaxClaimLength)
		if slices.Contains(Unbindable, in.Binding.Claim) {
			f.Add("binding.claim", "must not be "+strings.Join(Unbindable, ", ")+
				": it must name an organisation (such as org_id), the same in every token of the tenant's users")
		}
		checkText(f, "binding.value", in.Binding.Value, MaxBindingValueLength)
	}
	if err := f.Err(); err != nil {
		return Issuer{}, err
	}
	beyond := apperr.Fields{}
	for name, role := range in.RoleMapping {
		if !creator.MayGive(auth.Role(role)) {
			beyond.Add("role_mapping."+name, "grants more than you hold")
		}
	}
	if len(beyond) > 0 {
		e := apperr.New(apperr.Forbidden, "role_escalation",
			"a trusted issuer's users may not be given more than the administrator trusting it holds")
		e.Fields = beyond
		return Issuer{}, e
	}
	mapping := map[string]string{}
	for k, v := range in.RoleMapping {
		mapping[k] = v
	}
	var jwks *string
	if in.JWKSURL != nil {
		u := *in.JWKSURL
		jwks = &u
	}
	return Issuer{
		Issuer: in.Issuer, Audience: in.Audience, Algorithms: slices.Clone(algs), JWKSURL: jwks,
		RolesClaim: in.RolesClaim, RoleMapping: mapping, Binding: *in.Binding,
	}, nil
}

func checkText(f apperr.Fields, field, v string, max int) {
	switch {
	case v == "":
		f.Add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		f.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

func validRole(s string) bool {
	_, err := auth.ParseRole(s)
	return err == nil
}

func roleNames() string {
	var names []string
	for _, r := range auth.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

// checkIssuer says what is wrong with raw as an issuer identifier, or "" when
// nothing is. OIDC Discovery §3: an https URL with no query or fragment. It is
// stored and compared byte for byte, as tokens carry it (a trailing slash matters).
func checkIssuer(raw string, allowLoopback bool) string {
	if raw == "" {
		return "is required"
	}
	if len(raw) > MaxIssuerLength {
		return fmt.Sprintf("must be at most %d characters", MaxIssuerLength)
	}
	if msg := checkURL(raw, allowLoopback, false); msg != "" {
		return msg
	}
	return ""
}

// checkURL says what is wrong with raw as the URL of an issuer or of its keys. Only
// https is trusted: keys fetched in clear could be replaced on the way. allowLoopback
// admits http, and hosts on the loopback interface, for development and tests.
// Internal hosts are refused so a tenant cannot make Ledgerline fetch from the VPC or
// the metadata server; names are checked again after resolution, at dial time.
func checkURL(raw string, allowLoopback, query bool) string {
	if len(raw) > MaxURLLength {
		return fmt.Sprintf("must be at most %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return "must be an absolute https URL"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	if !query && (u.RawQuery != "" || u.ForceQuery) {
		return "must not have a query"
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	loopback := isLoopbackHost(host)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowLoopback && loopback:
	default:
		return "must be an https URL"
	}
	if loopback && allowLoopback {
		return ""
	}
	if loopback || host == "localhost" {
		return "must not name localhost or a loopback, private or link-local address"
	}
	if a, err := netip.ParseAddr(host); err == nil && internalAddr(a) {
		return "must not name localhost or a loopback, private or link-local address"
	}
	return ""
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// cgnat is the shared address space of RFC 6598: not public.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internalAddr reports whether a is an address an issuer's documents must not be
// fetched from: the instance itself, the VPC and the metadata server (link-local).
func internalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || cgnat.Contains(a)
}
