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
	// MemoryMiB is the instance's memory (default DefaultMemoryMiB). The Go runtime is
	// given a soft limit just under it (GOMEMLIMIT), so a busy instance collects garbage
	// harder before it would be killed for running out.
	MemoryMiB int `json:"memory_mib,omitempty"`
	// GOGC is the garbage collector's target (Go's default 100): how much the heap may
	// grow over what survived the last collection before the next. A function whose
	// requests allocate many short-lived megabytes (a 5 MB report) spends a third of its
	// CPU collecting at 100; a higher target trades memory, which the soft limit caps,
	// for that CPU.
	GOGC int `json:"gogc,omitempty"`
}

// DefaultMemoryMiB is an instance's memory when the manifest names none.
const DefaultMemoryMiB = 256

// Memory is the instance's memory in MiB.
func (f Function) Memory() int {
	if f.MemoryMiB == 0 {
		return DefaultMemoryMiB
	}
	return f.MemoryMiB
}

// RuntimeEnv is the Go runtime's environment for the function's instances (deployed by
// Terraform, applied by the benchmark): the soft memory limit, 90% of the instance's
// memory to leave room for what the runtime does not count, and the GC target when the
// manifest sets one.
func (f Function) RuntimeEnv() map[string]string {
	env := map[string]string{"GOMEMLIMIT": fmt.Sprintf("%dMiB", f.Memory()*9/10)}
	if f.GOGC != 0 {
		env["GOGC"] = fmt.Sprint(f.GOGC)
	}
	return env
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
		// Cloud Run functions take 128 MiB to 32 GiB; GOGC below 25 would collect
		// continuously, above 1000 lean wholly on the soft limit.
		if f.MemoryMiB != 0 && (f.MemoryMiB < 128 || f.MemoryMiB > 32768) {
			return nil, fmt.Errorf("manifest: %s memory_mib %d is outside 128..32768", f.Name, f.MemoryMiB)
		}
		if f.GOGC != 0 && (f.GOGC < 25 || f.GOGC > 1000) {
			return nil, fmt.Errorf("manifest: %s gogc %d is outside 25..1000", f.Name, f.GOGC)
		}
	}
	return doc.Functions, nil
}
