package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/internal/auth"
)

// apiError is a refusal with its HTTP status; it becomes {"detail": …}.
type apiError struct {
	status int
	detail string
}

func (e *apiError) Error() string { return e.detail }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, detail: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// writeError turns an error into a JSON error response. Errors that carry no status are internal: the
// client gets a generic 500 and the log gets the cause.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var au *auth.Error
	var fb *Blocked
	switch {
	case errors.As(err, &ae):
		writeDetail(w, ae.status, ae.detail)
	case errors.As(err, &fb):
		writeDetail(w, http.StatusBadRequest, fb.Message)
	case errors.As(err, &au):
		if au.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(au.RetryAfter.Seconds()+0.999)))
		}
		writeDetail(w, au.Status, au.Detail)
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		h.log.Error("webui: request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Any("err", err))
		writeDetail(w, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

// Body limits: the UI's JSON requests, and the OpenAI-compatible completion endpoint, whose
// conversations can be longer.
const (
	maxBody           = 1 << 20
	maxCompletionBody = 8 << 20
)

// decodeJSON reads a JSON request body into v. An empty body leaves v as it is when optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64, optional bool) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		if optional {
			return nil
		}
		return errorf(400, "request body is empty: want a JSON object")
	}
	// Requiring the JSON media type also keeps plain HTML forms on other sites from posting here.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return errorf(415, "Content-Type must be application/json, not %q", r.Header.Get("Content-Type"))
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return errorf(413, "request body is larger than %d bytes", limit)
		case errors.Is(err, io.EOF):
			if optional {
				return nil
			}
			return errorf(400, "request body is empty: want a JSON object")
		case errors.As(err, &se):
			return errorf(400, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			if te.Field != "" {
				return errorf(400, "field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
			}
			return errorf(400, "want a JSON %s, got JSON %s", te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(400, "malformed JSON: unexpected end of body")
		default:
			return errorf(400, "malformed JSON: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(413, "request body is larger than %d bytes", limit)
		}
		return errorf(400, "malformed JSON: more than one value in the body")
	}
	return nil
}

// flush sends what has been written so far to the client, through any wrapping ResponseWriter that
// implements Unwrap.
func flush(w http.ResponseWriter) {
	http.NewResponseController(w).Flush()
}

// clip shortens s to at most n runes, adding "…" when it cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
