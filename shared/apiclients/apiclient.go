// Package apiclients holds a tenant's API clients, the machine callers that obtain
// access tokens from Ledgerline's OAuth 2.0 token endpoint with the client-credentials
// grant (RFC 6749 §4.4): the client type, its secrets and the rules for creating one
// (apiclient.go, no I/O), the token request of the protocol (oauth.go, no I/O), the use
// cases, token issuance and the check that refuses the tokens of deleted clients
// (service.go), and the only SQL that touches them (store.go).
package apiclients

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
)

// Client is an API client as the API shows it. Its secret is not part of it: it is
// shown once, in CreatedClient, and only its hash is kept.
type Client struct {
	ID        uuid.UUID   `json:"id"`
	Object    string      `json:"object"`
	Name      string      `json:"name"`
	Roles     []auth.Role `json:"roles"`
	Version   int         `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
	// CreatedBy is the subject of whoever created the client.
	CreatedBy string `json:"created_by"`
}

// CreatedClient is the answer to a creation, the only one that carries the secret.
type CreatedClient struct {
	Client
	Secret string `json:"secret"`
}

// CreateInput is the body of POST /v1/api-clients.
type CreateInput struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// MaxNameLength bounds a client's name, in characters.
const MaxNameLength = 200

// Apply returns the name and roles in describes, the 422 naming every invalid field,
// or the 403 role_escalation when one of the roles would give the client more than
// creator holds (see auth.Principal.MayGive).
func (in CreateInput) Apply(creator auth.Principal) (string, []auth.Role, error) {
	f := apperr.Fields{}
	switch n := utf8.RuneCountInString(in.Name); {
	case strings.TrimSpace(in.Name) == "":
		f.Add("name", "must not be blank")
	case n > MaxNameLength:
		f.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLength))
	}
	if len(in.Roles) == 0 {
		f.Add("roles", "must name at least one role")
	}
	roles := make([]auth.Role, 0, len(in.Roles))
	for i, s := range in.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		r, err := auth.ParseRole(s)
		switch {
		case err != nil:
			f.Add(field, "is not a known role")
		case slices.Contains(roles, r):
			f.Add(field, "is listed twice")
		default:
			roles = append(roles, r)
		}
	}
	if err := f.Err(); err != nil {
		return "", nil, err
	}
	beyond := apperr.Fields{}
	for i, r := range roles {
		if !creator.MayGive(r) {
			beyond.Add(fmt.Sprintf("roles[%d]", i), "grants more than you hold")
		}
	}
	if len(beyond) > 0 {
		e := apperr.New(apperr.Forbidden, "role_escalation", "an API client may not be given more than its creator holds")
		e.Fields = beyond
		return "", nil, e
	}
	return in.Name, roles, nil
}

// SecretPrefix starts every client secret, so a leaked one is recognisable (secret
// scanners, logs) for what it is.
const SecretPrefix = "llsec_"

// newSecret is a fresh client secret: the prefix and 256 random bits, base64url.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is what is stored of a secret and what a presented secret is compared by.
// SHA-256 and not a slow password hash: those make guessing low-entropy passwords
// expensive, and a 256-bit random secret is beyond guessing however cheap each guess
// is; a fast hash keeps every token request fast.
func hashSecret(secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(secret))
}

// rolesOf reads stored role names. A name this build no longer knows grants nothing,
// like an unknown role in a token.
func rolesOf(names []string) []auth.Role {
	roles := make([]auth.Role, 0, len(names))
	for _, s := range names {
		if r, err := auth.ParseRole(s); err == nil {
			roles = append(roles, r)
		}
	}
	return roles
}
