package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// ReadBody reads the whole body, refusing more than limit bytes with 413 and anything
// but JSON with 415. The platform reads the body once, up front, so validation,
// idempotency fingerprints and decoding share it.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, apperr.New(apperr.UnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		}
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, apperr.Wrap(err, apperr.Invalid, "unreadable_body", "the request body could not be read")
	}
	if int64(len(b)) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}

func tooLarge(limit int64) error {
	return apperr.New(apperr.TooLarge, "body_too_large", fmt.Sprintf("the request body exceeds %d bytes", limit))
}

// DecodeJSON decodes exactly one JSON object from b into v, rejecting unknown fields,
// trailing data and wrong types with a 400 that names the field.
func DecodeJSON(b []byte, v any) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return apperr.New(apperr.Invalid, "empty_body", "the request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "malformed_json", "the body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.Wrap(err, apperr.Invalid, "malformed_json", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Wrap(err, apperr.Invalid, "malformed_json", "malformed JSON: unexpected end of body")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return apperr.Wrap(err, apperr.Invalid, "malformed_json", "the body must be a JSON object")
		}
		e := apperr.Wrap(err, apperr.Invalid, "invalid_field_type", fmt.Sprintf("field %s must be %s", field, jsonType(typeErr.Type.Kind().String())))
		e.Fields = map[string]string{field: "must be " + jsonType(typeErr.Type.Kind().String())}
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := apperr.Wrap(err, apperr.Invalid, "unknown_field", fmt.Sprintf("unknown field %q", field))
		e.Fields = map[string]string{field: "is not a known field"}
		return e
	default:
		// Custom UnmarshalJSON methods (dates, decimals) report their own messages.
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return ae
		}
		return apperr.Wrap(err, apperr.Invalid, "malformed_json", "the body is not valid JSON for this operation")
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}
