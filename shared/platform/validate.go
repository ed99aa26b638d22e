package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/openapi"
)

// validator checks requests against the operation in the OpenAPI document, so the
// published contract is what the function enforces.
type validator struct {
	route *routers.Route
	opts  *openapi3filter.Options
	// upload: the body is an uploaded file, not JSON (see forUpload).
	upload bool
}

// newValidator finds the operation whose operationId is the function's entry point. The
// manifest check guarantees there is one; a missing one is a build defect.
func newValidator(operationID string) *validator {
	doc, err := openapi.Load()
	if err != nil {
		panic(err)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == operationID {
				return &validator{
					route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
					opts: &openapi3filter.Options{
						MultiError:          true,
						AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc, // the platform authenticated already
						SkipSettingDefaults: true,                                  // the domain applies defaults
					},
				}
			}
		}
	}
	panic(fmt.Sprintf("platform: operation %s is not in the OpenAPI document", operationID))
}

func validate(v *validator, next http.Handler) http.Handler {
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		body := Body(r)
		if !v.upload && len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
			var anyJSON any
			return httpx.DecodeJSON(body, &anyJSON)
		}
		params := map[string]string{}
		for _, ps := range []openapi3.Parameters{v.route.PathItem.Parameters, v.route.Operation.Parameters} {
			for _, p := range ps {
				if p.Value != nil && p.Value.In == openapi3.ParameterInPath {
					params[p.Value.Name] = pathParam(r, p.Value)
				}
			}
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: v.route, Options: v.opts}
		err := openapi3filter.ValidateRequest(r.Context(), in)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if err != nil {
			return contractError(err)
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// pathParam returns the path parameter for validation. A malformed id is left to the
// handler, which answers the entity's own 404 (a string that is not an id names
// nothing, exactly like an unknown id), so the contract check sees a well-formed
// stand-in instead of turning it into a 400.
func pathParam(r *http.Request, p *openapi3.Parameter) string {
	v := r.PathValue(p.Name)
	if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Format == "uuid" {
		if _, err := uuid.Parse(v); err != nil {
			return uuid.Nil.String()
		}
	}
	return v
}

var propertyName = regexp.MustCompile(`property "([^"]+)" is (unsupported|missing)`)

// contractError turns kin-openapi's errors into one problem naming every field:
// unknown fields are a 400 (the request is not of this operation's shape), anything
// else a 422.
func contractError(err error) error {
	fields := map[string]string{}
	unknown := false
	params := false
	var walk func(error, string)
	// The structure is walked by type, not errors.As: a RequestError unwraps to its
	// cause, and matching the cause first would lose the parameter's name.
	walk = func(err error, param string) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, inner := range e {
				walk(inner, param)
			}
		case *openapi3filter.RequestError:
			name := param
			if e.Parameter != nil {
				name, params = e.Parameter.Name, true
			}
			if e.Err != nil {
				walk(e.Err, name)
				return
			}
			add(fields, nonEmpty(name, "body"), e.Reason)
		case *openapi3.SchemaError:
			field := fieldPath(e.JSONPointer())
			msg := e.Reason
			if m := propertyName.FindStringSubmatch(msg); m != nil {
				// kin-openapi points "required" errors at the missing property itself and
				// "unsupported" ones at its parent object.
				if ptr := e.JSONPointer(); len(ptr) == 0 || ptr[len(ptr)-1] != m[1] {
					field = join(field, m[1])
				}
				if m[2] == "unsupported" {
					unknown = true
					msg = "is not a known field"
				} else {
					msg = "is required"
				}
			}
			if param != "" {
				field = join(param, field)
			}
			add(fields, nonEmpty(field, "body"), msg)
		default:
			if u := errors.Unwrap(err); u != nil && u != err {
				walk(u, param)
				return
			}
			add(fields, nonEmpty(param, "body"), err.Error())
		}
	}
	walk(err, "")
	if params {
		return apperr.InvalidParameters(fields)
	}
	if unknown {
		e := apperr.New(apperr.Invalid, "unknown_field", "the request has fields this operation does not accept")
		e.Fields = fields
		return e
	}
	return apperr.Validation(fields)
}

func add(fields map[string]string, field, msg string) {
	if _, ok := fields[field]; !ok {
		fields[field] = msg
	}
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	if child == "" {
		return parent
	}
	return parent + "." + child
}

// fieldPath renders a JSON pointer as the field notation of problem bodies:
// ["lines","0","quantity"] → lines[0].quantity.
func fieldPath(ptr []string) string {
	var b strings.Builder
	for _, p := range ptr {
		if _, err := strconv.Atoi(p); err == nil {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}
