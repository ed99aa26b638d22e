package functions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apitest"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/manifest"
)

// rbacRoles are the columns of rbacMatrix, in order.
var rbacRoles = []auth.Role{
	auth.RoleOwner, auth.RoleAdmin, auth.RoleAccountant, auth.RoleApprover, auth.RoleViewer, auth.RoleAuditor, auth.RoleAgent,
}

// rbacMatrix is the reviewed answer to "may this role do this?", written out cell by
// cell rather than derived from shared/auth's grants, so that a change to the grants
// has to be made here too, in the open, before the test passes. Y allows, - denies.
//
// The policy behind it: everyone who works on the books reads them; accountants (and
// the owner and admins) write them, and imports are writes; approvers, viewers,
// auditors and agents only read. Agents propose and people approve: owners, admins,
// accountants and approvers decide proposals, agents and those who keep the books ask
// for them. The audit trail is for owners, admins and auditors; webhooks, API clients,
// trusted issuers and settings changes are administration; no tenant role reaches
// across tenants.
var rbacMatrix = map[auth.Permission]string{
	//                       owner admin accountant approver viewer auditor agent
	"counterparties:read":  "Y     Y     Y          Y        Y      Y       Y",
	"counterparties:write": "Y     Y     Y          -        -      -       -",
	"invoices:read":        "Y     Y     Y          Y        Y      Y       Y",
	"invoices:write":       "Y     Y     Y          -        -      -       -",
	"payments:read":        "Y     Y     Y          Y        Y      Y       Y",
	"payments:write":       "Y     Y     Y          -        -      -       -",
	"reports:read":         "Y     Y     Y          Y        Y      Y       Y",
	"audit:read":           "Y     Y     -          -        -      Y       -",
	"webhooks:manage":      "Y     Y     -          -        -      -       -",
	"identity:manage":      "Y     Y     -          -        -      -       -",
	"settings:read":        "Y     Y     Y          Y        Y      Y       Y",
	"settings:write":       "Y     Y     -          -        -      -       -",
	"imports:read":         "Y     Y     Y          Y        Y      Y       Y",
	"imports:write":        "Y     Y     Y          -        -      -       -",
	"agents:read":          "Y     Y     Y          Y        -      Y       -",
	"proposals:read":       "Y     Y     Y          Y        Y      Y       Y",
	"proposals:create":     "Y     Y     Y          -        -      -       Y",
	"proposals:approve":    "Y     Y     Y          Y        -      -       -",
	"mcp:connect":          "Y     Y     Y          Y        Y      Y       Y",
	"platform:admin":       "-     -     -          -        -      -       -",
}

// expectedAllowed reads one cell of rbacMatrix.
func expectedAllowed(t *testing.T, matrix map[auth.Permission]string, perm auth.Permission, role auth.Role) bool {
	t.Helper()
	row, ok := matrix[perm]
	require.True(t, ok, "permission %s is not in rbacMatrix", perm)
	cells := strings.Fields(row)
	require.Len(t, cells, len(rbacRoles), "row %s needs one cell per role", perm)
	i := slices.Index(rbacRoles, role)
	require.GreaterOrEqual(t, i, 0, "role %s has no column in rbacMatrix", role)
	require.Contains(t, []string{"Y", "-"}, cells[i], "row %s, role %s", perm, role)
	return cells[i] == "Y"
}

// matrixGaps names every HTTP operation whose permission has no row in matrix, so a
// new permission cannot reach production without someone deciding, role by role, who
// holds it.
func matrixGaps(fns []manifest.Function, matrix map[auth.Permission]string) []string {
	var gaps []string
	for _, fn := range fns {
		if fn.Kind != manifest.HTTP || fn.Public() {
			continue
		}
		if _, ok := matrix[auth.Permission(fn.Permission)]; !ok {
			gaps = append(gaps, fmt.Sprintf("%s (%s %s) needs permission %q, which has no row in rbacMatrix: decide for every role whether it is allowed",
				fn.Name, fn.Method, fn.Path, fn.Permission))
		}
	}
	return gaps
}

