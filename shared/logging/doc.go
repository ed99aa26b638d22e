// Package logging holds the structured logger shared by every Cloud Run
// function: a log/slog handler that writes Google Cloud Logging's structured
// JSON format, trace-context parsing for W3C traceparent and
// X-Cloud-Trace-Context headers, request-scoped attributes carried in a
// context.Context, and an HTTP middleware that logs one line per request.
//
// The package sits at the bottom of the dependency graph so that any function
// or shared package can use it. It must therefore depend only on the standard
// library and must not import any domain package; doing so would create import
// cycles and drag domain code into every binary.
package logging
