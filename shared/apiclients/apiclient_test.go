package apiclients

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/openapi"
)

func TestCreateInputApply(t *testing.T) {
	admin := auth.Principal{Roles: []auth.Role{auth.RoleAdmin, auth.RoleAccountant}}
	accountant := auth.Principal{Roles: []auth.Role{auth.RoleAccountant}}
	owner := auth.Principal{Roles: []auth.Role{auth.RoleOwner}}
	cases := []struct {
		name       string
		in         CreateInput
		creator    auth.Principal
		wantName   string
		wantRoles  []auth.Role
		wantCode   string
		wantFields map[string]string
	}{
		{name: "held roles", in: CreateInput{Name: "ERP sync", Roles: []string{"accountant"}}, creator: admin,
			wantName: "ERP sync", wantRoles: []auth.Role{auth.RoleAccountant}},
		{name: "several", in: CreateInput{Name: "ops", Roles: []string{"admin", "accountant"}}, creator: admin,
			wantName: "ops", wantRoles: []auth.Role{auth.RoleAdmin, auth.RoleAccountant}},
		{name: "longest name", in: CreateInput{Name: strings.Repeat("é", MaxNameLength), Roles: []string{"admin"}}, creator: admin,
			wantName: strings.Repeat("é", MaxNameLength), wantRoles: []auth.Role{auth.RoleAdmin}},
		{name: "blank name", in: CreateInput{Name: "  ", Roles: []string{"admin"}}, creator: admin,
			wantCode: "validation_failed", wantFields: map[string]string{"name": "must not be blank"}},
		{name: "long name", in: CreateInput{Name: strings.Repeat("x", MaxNameLength+1), Roles: []string{"admin"}}, creator: admin,
			wantCode: "validation_failed", wantFields: map[string]string{"name": "must be at most 200 characters"}},
		{name: "no roles", in: CreateInput{Name: "x"}, creator: admin,
			wantCode: "validation_failed", wantFields: map[string]string{"roles": "must name at least one role"}},
		{name: "unknown and repeated roles", in: CreateInput{Name: "x", Roles: []string{"admin", "root", "admin"}}, creator: admin,
			wantCode: "validation_failed", wantFields: map[string]string{"roles[1]": "is not a known role", "roles[2]": "is listed twice"}},
		// Less than the creator holds is fine: read-only clients of an admin.
		{name: "lesser roles", in: CreateInput{Name: "x", Roles: []string{"viewer", "auditor", "agent"}}, creator: admin,
			wantName: "x", wantRoles: []auth.Role{auth.RoleViewer, auth.RoleAuditor, auth.RoleAgent}},
		{name: "viewer by an accountant", in: CreateInput{Name: "x", Roles: []string{"viewer"}}, creator: accountant,
			wantName: "x", wantRoles: []auth.Role{auth.RoleViewer}},
		{name: "owner by an owner", in: CreateInput{Name: "x", Roles: []string{"owner"}}, creator: owner,
			wantName: "x", wantRoles: []auth.Role{auth.RoleOwner}},
		// No privilege escalation: an admin cannot mint an owner (owners alone do, the
		// permissions they hold today aside), an accountant not an auditor (the audit
		// trail), a caller without roles nothing at all.
		{name: "owner by an admin", in: CreateInput{Name: "x", Roles: []string{"accountant", "owner"}}, creator: admin,
			wantCode: "role_escalation", wantFields: map[string]string{"roles[1]": "grants more than you hold"}},
		{name: "auditor and admin by an accountant", in: CreateInput{Name: "x", Roles: []string{"viewer", "auditor", "admin"}}, creator: accountant,
			wantCode: "role_escalation", wantFields: map[string]string{"roles[1]": "grants more than you hold", "roles[2]": "grants more than you hold"}},
		{name: "anything by no roles", in: CreateInput{Name: "x", Roles: []string{"viewer"}}, creator: auth.Principal{PlatformAdmin: true},
			wantCode: "role_escalation", wantFields: map[string]string{"roles[0]": "grants more than you hold"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, roles, err := tc.in.Apply(tc.creator)
			if tc.wantCode != "" {
				e := apperr.From(err)
				require.Equal(t, tc.wantCode, e.Code, "%v", err)
				require.Equal(t, tc.wantFields, e.Fields)
				if tc.wantCode == "role_escalation" {
					require.Equal(t, apperr.Forbidden, e.Kind)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantName, name)
			require.Equal(t, tc.wantRoles, roles)
		})
	}
}

func TestSecrets(t *testing.T) {
	format := regexp.MustCompile(`^llsec_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 100 {
		s := newSecret()
		require.Regexp(t, format, s)
		require.False(t, seen[s], "secrets never repeat")
		seen[s] = true
	}
	s := newSecret()
	require.Equal(t, hashSecret(s), hashSecret(s))
	require.NotEqual(t, hashSecret(s), hashSecret(s+"x"))
	require.NotEqual(t, unknownClientHash, hashSecret(""), "the stand-in hash is no secret's")
}

// The contract lists the same roles as auth, so clients see exactly what the server
// accepts.
func TestContractListsTheRoles(t *testing.T) {
	doc, err := openapi.Load()
	require.NoError(t, err)
	ref := doc.Components.Schemas["Role"]
	require.NotNil(t, ref)
	var enum []string
	for _, v := range ref.Value.Enum {
		enum = append(enum, v.(string))
	}
	var roles []string
	for _, r := range auth.Roles() {
		roles = append(roles, string(r))
	}
	require.ElementsMatch(t, roles, enum)

	secret := doc.Components.Schemas["ApiClientWithSecret"].Value.Properties["secret"].Value
	require.Regexp(t, secret.Pattern, newSecret(), "the contract describes the secrets")
	require.True(t, IsOAuthError(ErrInvalidClient))
	require.False(t, IsOAuthError("invalid_token"))
}

func TestRolesOfIgnoresUnknownNames(t *testing.T) {
	require.Equal(t, []auth.Role{auth.RoleViewer}, rolesOf([]string{"viewer", "retired-role"}))
	require.Empty(t, rolesOf(nil))
}