// adminPathMismatches names the operations that break "cross-tenant operations live
// under /v1/admin/ and only there, behind platform:admin".
func adminPathMismatches(fns []manifest.Function) []string {
	var bad []string
	for _, fn := range fns {
		if fn.Kind != manifest.HTTP {
			continue
		}
		underAdmin := strings.HasPrefix(fn.Path, "/v1/admin/")
		isPlatform := fn.Permission == string(auth.PlatformAdmin)
		switch {
		case underAdmin && !isPlatform:
			bad = append(bad, fmt.Sprintf("%s: %s is under /v1/admin/ but needs %q instead of platform:admin", fn.Name, fn.Path, fn.Permission))
		case isPlatform && !underAdmin:
			bad = append(bad, fmt.Sprintf("%s: needs platform:admin but %s is not under /v1/admin/", fn.Name, fn.Path))
		}
	}
	return bad
}

func httpOperations(t *testing.T) []manifest.Function {
	t.Helper()
	var fns []manifest.Function
	for _, fn := range manifest.All() {
		if fn.Kind == manifest.HTTP {
			fns = append(fns, fn)
		}
	}
	require.NotEmpty(t, fns)
	return fns
}

func TestRBACMatrixCoversTheManifest(t *testing.T) {
	fns := httpOperations(t)
	gaps := matrixGaps(fns, rbacMatrix)
	require.Empty(t, gaps, strings.Join(gaps, "\n"))

	// Every role the code knows has a column, and no column names a role it does not know.
	require.ElementsMatch(t, auth.Roles(), rbacRoles, "rbacRoles must list exactly auth.Roles()")

	// A permission nobody may hold (other than platform:admin) is a typo waiting to
	// lock everyone out.
	for perm := range rbacMatrix {
		require.True(t, auth.KnownPermission(perm), "rbacMatrix names %s, which shared/auth does not know", perm)
	}
}

func TestRBACMatrixCatchesAnUnreviewedPermission(t *testing.T) {
	fns := append(httpOperations(t), manifest.Function{
		Name: "LedgersDestroy", Kind: manifest.HTTP, Method: "DELETE", Path: "/v1/ledgers/{id}", Permission: "ledgers:destroy",
	})
	gaps := matrixGaps(fns, rbacMatrix)
	require.Len(t, gaps, 1)
	require.Contains(t, gaps[0], `LedgersDestroy (DELETE /v1/ledgers/{id}) needs permission "ledgers:destroy", which has no row in rbacMatrix`)
}

func TestRBACAdminOperationsAreExactlyThePlatformOnes(t *testing.T) {
	bad := adminPathMismatches(httpOperations(t))
	require.Empty(t, bad, strings.Join(bad, "\n"))

	// The check itself bites both ways.
	bad = adminPathMismatches([]manifest.Function{
		{Name: "AdminTenantsList", Kind: manifest.HTTP, Method: "GET", Path: "/v1/admin/tenants", Permission: "settings:read"},
		{Name: "TenantsPurge", Kind: manifest.HTTP, Method: "POST", Path: "/v1/tenants/{id}/purge", Permission: "platform:admin"},
		{Name: "InvoicesList", Kind: manifest.HTTP, Method: "GET", Path: "/v1/invoices", Permission: "invoices:read"},
	})
	require.Len(t, bad, 2)
	require.Contains(t, bad[0], "AdminTenantsList")
	require.Contains(t, bad[1], "TenantsPurge")
}

// TestRBACPermissionsMatchTheMatrix checks shared/auth's grants cell by cell against the
// reviewed matrix, for every permission the matrix names.
func TestRBACPermissionsMatchTheMatrix(t *testing.T) {
	perms := make([]auth.Permission, 0, len(rbacMatrix))
	for p := range rbacMatrix {
		perms = append(perms, p)
	}
	sort.Slice(perms, func(i, j int) bool { return perms[i] < perms[j] })
	for _, perm := range perms {
		for _, role := range rbacRoles {
			want := expectedAllowed(t, rbacMatrix, perm, role)
			got := auth.Principal{TenantID: uuid.New(), Roles: []auth.Role{role}}.Can(perm)
			require.Equal(t, want, got, "role %s, permission %s: the matrix says %v, shared/auth grants %v", role, perm, want, got)
		}
		// Roles add up and never subtract: all of them together hold whatever any one holds.
		anyRole := false
		for _, role := range rbacRoles {
			anyRole = anyRole || expectedAllowed(t, rbacMatrix, perm, role)
		}
		require.Equal(t, anyRole, auth.Principal{Roles: rbacRoles}.Can(perm), perm)
		require.False(t, auth.Principal{}.Can(perm), "no roles, no %s", perm)
	}
	// The platform claim grants the platform permission and nothing else.
	op := auth.Principal{TenantID: uuid.New(), PlatformAdmin: true}
	for _, perm := range perms {
		require.Equal(t, perm == auth.PlatformAdmin, op.Can(perm), perm)
	}
}

