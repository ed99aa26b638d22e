package platform

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/config"
	"github.com/ledgerline/ledgerline/shared/manifest"
	"github.com/ledgerline/ledgerline/shared/openapi"
)

// contractCodes are the codes a body can be refused with by the platform before the
// function sees it.
var contractCodes = []string{"empty_body", "malformed_json", "invalid_field_type", "unknown_field", "validation_failed",
	"invalid_parameter"}

var routeParam = regexp.MustCompile(`\{[^}]+\}`)

// bodiedOperations are the manifest's operations that take a request body, each behind
// the platform's body reading and contract validation as Wrap puts them.
func bodiedOperations(t testing.TB) ([]manifest.Function, []http.Handler) {
	t.Helper()
	d := &Deps{Config: config.Config{MaxBodyBytes: 64 << 10}}
	var fns []manifest.Function
	var handlers []http.Handler
	for _, fn := range manifest.All() {
		if fn.Kind != manifest.HTTP || fn.Public() {
			continue
		}
		if fn.Method != http.MethodPost && fn.Method != http.MethodPatch && fn.Method != http.MethodPut {
			continue
		}
		reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		mux := http.NewServeMux()
		mux.Handle(fn.Pattern(), readBody(d, validate(newValidator(fn.Name), reached)))
		fns = append(fns, fn)
		handlers = append(handlers, mux)
	}
	if len(fns) == 0 {
		t.Fatal("no operation takes a body")
	}
	return fns, handlers
}

// FuzzRequestContract sends arbitrary bodies to every operation that takes one, through
// the platform's body reading and contract validation: never a panic; either the body
// reaches the function, or a 400/422 problem with a stable code answers. The operations
// come from the manifest, so a new one is fuzzed as soon as it is listed.
func FuzzRequestContract(f *testing.F) {
	fns, _ := bodiedOperations(f)
	doc, err := openapi.Load()
	if err != nil {
		f.Fatal(err)
	}
	examples := map[string][][]byte{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			for _, mt := range op.RequestBody.Value.Content {
				if mt.Example != nil {
					if b, err := json.Marshal(mt.Example); err == nil {
						examples[op.OperationID] = append(examples[op.OperationID], b)
					}
				}
				for _, ex := range mt.Examples {
					if ex.Value != nil && ex.Value.Value != nil {
						if b, err := json.Marshal(ex.Value.Value); err == nil {
							examples[op.OperationID] = append(examples[op.OperationID], b)
						}
					}
				}
			}
		}
	}
	for i, fn := range fns {
		which := uint8(i)
		for _, b := range examples[fn.Name] {
			f.Add(which, b)
		}
		for _, b := range []string{`{}`, ``, `null`, `[]`, `{"unknown":1}`, `{"a":`, `"x"`, `{"lines":[{"quantity":1}]}`} {
			f.Add(which, []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		fns, handlers := fuzzTargets(t)
		i := int(which) % len(fns)
		fn := fns[i]
		path := routeParam.ReplaceAllStringFunc(fn.Path, func(string) string { return uuid.NewString() })
		r := httptest.NewRequest(fn.Method, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		handlers[i].ServeHTTP(w, r)
		if w.Code == http.StatusNoContent {
			return
		}
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatalf("%s %q: %d with a body that is not a problem: %s", fn.Name, body, w.Code, w.Body)
		}
		if (w.Code != http.StatusBadRequest && w.Code != http.StatusUnprocessableEntity) || p.Status != w.Code ||
			!slices.Contains(contractCodes, p.Code) {
			t.Fatalf("%s %q: %d %q is not a stable refusal: %s", fn.Name, body, w.Code, p.Code, w.Body)
		}
	})
}

// fuzzTargets builds the handlers once per fuzzing process; validators are not cheap.
var fuzzTargets = func() func(testing.TB) ([]manifest.Function, []http.Handler) {
	var mu sync.Mutex
	var fns []manifest.Function
	var handlers []http.Handler
	return func(t testing.TB) ([]manifest.Function, []http.Handler) {
		mu.Lock()
		defer mu.Unlock()
		if fns == nil {
			fns, handlers = bodiedOperations(t)
		}
		return fns, handlers
	}
}()
