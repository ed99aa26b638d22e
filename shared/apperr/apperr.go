// Package apperr is the one error taxonomy of Ledgerline: every refusal and failure is a
// Kind plus a stable machine code, and Status maps a Kind to its HTTP status in one
// table. It knows nothing of HTTP bodies or databases; httpx renders, db translates.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	Internal             Kind = iota // a defect or an unexpected failure; never shows its text
	Invalid                          // the request is malformed (syntax, unknown field, wrong type)
	Unprocessable                    // well-formed but fails validation or a business rule
	Unauthenticated                  // no or bad credentials
	Forbidden                        // authenticated but not permitted
	NotFound                         // absent, or belongs to another tenant
	MethodNotAllowed                 // the route exists for another method
	Conflict                         // clashes with the current state (duplicate, in flight)
	PreconditionFailed               // a stale If-Match version
	PreconditionRequired             // If-Match is required and missing
	TooLarge                         // body over the limit
	UnsupportedMediaType             // not JSON
	RateLimited                      // slow down
	Unavailable                      // a transient dependency failure; safe to retry
	PaymentRequired                  // a spending limit is reached (the tenant's agent budget)
	BadGateway                       // an upstream service answered, but not usably (an agent's invalid output)
)

// statuses is the one table from Kind to HTTP status.
var statuses = map[Kind]int{
	Internal:             http.StatusInternalServerError,
	Invalid:              http.StatusBadRequest,
	Unprocessable:        http.StatusUnprocessableEntity,
	Unauthenticated:      http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	Conflict:             http.StatusConflict,
	PreconditionFailed:   http.StatusPreconditionFailed,
	PreconditionRequired: http.StatusPreconditionRequired,
	TooLarge:             http.StatusRequestEntityTooLarge,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	RateLimited:          http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	PaymentRequired:      http.StatusPaymentRequired,
	BadGateway:           http.StatusBadGateway,
}

// Status is the HTTP status for k.
func Status(k Kind) int {
	if s, ok := statuses[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error a caller can act on. Code is stable and documented; Message is
// for people; Fields names the offending request fields (path → message).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  map[string]string
	Err     error // the cause, for logs only
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a stable code and a message for people.
func New(k Kind, code, message string) *Error {
	return &Error{Kind: k, Code: code, Message: message}
}

// Wrap returns an error of kind k that keeps cause for the logs.
func Wrap(cause error, k Kind, code, message string) *Error {
	return &Error{Kind: k, Code: code, Message: message, Err: cause}
}

// Validation is the 422 for field-level validation failures.
func Validation(fields map[string]string) *Error {
	return &Error{Kind: Unprocessable, Code: "validation_failed", Message: "the request has invalid fields", Fields: fields}
}

// InvalidParameters is the 400 for bad query or header parameters.
func InvalidParameters(fields map[string]string) *Error {
	return &Error{Kind: Invalid, Code: "invalid_parameter", Message: "the request has invalid parameters", Fields: fields}
}

// NotFoundf is the 404 for a missing entity; another tenant's id looks exactly the same.
func NotFoundf(entity string) *Error {
	return New(NotFound, entity+"_not_found", entity+" not found")
}

// VersionConflict is the 412 for a write based on a stale version. Domains detect it
// (in the UPDATE's version condition) and HTTP reads the If-Match that caused it, so it
// lives here, where both can reach it.
func VersionConflict(current int) *Error {
	return New(PreconditionFailed, "version_conflict",
		"the resource has changed since it was read (current version "+strconv.Itoa(current)+"); fetch it and retry")
}

// From returns err as an *Error; anything unclassified is Internal and keeps its cause.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Code: "internal", Message: "internal error", Err: err}
}

// KindOf is From(err).Kind, and Internal for nil-safe callers.
func KindOf(err error) Kind { return From(err).Kind }

// Fields collects field errors while validating a request.
type Fields map[string]string

// Add records msg for field unless the field already has a message, so the first
// (most basic) problem with a field is the one reported.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// ParamErr is nil when nothing was recorded, else the 400 for invalid parameters.
func (f Fields) ParamErr() error {
	if len(f) == 0 {
		return nil
	}
	return InvalidParameters(f)
}

// Err is nil when nothing was recorded, else the 422 validation error.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Validation(f)
}
