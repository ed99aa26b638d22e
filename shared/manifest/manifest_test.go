package manifest

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/auth"
)

func TestAllParses(t *testing.T) {
	fns := All()
	require.NotEmpty(t, fns)
	fromRaw, err := parse(JSON())
	require.NoError(t, err)
	require.Equal(t, fromRaw, fns, "All is the embedded manifest, in order")
	require.Same(t, &All()[0], &fns[0], "the manifest is parsed once")
}

func TestNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range All() {
		require.NotEmpty(t, f.Name)
		require.False(t, seen[f.Name], "duplicate name %s", f.Name)
		seen[f.Name] = true
	}
}

var (
	entryPoint = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	methods    = map[string]bool{http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true}
)

func TestFunctionsAreComplete(t *testing.T) {
	mux := http.NewServeMux()
	routes := map[string]bool{}
	for _, f := range All() {
		t.Run(f.Name, func(t *testing.T) {
			require.Regexp(t, entryPoint, f.Name, "the name is a Go entry point")
			switch f.Kind {
			case HTTP:
				require.True(t, methods[f.Method], "method %q", f.Method)
				require.NotEmpty(t, f.Permission)
				if f.Public() {
					// Well-known URIs (RFC 8615) live where their RFCs put them.
					require.True(t, strings.HasPrefix(f.Path, "/v1/") || strings.HasPrefix(f.Path, "/.well-known/"), "path %q", f.Path)
				} else {
					require.True(t, strings.HasPrefix(f.Path, "/v1/"), "path %q", f.Path)
					require.True(t, auth.KnownPermission(auth.Permission(f.Permission)), "permission %q is granted by no role", f.Permission)
				}
				require.Empty(t, f.Topic)
				require.False(t, routes[f.Pattern()], "duplicate route %s", f.Pattern())
				routes[f.Pattern()] = true
				require.NotPanics(t, func() { mux.Handle(f.Pattern(), http.NotFoundHandler()) }, "pattern %q", f.Pattern())
			case CloudEvent:
				require.NotEmpty(t, f.Topic)
				require.Empty(t, f.Method)
				require.Empty(t, f.Path)
			default:
				t.Fatalf("unknown kind %q", f.Kind)
			}
		})
	}
}

// TestPublicOperations pins what anyone may call without a token: the platform neither
// authenticates nor authorises these, so a new entry here must be a decision.
func TestPublicOperations(t *testing.T) {
	var public []string
	for _, f := range All() {
		if f.Public() {
			public = append(public, f.Name)
			require.Equal(t, "app", f.DBRole(), f.Name)
		}
	}
	require.ElementsMatch(t, []string{"OAuthToken", "JWKS"}, public)
	require.False(t, auth.KnownPermission(PublicPermission), "no role grants %q: it is the absence of a permission", PublicPermission)
	require.False(t, Function{Kind: CloudEvent, Topic: "t", Permission: PublicPermission}.Public(), "only HTTP operations are public")
}

// TestSecretResponses pins the operations whose answer carries a secret shown once: the
// platform refuses an Idempotency-Key on them so the secret is never stored, and a new
// operation that returns a secret must be added here and marked.
func TestSecretResponses(t *testing.T) {
	var secret []string
	for _, f := range All() {
		if f.SecretResponse {
			secret = append(secret, f.Name)
		}
	}
	require.ElementsMatch(t, []string{"ApiClientsCreate", "WebhookEndpointsCreate"}, secret)
}

