package auth

import (
	"fmt"
	"slices"
)

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
	// ImportsRead and ImportsWrite cover bulk imports: reading an import's progress and
	// failed rows goes with reading the books; uploading one with writing them (and
	// each import also needs the write permission of what it imports).
	ImportsRead  Permission = "imports:read"
	ImportsWrite Permission = "imports:write"
	// AgentsRead covers the record of the AI agents' work: their runs and their
	// spend against the tenant's budget. Viewers do not hold it, and neither do agents:
	// what an agent costs is not a book an agent reads.
	AgentsRead Permission = "agents:read"
	// ProposalsRead covers what the agents propose (proposals, AR runs): read with the
	// books. ProposalsCreate covers asking for proposals: running the AP and AR agents
	// and proposing through the MCP tools; agents hold it, viewers and auditors do not.
	// ProposalsApprove covers deciding them, which carries a proposal out: the people
	// who keep the books (accountants could do each thing directly anyway) and
	// approvers, the checkers of what others prepared. Never an agent: shared/proposals
	// refuses a principal with the agent role or actor type whatever else it holds.
	ProposalsRead    Permission = "proposals:read"
	ProposalsCreate  Permission = "proposals:create"
	ProposalsApprove Permission = "proposals:approve"
	// MCPConnect covers connecting to Ledgerline's MCP server (/v1/mcp): everyone who
	// reads the books may, and each tool then checks the permission of the operation
	// it stands for.
	MCPConnect Permission = "mcp:connect"
	// PlatformAdmin guards cross-tenant operations (/v1/admin/...). No tenant role
	// grants it: only a token's distinct platform_admin claim does.
	PlatformAdmin Permission = "platform:admin"
)

var (
	readBooks  = []Permission{CounterpartiesRead, InvoicesRead, PaymentsRead, ReportsRead, SettingsRead, ImportsRead, ProposalsRead, MCPConnect}
	writeBooks = []Permission{CounterpartiesWrite, InvoicesWrite, PaymentsWrite, ImportsWrite}
	administer = []Permission{AuditRead, WebhooksManage, IdentityManage, SettingsWrite}
	propose    = []Permission{ProposalsCreate}
	decide     = []Permission{ProposalsApprove}
)

// grants is the one table from role to permissions. Agents read the books and propose;
// their proposals are approved by people, so they hold no write permission here.
var grants = map[Role]map[Permission]bool{
	RoleOwner:      set(readBooks, writeBooks, administer, []Permission{AgentsRead}, propose, decide),
	RoleAdmin:      set(readBooks, writeBooks, administer, []Permission{AgentsRead}, propose, decide),
	RoleAccountant: set(readBooks, writeBooks, []Permission{AgentsRead}, propose, decide),
	RoleApprover:   set(readBooks, []Permission{AgentsRead}, decide),
	RoleViewer:     set(readBooks),
	RoleAuditor:    set(readBooks, []Permission{AuditRead, AgentsRead}),
	RoleAgent:      set(readBooks, propose),
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

// MayGive reports whether p may give role r to another caller (an API client, the
// users of a trusted issuer) without escalating: p holds r itself, or holds every
// permission r grants, so an admin can make a read-only client. Owner is the exception:
// it is the tenant's top role, whatever it grants today, and only an owner makes
// another.
func (p Principal) MayGive(r Role) bool {
	if slices.Contains(p.Roles, r) {
		return true
	}
	if r == RoleOwner {
		return false
	}
	for _, perm := range RolePermissions(r) {
		if !p.Can(perm) {
			return false
		}
	}
	return true
}

// RolePermissions lists what r grants, sorted; nothing for an unknown role.
func RolePermissions(r Role) []Permission {
	perms := make([]Permission, 0, len(grants[r]))
	for p := range grants[r] {
		perms = append(perms, p)
	}
	slices.Sort(perms)
	return perms
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
