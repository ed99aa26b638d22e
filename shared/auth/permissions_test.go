package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var allPermissions = []Permission{
	CounterpartiesRead, CounterpartiesWrite,
	InvoicesRead, InvoicesWrite,
	PaymentsRead, PaymentsWrite,
	AuditRead, WebhooksManage, ReportsRead, PlatformAdmin,
}

// intendedGrants is the role table written out independently of the code's table.
var intendedGrants = map[Role][]Permission{
	RoleOwner:      {CounterpartiesRead, CounterpartiesWrite, InvoicesRead, InvoicesWrite, PaymentsRead, PaymentsWrite, ReportsRead, AuditRead, WebhooksManage},
	RoleAdmin:      {CounterpartiesRead, CounterpartiesWrite, InvoicesRead, InvoicesWrite, PaymentsRead, PaymentsWrite, ReportsRead, AuditRead, WebhooksManage},
	RoleAccountant: {CounterpartiesRead, CounterpartiesWrite, InvoicesRead, InvoicesWrite, PaymentsRead, PaymentsWrite, ReportsRead},
	RoleApprover:   {CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead},
	RoleViewer:     {CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead},
	RoleAuditor:    {CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead, AuditRead},
	RoleAgent:      {CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead},
}

func TestPlatformAdminComesOnlyFromTheClaim(t *testing.T) {
	require.False(t, Principal{Roles: Roles()}.Can(PlatformAdmin), "no tenant role implies it")
	require.True(t, Principal{PlatformAdmin: true}.Can(PlatformAdmin))
	require.False(t, Principal{PlatformAdmin: true}.Can(InvoicesRead), "and it grants nothing else")
	require.True(t, KnownPermission(PlatformAdmin))
}

func TestRoleTable(t *testing.T) {
	require.ElementsMatch(t, Roles(), []Role{RoleOwner, RoleAdmin, RoleAccountant, RoleApprover, RoleViewer, RoleAuditor, RoleAgent})
	require.Len(t, intendedGrants, len(Roles()))
	for _, r := range Roles() {
		want, ok := intendedGrants[r]
		require.True(t, ok, "role %s has no intended grants", r)
		for _, perm := range allPermissions {
			t.Run(string(r)+"/"+string(perm), func(t *testing.T) {
				p := Principal{Roles: []Role{r}}
				require.Equal(t, contains(want, perm), p.Can(perm))
			})
		}
	}
}

func contains(ps []Permission, p Permission) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func TestPrincipalCan(t *testing.T) {
	cases := []struct {
		name  string
		roles []Role
		perm  Permission
		want  bool
	}{
		{"no roles", nil, InvoicesRead, false},
		{"unknown role grants nothing", []Role{Role("superuser")}, InvoicesRead, false},
		{"union of roles: viewer+auditor reads audit", []Role{RoleViewer, RoleAuditor}, AuditRead, true},
		{"union of roles: auditor+accountant writes", []Role{RoleAuditor, RoleAccountant}, PaymentsWrite, true},
		{"agent never writes", []Role{RoleAgent}, InvoicesWrite, false},
		{"unknown permission", []Role{RoleOwner}, Permission("invoices:delete"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Principal{Roles: tc.roles}.Can(tc.perm))
		})
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles() {
		t.Run(string(r), func(t *testing.T) {
			got, err := ParseRole(string(r))
			require.NoError(t, err)
			require.Equal(t, r, got)
		})
	}
	for _, s := range []string{"", "Owner", "OWNER", " owner", "owner ", "superuser", "system", "user"} {
		t.Run("reject "+s, func(t *testing.T) {
			got, err := ParseRole(s)
			require.Error(t, err)
			require.Empty(t, got)
		})
	}
}

func TestKnownPermission(t *testing.T) {
	for _, p := range allPermissions {
		t.Run(string(p), func(t *testing.T) {
			require.True(t, KnownPermission(p))
		})
	}
	for _, p := range []Permission{"", "invoices:delete", "INVOICES:READ", "audit:write", "invoices"} {
		t.Run("unknown "+string(p), func(t *testing.T) {
			require.False(t, KnownPermission(p))
		})
	}
}
