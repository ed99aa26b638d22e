package httpx

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// ETag is the entity tag of a versioned resource: its version, quoted.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// SetETag sets the ETag header of a response about a versioned resource.
func SetETag(w http.ResponseWriter, version int) { w.Header().Set("ETag", ETag(version)) }

// IfMatch reads the version a conditional request was based on. Changes to issued
// money records must never be lost to a concurrent edit, so the header is required:
// without it the answer is 428; a tag that is not one of ours is 412, since it can
// never match. A weak tag (W/"3") is accepted: versions are exact either way.
func IfMatch(r *http.Request) (int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, apperr.New(apperr.PreconditionRequired, "precondition_required",
			`this operation needs an If-Match header with the resource's ETag, e.g. If-Match: "3"`)
	}
	tag := strings.TrimPrefix(h, "W/")
	v, err := strconv.Atoi(strings.Trim(tag, `"`))
	if err != nil || v < 1 || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		return 0, apperr.New(apperr.PreconditionFailed, "version_conflict", "If-Match does not name a version of this resource")
	}
	return v, nil
}

// VersionConflict is the 412 for a write based on a stale version.
func VersionConflict(current int) error { return apperr.VersionConflict(current) }

// OptionalIfMatch is IfMatch for deletions, where the header may be left out: deleting
// whatever version is current loses no edit, since nothing remains to be edited. nil
// means "any version".
func OptionalIfMatch(r *http.Request) (*int, error) {
	if strings.TrimSpace(r.Header.Get("If-Match")) == "" {
		return nil, nil
	}
	v, err := IfMatch(r)
	if err != nil {
		return nil, err
	}
	return &v, nil
}
