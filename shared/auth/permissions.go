package auth

import "fmt"

// Role is a named bundle of permissions a token carries.
type Role string

const (
	RoleOwner      Role = "owner"
	RoleAdmin      Role = "admin"
	RoleAccountant Role = "accountant"
	RoleApprover   Role = "approver"
	RoleViewer     Role = "viewer"
	RoleAuditor    Role = "auditor"
	RoleAgent      Role = "agent"
)

// Permission is what an operation needs; the manifest names one per operation.
type Permission string

const (
	CounterpartiesRead  Permission = "counterparties:read"
	CounterpartiesWrite Permission = "counterparties:write"
	InvoicesRead        Permission = "invoices:read"
	InvoicesWrite       Permission = "invoices:write"
	PaymentsRead        Permission = "payments:read"
	PaymentsWrite       Permission = "payments:write"
	AuditRead           Permission = "audit:read"
	WebhooksManage      Permission = "webhooks:manage"
	// ReportsRead covers the reports (aging, cash forecast): aggregates over the books,
	// granted to every role that reads them.
	ReportsRead Permission = "reports:read"
	// IdentityManage covers who may call the API: API clients (OAuth2 client
	// credentials) and the external OIDC issuers the tenant trusts. It is the power to
	// mint access, so only owners and admins hold it.
	IdentityManage Permission = "identity:manage"
	// SettingsRead and SettingsWrite cover the tenant's settings and feature flags.
	SettingsRead  Permission = "settings:read"
	SettingsWrite Permission = "settings:write"
	// PlatformAdmin guards cross-tenant operations (/v1/admin/...). No tenant role
	// grants it: only a token's distinct platform_admin claim does.
	PlatformAdmin Permission = "platform:admin"
)

var (
	readBooks  = []Permission{CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead, SettingsRead}
	writeBooks = []Permission{CounterpartiesWrite, InvoicesWrite, PaymentsWrite}
	administer = []Permission{AuditRead, WebhooksManage, IdentityManage, SettingsWrite}
)

// grants is the one table from role to permissions. Agents read the books and propose;
// their proposals are approved by people, so they hold no write permission here.
var grants = map[Role]map[Permission]bool{
	RoleOwner:      set(readBooks, writeBooks, administer),
	RoleAdmin:      set(readBooks, writeBooks, administer),
	RoleAccountant: set(readBooks, writeBooks),
	RoleApprover:   set(readBooks),
	RoleViewer:     set(readBooks),
	RoleAuditor:    set(readBooks, []Permission{AuditRead}),
	RoleAgent:      set(readBooks),
}

func set(groups ...[]Permission) map[Permission]bool {
	m := map[Permission]bool{}
	for _, g := range groups {
		for _, p := range g {
			m[p] = true
		}
	}
	return m
}

func roleGrants(r Role, p Permission) bool { return grants[r][p] }

// Roles lists every known role.
func Roles() []Role {
	return []Role{RoleOwner, RoleAdmin, RoleAccountant, RoleApprover, RoleViewer, RoleAuditor, RoleAgent}
}

// ParseRole accepts only known roles, so a typo in a token grants nothing silently.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := grants[r]; !ok {
		return "", fmt.Errorf("unknown role %q", s)
	}
	return r, nil
}

// KnownPermission reports whether some role grants p; the manifest check uses it so an
// operation cannot name a permission nobody holds.
func KnownPermission(p Permission) bool {
	if p == PlatformAdmin {
		return true
	}
	for _, g := range grants {
		if g[p] {
			return true
		}
	}
	return false
}
