// Package manifest is the one source of truth for Ledgerline's function set: each
// deployed function's entry point, kind, route or topic and permission. The platform
// registrations, the dev server's routes, the OpenAPI document and (later) Terraform
// all read or are checked against functions.json.
package manifest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

// Kind is how a function is triggered.
type Kind string

const (
	HTTP       Kind = "http"
	CloudEvent Kind = "cloudevent"
)

// Function is one deployed function.
type Function struct {
	Name       string `json:"name"`                 // entry point = FUNCTION_TARGET
	Kind       Kind   `json:"kind"`                 // http or cloudevent
	Method     string `json:"method,omitempty"`     // HTTP method, for http
	Path       string `json:"path,omitempty"`       // route pattern with {params}, for http
	Permission string `json:"permission,omitempty"` // what the caller needs, for http
	Topic      string `json:"topic,omitempty"`      // trigger topic, for cloudevent
	// Schedule is the cron schedule (Cloud Scheduler) that publishes to Topic, for
	// processors run on a timer rather than by other systems' messages.
	Schedule string `json:"schedule,omitempty"`
	// Role is the database role the function connects as: app (default), relay (the
	// outbox sweeper), ops (platform operations across tenants: dead letters).
	Role string `json:"role,omitempty"`
}

// DBRole is the database role the function's identity is mapped to.
func (f Function) DBRole() string {
	if f.Role == "" {
		return "app"
	}
	return f.Role
}

// Pattern is the net/http ServeMux pattern for an HTTP function.
func (f Function) Pattern() string { return f.Method + " " + f.Path }

//go:embed functions.json
var raw []byte

// JSON is the manifest as stored, for tools that read it directly (Terraform).
func JSON() []byte { return raw }

var load = sync.OnceValues(func() ([]Function, error) { return parse(raw) })

// All returns every function, in manifest order.
func All() []Function {
	fns, err := load()
	if err != nil {
		// The manifest is embedded: a parse failure is a build defect caught by tests.
		panic(err)
	}
	return fns
}

// Lookup finds a function by entry-point name.
func Lookup(name string) (Function, bool) {
	for _, f := range All() {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

func parse(b []byte) ([]Function, error) {
	var doc struct {
		Functions []Function `json:"functions"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	seenName := map[string]bool{}
	seenRoute := map[string]bool{}
	for _, f := range doc.Functions {
		if f.Name == "" || seenName[f.Name] {
			return nil, fmt.Errorf("manifest: missing or duplicate name %q", f.Name)
		}
		seenName[f.Name] = true
		switch f.Kind {
		case HTTP:
			if f.Method == "" || f.Path == "" || f.Permission == "" {
				return nil, fmt.Errorf("manifest: %s needs method, path and permission", f.Name)
			}
			if seenRoute[f.Pattern()] {
				return nil, fmt.Errorf("manifest: duplicate route %s", f.Pattern())
			}
			seenRoute[f.Pattern()] = true
		case CloudEvent:
			if f.Topic == "" {
				return nil, fmt.Errorf("manifest: %s needs a topic", f.Name)
			}
			if f.Method != "" || f.Path != "" {
				return nil, fmt.Errorf("manifest: %s is triggered by a topic, not a route", f.Name)
			}
		default:
			return nil, fmt.Errorf("manifest: %s has unknown kind %q", f.Name, f.Kind)
		}
		switch f.DBRole() {
		case "app", "relay", "ops":
		default:
			return nil, fmt.Errorf("manifest: %s has unknown role %q", f.Name, f.Role)
		}
	}
	return doc.Functions, nil
}
