// Package openapi holds the HTTP contract of the Ledgerline API as an
// OpenAPI 3.0.3 document, embedded in the binary so that every function
// serves, validates against and documents the very same version of it.
//
// The document is the source of truth for operation ids, paths, parameters
// and schemas; handlers and tests read it from here rather than restating it.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var spec []byte

// Operation names one operation of the contract.
type Operation struct {
	// ID is the operationId, which is also the entry point name of the
	// function that serves the operation.
	ID string
	// Method is the upper-case HTTP method, as net/http spells it.
	Method string
	// Path is the path template in OpenAPI form, e.g. /v1/invoices/{id}.
	Path string
}

// Spec returns the embedded YAML document. The slice is shared: callers must
// not modify it.
func Spec() []byte { return spec }

// The document is embedded, so a parse or validation failure is a defect of
// the build, never a transient condition: computing it once and returning the
// same outcome forever is correct, and the package tests make sure it is nil.
var load = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse embedded document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: validate embedded document: %w", err)
	}
	return doc, nil
})

// Load returns the parsed and validated document. It is parsed on first use
// and shared afterwards, so callers must treat it as read-only.
func Load() (*openapi3.T, error) { return load() }

// mustLoad is for accessors without an error result: they can only fail if
// the embedded document is broken, which the package tests rule out.
func mustLoad() *openapi3.T {
	doc, err := load()
	if err != nil {
		panic(err)
	}
	return doc
}

var jsonDoc = sync.OnceValue(func() []byte {
	b, err := json.Marshal(mustLoad())
	if err != nil {
		panic(fmt.Errorf("openapi: encode document as JSON: %w", err))
	}
	return b
})

// JSON returns the document encoded as JSON, for clients such as Swagger UI
// that do not read YAML. It is encoded on first use and shared afterwards:
// callers must not modify it. Object keys come out sorted.
//
// JSON panics if the embedded document does not load, a build defect that
// the package tests catch.
func JSON() []byte { return jsonDoc() }

var operations = sync.OnceValue(func() map[string]Operation {
	doc := mustLoad()
	ops := make(map[string]Operation)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[op.OperationID] = Operation{ID: op.OperationID, Method: method, Path: path}
		}
	}
	return ops
})

// Operations returns every operation of the contract keyed by operationId.
// The map is a fresh copy, so callers may modify it.
//
// Operations panics if the embedded document does not load, a build defect
// that the package tests catch.
func Operations() map[string]Operation { return maps.Clone(operations()) }
