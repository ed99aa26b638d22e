package issuers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/issuers"
)

func validInput() issuers.CreateInput {
	return issuers.CreateInput{
		Issuer:      "https://acme.eu.auth0.com/",
		Audience:    "https://api.ledgerline.io",
		RolesClaim:  "https://ledgerline.io/roles",
		RoleMapping: map[string]string{"Finance Admin": "admin"},
		Binding:     &issuers.Binding{Claim: "org_id", Value: "org_123"},
	}
}

// owner is a creator who may give every role.
var owner = auth.Principal{Roles: []auth.Role{auth.RoleOwner}}

func ptr[T any](v T) *T { return &v }

func TestApplyDefaults(t *testing.T) {
	i, err := validInput().Apply(owner, false)
	require.NoError(t, err)
	require.Equal(t, "https://acme.eu.auth0.com/", i.Issuer, "the issuer is kept byte for byte, trailing slash included")
	require.Equal(t, []string{"RS256"}, i.Algorithms)
	require.Nil(t, i.JWKSURL)
	require.Equal(t, map[string]string{"Finance Admin": "admin"}, i.RoleMapping)
	require.Equal(t, issuers.Binding{Claim: "org_id", Value: "org_123"}, i.Binding)
}

func TestApplyValidation(t *testing.T) {
	cases := []struct {
		name          string
		edit          func(*issuers.CreateInput)
		allowLoopback bool
		field, msg    string // msg: a substring; empty: valid
	}{
		{name: "https issuer", edit: func(in *issuers.CreateInput) {}},
		{name: "http issuer", edit: func(in *issuers.CreateInput) { in.Issuer = "http://acme.eu.auth0.com/" },
			field: "issuer", msg: "https"},
		{name: "http loopback issuer in production", edit: func(in *issuers.CreateInput) { in.Issuer = "http://127.0.0.1:8080" },
			field: "issuer", msg: "https"},
		{name: "http loopback issuer in development", edit: func(in *issuers.CreateInput) { in.Issuer = "http://127.0.0.1:8080" },
			allowLoopback: true},
		{name: "http localhost issuer in development", edit: func(in *issuers.CreateInput) { in.Issuer = "http://localhost:9000/realm" },
			allowLoopback: true},
		{name: "http public issuer in development", edit: func(in *issuers.CreateInput) { in.Issuer = "http://acme.example.com" },
			allowLoopback: true, field: "issuer", msg: "https"},
		{name: "https localhost", edit: func(in *issuers.CreateInput) { in.Issuer = "https://localhost/" },
			field: "issuer", msg: "loopback"},
		{name: "https private address", edit: func(in *issuers.CreateInput) { in.Issuer = "https://10.1.2.3/" },
			field: "issuer", msg: "private"},
		{name: "https metadata server", edit: func(in *issuers.CreateInput) { in.Issuer = "https://169.254.169.254/" },
			field: "issuer", msg: "link-local"},
		{name: "private address even in development", edit: func(in *issuers.CreateInput) { in.Issuer = "https://192.168.1.1/" },
			allowLoopback: true, field: "issuer", msg: "private"},
		{name: "issuer with query", edit: func(in *issuers.CreateInput) { in.Issuer = "https://acme.example.com/?tenant=1" },
			field: "issuer", msg: "query"},
		{name: "issuer with fragment", edit: func(in *issuers.CreateInput) { in.Issuer = "https://acme.example.com/#x" },
			field: "issuer", msg: "fragment"},
		{name: "issuer with user", edit: func(in *issuers.CreateInput) { in.Issuer = "https://u:p@acme.example.com/" },
			field: "issuer", msg: "user information"},
		{name: "relative issuer", edit: func(in *issuers.CreateInput) { in.Issuer = "acme.example.com" },
			field: "issuer", msg: "absolute"},
		{name: "missing issuer", edit: func(in *issuers.CreateInput) { in.Issuer = "" }, field: "issuer", msg: "required"},
		{name: "long issuer", edit: func(in *issuers.CreateInput) { in.Issuer = "https://a.example.com/" + strings.Repeat("a", 1024) },
			field: "issuer", msg: "at most 1024"},
		{name: "missing audience", edit: func(in *issuers.CreateInput) { in.Audience = "" }, field: "audience", msg: "required"},
		{name: "pinned algorithms", edit: func(in *issuers.CreateInput) { in.Algorithms = []string{"ES256", "PS256", "RS512"} }},
		{name: "symmetric algorithm", edit: func(in *issuers.CreateInput) { in.Algorithms = []string{"HS256"} },
			field: "algorithms[0]", msg: "must be one of"},
		{name: "alg none", edit: func(in *issuers.CreateInput) { in.Algorithms = []string{"RS256", "none"} },
			field: "algorithms[1]", msg: "must be one of"},
		{name: "algorithm twice", edit: func(in *issuers.CreateInput) { in.Algorithms = []string{"RS256", "RS256"} },
			field: "algorithms[1]", msg: "twice"},
		{name: "empty algorithms", edit: func(in *issuers.CreateInput) { in.Algorithms = []string{} },
			field: "algorithms", msg: "at least one"},
		{name: "jwks url with query", edit: func(in *issuers.CreateInput) { in.JWKSURL = ptr("https://acme.okta.com/oauth2/v1/keys?client_id=x") }},
		{name: "http jwks url", edit: func(in *issuers.CreateInput) { in.JWKSURL = ptr("http://acme.okta.com/keys") },
			field: "jwks_url", msg: "https"},
		{name: "internal jwks url", edit: func(in *issuers.CreateInput) { in.JWKSURL = ptr("https://[::1]/keys") },
			field: "jwks_url", msg: "loopback"},
		{name: "missing roles claim", edit: func(in *issuers.CreateInput) { in.RolesClaim = "" }, field: "roles_claim", msg: "required"},
		{name: "role mapping", edit: func(in *issuers.CreateInput) {
			in.RoleMapping = map[string]string{"Finance Admin": "admin", "AP Clerk": "accountant"}
		}},
		{name: "role mapping to an unknown role", edit: func(in *issuers.CreateInput) { in.RoleMapping = map[string]string{"Boss": "superuser"} },
			field: "role_mapping.Boss", msg: "Ledgerline role"},
		{name: "missing binding", edit: func(in *issuers.CreateInput) { in.Binding = nil }, field: "binding", msg: "required"},
		{name: "binding without value", edit: func(in *issuers.CreateInput) { in.Binding.Value = "" },
			field: "binding.value", msg: "required"},
		{name: "binding by aud", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "aud" },
			field: "binding.claim", msg: "must not be"},
		{name: "no role mapping", edit: func(in *issuers.CreateInput) { in.RoleMapping = nil },
			field: "role_mapping", msg: "required"},
		{name: "empty role mapping", edit: func(in *issuers.CreateInput) { in.RoleMapping = map[string]string{} },
			field: "role_mapping", msg: "required"},
		{name: "binding by a tenant claim", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "tid" }},
		{name: "binding by sub", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "sub" },
			field: "binding.claim", msg: "organisation"},
		{name: "binding by email", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "email" },
			field: "binding.claim", msg: "organisation"},
		{name: "binding by preferred_username", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "preferred_username" },
			field: "binding.claim", msg: "organisation"},
		{name: "binding by name", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "name" },
			field: "binding.claim", msg: "organisation"},
		{name: "binding by azp", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "azp" },
			field: "binding.claim", msg: "organisation"},
		{name: "binding by jti", edit: func(in *issuers.CreateInput) { in.Binding.Claim = "jti" },
			field: "binding.claim", msg: "organisation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			in.Binding = &issuers.Binding{Claim: in.Binding.Claim, Value: in.Binding.Value}
			tc.edit(&in)
			_, err := in.Apply(owner, tc.allowLoopback)
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			e := apperr.From(err)
			require.Equal(t, apperr.Unprocessable, e.Kind, "%v", err)
			require.Equal(t, "validation_failed", e.Code)
			require.Contains(t, e.Fields, tc.field, "%v", e.Fields)
			require.Contains(t, e.Fields[tc.field], tc.msg)
		})
	}
}