// pathParam matches a route's {parameter}.
var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// placeholderPath fills every path parameter with a fresh id: nothing exists under it,
// which is enough to see whether the caller got past authorisation.
func placeholderPath(path string) string {
	return pathParam.ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
}

// minimalRequest is the smallest request of fn's shape: placeholder ids, an empty
// object as the body of the operations that take one, If-Match where writes expect it.
func minimalRequest(fn manifest.Function, token string) apitest.Request {
	req := apitest.Request{Method: fn.Method, Path: placeholderPath(fn.Path), Token: token, Header: map[string]string{}}
	switch fn.Method {
	case http.MethodPost, http.MethodPatch:
		req.Body = "{}"
	}
	switch fn.Method {
	case http.MethodPatch, http.MethodDelete:
		req.Header["If-Match"] = `"1"`
	}
	return req
}

// problemKeys are the members a problem body may carry; a refusal has nothing else.
var problemKeys = []string{"type", "title", "status", "detail", "instance", "code", "errors"}

// requireForbidden checks a refusal: 403, the stable code, and not a byte of data.
func requireForbidden(t *testing.T, resp apitest.Response, what string) {
	t.Helper()
	require.Equal(t, http.StatusForbidden, resp.Status, "%s: want 403, got %d: %s", what, resp.Status, resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), what)
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(resp.Body, &body), what)
	for k := range body {
		require.Contains(t, problemKeys, k, "%s: a refusal carries member %q: %s", what, k, resp.Body)
	}
	require.Equal(t, "forbidden", resp.Problem(t).Code, what)
}

// requireAllowed checks that authorisation let the call through: whatever the
// placeholder request earns (404, 422, 428 ...), it is not a refusal of the caller.
func requireAllowed(t *testing.T, resp apitest.Response, what string) {
	t.Helper()
	require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.Status,
		"%s: want the call let through, got %d: %s", what, resp.Status, resp.Body)
	// A placeholder request may find a dependency missing (503), but never a defect.
	require.NotEqual(t, http.StatusInternalServerError, resp.Status, "%s: %s", what, resp.Body)
}

// TestRBACMatrixOverHTTP walks every HTTP operation of the manifest with every role
// through the real functions and checks each answer against rbacMatrix.
func TestRBACMatrixOverHTTP(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	tenant := s.DB.NewTenant(t, "Matrix")
	tokens := map[auth.Role]string{}
	for _, role := range rbacRoles {
		tokens[role] = s.Token(t, tenant, role)
	}
	noRoles := s.Token(t, tenant)
	operator, err := s.Issuer.IssuePlatformAdmin(tenant, "operator-1", nil, time.Hour)
	require.NoError(t, err)

	for _, fn := range httpOperations(t) {
		t.Run(fn.Name, func(t *testing.T) {
			if fn.Public() {
				for _, role := range rbacRoles {
					resp := s.Do(t, minimalRequest(fn, tokens[role]))
					require.NotEqual(t, http.StatusForbidden, resp.Status, "%s as %s: a public operation refused a role: %s", fn.Name, role, resp.Body)
				}
				return
			}
			perm := auth.Permission(fn.Permission)
			for _, role := range rbacRoles {
				what := fmt.Sprintf("%s %s as %s (%s)", fn.Method, fn.Path, role, perm)
				resp := s.Do(t, minimalRequest(fn, tokens[role]))
				if expectedAllowed(t, rbacMatrix, perm, role) {
					requireAllowed(t, resp, what)
				} else {
					requireForbidden(t, resp, what)
				}
			}
			requireForbidden(t, s.Do(t, minimalRequest(fn, noRoles)), fn.Name+" with no roles")

			// The platform claim opens the platform's operations and nothing else; every
			// tenant role together does not open them.
			opResp := s.Do(t, minimalRequest(fn, operator))
			if perm == auth.PlatformAdmin {
				requireAllowed(t, opResp, fn.Name+" as platform admin")
				requireForbidden(t, s.Do(t, minimalRequest(fn, s.Token(t, tenant, rbacRoles...))), fn.Name+" with every tenant role")
			} else {
				requireForbidden(t, opResp, fn.Name+" as platform admin without tenant roles")
			}
		})
	}
}
