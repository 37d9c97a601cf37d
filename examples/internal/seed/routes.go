package seed

import (
	"fmt"
	"net/http"

	"github.com/ipgate/ipgate/rangeset"
)

// Serve serves r through mux, answering a request that no route takes
// (404, or 405 with its Allow header for a path served with other
// methods) with fail, in the product's own error form rather than
// net/http's plain text.
func Serve(mux *http.ServeMux, w http.ResponseWriter, r *http.Request, fail func(w http.ResponseWriter, code int, msg string)) {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r) // which sets the request's path values; Handler does not
		return
	}
	// The mux's own answer says which of the two it is.
	probe := statusOnly{header: http.Header{}}
	h.ServeHTTP(&probe, r)
	switch probe.code {
	case http.StatusMethodNotAllowed:
		w.Header()["Allow"] = probe.header["Allow"]
		fail(w, probe.code, fmt.Sprintf("%s is not served for %s (allowed: %s)", rangeset.Quote(r.Method), rangeset.Quote(r.URL.Path), probe.header.Get("Allow")))
	default:
		fail(w, http.StatusNotFound, fmt.Sprintf("no such route: %s %s", rangeset.Quote(r.Method), rangeset.Quote(r.URL.Path)))
	}
}

// statusOnly is a ResponseWriter that keeps the status and headers of an
// answer and drops its body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }

func (s *statusOnly) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}

func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