func TestApplyCopiesItsInput(t *testing.T) {
	in := validInput()
	in.Algorithms = []string{"RS256"}
	in.RoleMapping = map[string]string{"a": "admin"}
	i, err := in.Apply(owner, false)
	require.NoError(t, err)
	in.Algorithms[0] = "ES256"
	in.RoleMapping["a"] = "viewer"
	require.Equal(t, []string{"RS256"}, i.Algorithms)
	require.Equal(t, "admin", i.RoleMapping["a"])
}

// TestApplyRefusesRoleEscalation holds a role mapping to the rule API clients follow:
// whoever trusts an issuer may map its names only to roles they could give themselves
// (every permission of the role, and owner by owners only).
func TestApplyRefusesRoleEscalation(t *testing.T) {
	as := func(roles ...auth.Role) auth.Principal { return auth.Principal{Roles: roles} }
	cases := []struct {
		name    string
		creator auth.Principal
		mapping map[string]string
		refused []string // the role_mapping fields refused; none: allowed
	}{
		{"an owner maps to owner", as(auth.RoleOwner), map[string]string{"Boss": "owner"}, nil},
		{"an admin maps to admin and below", as(auth.RoleAdmin),
			map[string]string{"A": "admin", "B": "accountant", "C": "viewer", "D": "auditor", "E": "approver", "F": "agent"}, nil},
		{"an admin may not map to owner", as(auth.RoleAdmin), map[string]string{"Boss": "owner", "Clerk": "accountant"},
			[]string{"role_mapping.Boss"}},
		{"an accountant may not map to admin", as(auth.RoleAccountant), map[string]string{"X": "admin", "Y": "viewer"},
			[]string{"role_mapping.X"}},
		{"a viewer may not map to auditor", as(auth.RoleViewer), map[string]string{"X": "auditor"}, []string{"role_mapping.X"}},
		{"nobody may map to owner without holding it", as(auth.RoleAdmin, auth.RoleAccountant, auth.RoleAuditor),
			map[string]string{"X": "owner"}, []string{"role_mapping.X"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			in.RoleMapping = tc.mapping
			_, err := in.Apply(tc.creator, false)
			if tc.refused == nil {
				require.NoError(t, err)
				return
			}
			e := apperr.From(err)
			require.Equal(t, apperr.Forbidden, e.Kind, "%v", err)
			require.Equal(t, "role_escalation", e.Code)
			var fields []string
			for f := range e.Fields {
				fields = append(fields, f)
			}
			require.ElementsMatch(t, tc.refused, fields)
		})
	}
}
