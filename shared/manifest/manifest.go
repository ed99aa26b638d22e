// Package manifest is the one source of truth for Ledgerline's function set: each
// deployed function's entry point, kind, route or topic and permission. The platform
// registrations, the dev server's routes, the OpenAPI document and Terraform (which
// deploys each entry with its sizing, secrets and topics) all read or are checked
// against functions.json.
package manifest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
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
	// outbox sweeper), ops (platform operations across tenants: dead letters),
	// readonly (the reports and exports: they read a tenant's books and can write
	// nothing, whatever a bug in them might try).
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
	// CPU, Concurrency (requests per instance) and the instance bounds size the
	// deployment; Terraform supplies its defaults where they are unset. Max instances
	// times the pool size (DB_MAX_CONNS) is the function's share of the database's
	// connections, which Terraform checks against max_connections.
	CPU          string `json:"cpu,omitempty"`
	Concurrency  int    `json:"concurrency,omitempty"`
	MinInstances int    `json:"min_instances,omitempty"`
	MaxInstances int    `json:"max_instances,omitempty"`
	// Secrets are the configuration variables the function reads from Secret Manager;
	// its service account may access those secrets and no others.
	Secrets []string `json:"secrets,omitempty"`
	// Publishes are the topics the function publishes to besides the events topic,
	// which every write operation of the API publishes to (see Topics).
	Publishes []string `json:"publishes,omitempty"`
	// Body is what an HTTP operation's request body is: JSON (the default), or "file",
	// an uploaded file (an import's CSV or XLSX, as the body itself or a multipart
	// part). The platform reads a file within IMPORT_MAX_BYTES instead of
	// MAX_BODY_BYTES, accepts the media types the operation's OpenAPI request body
	// lists instead of JSON alone, and leaves the parsing to the function.
	Body string `json:"body,omitempty"`
	// SecretResponse marks a POST whose answer carries a secret shown once (an API
	// client's, a webhook endpoint's signing secret), which must never be stored
	// anywhere. The platform keeps the responses of keyed requests to replay them
	// (Idempotency-Key), so it refuses the header on these operations with
	// 400 idempotency_not_supported, before they run, rather than store the secret or
	// silently run a retry twice; their OpenAPI descriptions say so.
	SecretResponse bool `json:"secret_response,omitempty"`
}

// BodyFile is the Body of operations that take an uploaded file.
const BodyFile = "file"

// FileUpload reports whether the operation's request body is an uploaded file.
func (f Function) FileUpload() bool { return f.Body == BodyFile }

// EventsTopic is where domain events go after commit (the outbox relay's topic).
const EventsTopic = "ledgerline-events"

// Topics are the topics the function publishes to, which its service account may
// publish to: its Publishes, and the events topic for the API's write operations
// (they publish their transaction's events after commit; GETs write nothing, and the
// other database roles have no outbox).
func (f Function) Topics() []string {
	topics := append([]string(nil), f.Publishes...)
	if f.Kind == HTTP && f.Method != "GET" && f.DBRole() == "app" && !slices.Contains(topics, EventsTopic) {
		topics = append(topics, EventsTopic)
	}
	return topics
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

// PublicPermission is the permission of an operation anyone may call without a bearer
// token: the OAuth 2.0 token endpoint (its callers authenticate with their client
// credentials instead) and the published signing keys. The platform neither
// authenticates nor authorises their callers, so the manifest test pins which
// operations are public.
const PublicPermission = "public"

// Public reports whether the function is an HTTP operation anyone may call.
func (f Function) Public() bool { return f.Kind == HTTP && f.Permission == PublicPermission }

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
			// Without a caller there is no tenant to scope another role's access to.
			if f.Public() && f.DBRole() != "app" {
				return nil, fmt.Errorf("manifest: %s is public and must connect as app", f.Name)
			}
			if seenRoute[f.Pattern()] {
				return nil, fmt.Errorf("manifest: duplicate route %s", f.Pattern())
			}
			seenRoute[f.Pattern()] = true
			if f.Body != "" && (f.Body != BodyFile || f.Method != "POST") {
				return nil, fmt.Errorf("manifest: %s: body must be %q, on a POST, or absent", f.Name, BodyFile)
			}
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
		// Only the platform's keyed POSTs keep responses: anywhere else the mark would
		// promise a protection that is not there to give.
		if f.SecretResponse && (f.Kind != HTTP || f.Method != "POST" || f.Public()) {
			return nil, fmt.Errorf("manifest: %s: secret_response is for POST operations that are not public", f.Name)
		}
		switch f.DBRole() {
		case "app", "relay", "ops", "readonly":
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
		if err := f.validateSizing(); err != nil {
			return nil, err
		}
	}
	return doc.Functions, nil
}

// cpus are the CPU allocations Cloud Run functions offer.
var cpus = []string{"0.083", "0.167", "0.333", "0.583", "1", "2", "4", "6", "8"}

func (f Function) validateSizing() error {
	switch {
	case f.CPU != "" && !slices.Contains(cpus, f.CPU):
		return fmt.Errorf("manifest: %s cpu %q is not one of %v", f.Name, f.CPU, cpus)
	case f.Concurrency < 0 || f.Concurrency > 1000:
		return fmt.Errorf("manifest: %s concurrency %d is outside 1..1000", f.Name, f.Concurrency)
	case f.MinInstances < 0 || f.MaxInstances < 0:
		return fmt.Errorf("manifest: %s has negative instance bounds", f.Name)
	case f.MaxInstances != 0 && f.MinInstances > f.MaxInstances:
		return fmt.Errorf("manifest: %s min_instances %d exceeds max_instances %d", f.Name, f.MinInstances, f.MaxInstances)
	}
	for _, s := range f.Secrets {
		if !secretName.MatchString(s) {
			return fmt.Errorf("manifest: %s secret %q is not an environment variable name", f.Name, s)
		}
	}
	return nil
}

var secretName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