func TestReadsNeedReadPermission(t *testing.T) {
	for _, f := range All() {
		if f.Kind != HTTP {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			// A read-only grant must never be enough to change anything, and reading must
			// not demand a write grant (manage/admin permissions cover both).
			if f.Method == http.MethodGet {
				require.False(t, strings.HasSuffix(f.Permission, ":write"), "GET %s needs a read permission, has %s", f.Path, f.Permission)
			} else {
				require.False(t, strings.HasSuffix(f.Permission, ":read"), "%s %s needs a write permission, has %s", f.Method, f.Path, f.Permission)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, want := range All() {
		got, ok := Lookup(want.Name)
		require.True(t, ok, want.Name)
		require.Equal(t, want, got)
	}
	_, ok := Lookup("NoSuchFunction")
	require.False(t, ok)
	_, ok = Lookup("")
	require.False(t, ok)

	f, ok := Lookup("InvoicesCreate")
	require.True(t, ok)
	require.Equal(t, Function{Name: "InvoicesCreate", Kind: HTTP, Method: "POST", Path: "/v1/invoices", Permission: "invoices:write"}, f)
}

func TestJSONIsTheEmbeddedFile(t *testing.T) {
	require.True(t, bytes.Contains(JSON(), []byte(`"functions"`)))
}

func TestPattern(t *testing.T) {
	cases := []struct {
		f    Function
		want string
	}{
		{Function{Method: "GET", Path: "/v1/invoices/{id}"}, "GET /v1/invoices/{id}"},
		{Function{Method: "POST", Path: "/v1/invoices"}, "POST /v1/invoices"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.f.Pattern())
		})
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		wantErr string // "" means accepted
		want    []Function
	}{
		{
			name: "http and cloudevent",
			doc: `{"functions":[
				{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:read"},
				{"name":"B","kind":"cloudevent","topic":"events"}]}`,
			want: []Function{
				{Name: "A", Kind: HTTP, Method: "GET", Path: "/v1/a", Permission: "invoices:read"},
				{Name: "B", Kind: CloudEvent, Topic: "events"},
			},
		},
		{
			name: "same path, different methods",
			doc: `{"functions":[
				{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:read"},
				{"name":"B","kind":"http","method":"POST","path":"/v1/a","permission":"invoices:write"}]}`,
			want: []Function{
				{Name: "A", Kind: HTTP, Method: "GET", Path: "/v1/a", Permission: "invoices:read"},
				{Name: "B", Kind: HTTP, Method: "POST", Path: "/v1/a", Permission: "invoices:write"},
			},
		},
		{
			name: "two cloudevents on one topic",
			doc: `{"functions":[
				{"name":"A","kind":"cloudevent","topic":"events"},
				{"name":"B","kind":"cloudevent","topic":"events"}]}`,
			want: []Function{{Name: "A", Kind: CloudEvent, Topic: "events"}, {Name: "B", Kind: CloudEvent, Topic: "events"}},
		},
		{name: "no functions", doc: `{"functions":[]}`, want: []Function{}},
		{name: "malformed", doc: `{"functions":[`, wantErr: "manifest:"},
		{name: "unknown top-level field", doc: `{"functions":[],"version":2}`, wantErr: `unknown field "version"`},
		{
			name:    "unknown function field",
			doc:     `{"functions":[{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:read","auth":"none"}]}`,
			wantErr: `unknown field "auth"`,
		},
		{
			name: "duplicate names",
			doc: `{"functions":[
				{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:read"},
				{"name":"A","kind":"cloudevent","topic":"t"}]}`,
			wantErr: `duplicate name "A"`,
		},
		{name: "missing name", doc: `{"functions":[{"kind":"cloudevent","topic":"t"}]}`, wantErr: `missing or duplicate name ""`},
		{
			name: "duplicate routes",
			doc: `{"functions":[
				{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:read"},
				{"name":"B","kind":"http","method":"GET","path":"/v1/a","permission":"invoices:write"}]}`,
			wantErr: "duplicate route GET /v1/a",
		},
		{
			name: "public",
			doc:  `{"functions":[{"name":"A","kind":"http","method":"GET","path":"/.well-known/a","permission":"public"}]}`,
			want: []Function{{Name: "A", Kind: HTTP, Method: "GET", Path: "/.well-known/a", Permission: "public"}},
		},
		{
			name:    "public with another role",
			doc:     `{"functions":[{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"public","role":"ops"}]}`,
			wantErr: "A is public and must connect as app",
		},
		{name: "http without permission", doc: `{"functions":[{"name":"A","kind":"http","method":"GET","path":"/v1/a"}]}`, wantErr: "A needs method, path and permission"},
		{name: "http without method", doc: `{"functions":[{"name":"A","kind":"http","path":"/v1/a","permission":"invoices:read"}]}`, wantErr: "A needs method, path and permission"},
		{name: "http without path", doc: `{"functions":[{"name":"A","kind":"http","method":"GET","permission":"invoices:read"}]}`, wantErr: "A needs method, path and permission"},
		{name: "cloudevent without topic", doc: `{"functions":[{"name":"A","kind":"cloudevent"}]}`, wantErr: "A needs a topic"},
		{name: "unknown kind", doc: `{"functions":[{"name":"A","kind":"cron","topic":"t"}]}`, wantErr: `A has unknown kind "cron"`},
		{name: "missing kind", doc: `{"functions":[{"name":"A","topic":"t"}]}`, wantErr: `A has unknown kind ""`},
		{
			name: "memory and gc target",
			doc:  `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","memory_mib":512,"gogc":400}]}`,
			want: []Function{{Name: "A", Kind: CloudEvent, Topic: "t", MemoryMiB: 512, GOGC: 400}},
		},
		{name: "memory too small", doc: `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","memory_mib":64}]}`, wantErr: "A memory_mib 64 is outside 128..32768"},
		{name: "memory too large", doc: `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","memory_mib":65536}]}`, wantErr: "outside 128..32768"},
		{name: "gogc too low", doc: `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","gogc":10}]}`, wantErr: "A gogc 10 is outside 25..1000"},
		{name: "gogc off", doc: `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","gogc":-1}]}`, wantErr: "outside 25..1000"},
		{
			name: "secret response",
			doc:  `{"functions":[{"name":"A","kind":"http","method":"POST","path":"/v1/a","permission":"identity:manage","secret_response":true}]}`,
			want: []Function{{Name: "A", Kind: HTTP, Method: "POST", Path: "/v1/a", Permission: "identity:manage", SecretResponse: true}},
		},
		{
			name:    "secret response on a GET",
			doc:     `{"functions":[{"name":"A","kind":"http","method":"GET","path":"/v1/a","permission":"identity:manage","secret_response":true}]}`,
			wantErr: "A: secret_response is for POST operations that are not public",
		},
		{
			name:    "secret response on a public POST",
			doc:     `{"functions":[{"name":"A","kind":"http","method":"POST","path":"/v1/a","permission":"public","secret_response":true}]}`,
			wantErr: "A: secret_response is for POST operations that are not public",
		},
		{
			name:    "secret response on a cloudevent",
			doc:     `{"functions":[{"name":"A","kind":"cloudevent","topic":"t","secret_response":true}]}`,
			wantErr: "A: secret_response is for POST operations that are not public",
		},
		{name: "kind case differs", doc: `{"functions":[{"name":"A","kind":"HTTP","method":"GET","path":"/v1/a","permission":"invoices:read"}]}`, wantErr: "unknown kind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse([]byte(tc.doc))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAllPanicsOnABrokenManifest(t *testing.T) {
	prev := load
	t.Cleanup(func() { load = prev })
	load = sync.OnceValues(func() ([]Function, error) { return parse([]byte(`{"functions":[{"name":"A"}]}`)) })
	require.PanicsWithError(t, `manifest: A has unknown kind ""`, func() { All() })
}

func TestRuntimeEnv(t *testing.T) {
	cases := []struct {
		fn   Function
		want map[string]string
	}{
		{Function{Name: "A"}, map[string]string{"GOMEMLIMIT": "230MiB"}},
		{Function{Name: "B", MemoryMiB: 512, GOGC: 400}, map[string]string{"GOMEMLIMIT": "460MiB", "GOGC": "400"}},
		{Function{Name: "C", MemoryMiB: 1024}, map[string]string{"GOMEMLIMIT": "921MiB"}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.fn.RuntimeEnv(), tc.fn.Name)
	}
	aging, ok := Lookup("ReportsAging")
	require.True(t, ok)
	require.Equal(t, 512, aging.Memory(), "the aging report's instances hold several 5 MB reports at a time")
}
