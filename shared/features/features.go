// Package features holds a tenant's feature flags: the fixed set of known flags with
// their defaults (features.go, no I/O), the use cases that read them through the cache
// and replace them with audit and outbox records (service.go), and the only SQL that
// touches them (store.go). Functions ask one question of it:
//
//	on, err := flags.Enabled(ctx, tenantID, features.AutoReconcile)
package features

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// Flag names a feature a tenant may turn on or off.
type Flag string

const (
	// Agents lets the AI agents (AP, AR, forecasting) work on the tenant's books.
	Agents Flag = "agents"
	// AutoReconcile lets an inbound payment that matches an invoice well enough be
	// allocated without asking; off, every match is a suggestion for a person.
	AutoReconcile Flag = "auto_reconcile"
	// Webhooks delivers the tenant's events to its webhook endpoints; off, events are
	// not delivered, and those raised meanwhile are never delivered later.
	Webhooks Flag = "webhooks"
)

// defaults are the known flags and their values for a tenant that has not set them:
// what Ledgerline did before the flag existed, and agents off until a tenant opts in.
var defaults = map[Flag]bool{
	Agents:        false,
	AutoReconcile: true,
	Webhooks:      true,
}

// Known lists the known flags, sorted.
func Known() []Flag {
	flags := make([]Flag, 0, len(defaults))
	for f := range defaults {
		flags = append(flags, f)
	}
	slices.Sort(flags)
	return flags
}

// Default is f's value for a tenant that has not set it.
func Default(f Flag) bool { return defaults[f] }

// Features are a tenant's flags: every known flag with its value, the tenant's own or
// the default.
type Features struct {
	Object    string        `json:"object"`
	Flags     map[Flag]bool `json:"flags"`
	Version   int           `json:"version"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// resolve is the tenant's flags given its own choices.
func resolve(set map[Flag]bool, version int, updatedAt time.Time) Features {
	flags := make(map[Flag]bool, len(defaults))
	for f, on := range defaults {
		flags[f] = on
		if v, ok := set[f]; ok {
			flags[f] = v
		}
	}
	return Features{Object: "tenant_features", Flags: flags, Version: version, UpdatedAt: updatedAt}
}

// PutInput is the body of PUT /v1/tenant/features: the flags the tenant sets. A known
// flag left out follows its default again.
type PutInput struct {
	Flags map[string]bool `json:"flags"`
}

// Apply returns the tenant's choices, or the 422 naming every unknown flag.
func (in PutInput) Apply() (map[Flag]bool, error) {
	f := apperr.Fields{}
	if in.Flags == nil {
		f.Add("flags", "is required")
	}
	set := map[Flag]bool{}
	for name, on := range in.Flags {
		if _, known := defaults[Flag(name)]; !known {
			f.Add("flags."+name, fmt.Sprintf("is not a known feature flag (%s)", knownList()))
			continue
		}
		set[Flag(name)] = on
	}
	return set, f.Err()
}

func knownList() string {
	names := make([]string, 0, len(defaults))
	for _, f := range Known() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}
