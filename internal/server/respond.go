package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/golem-llm/golem/internal/runner"
	"github.com/golem-llm/golem/internal/sched"
	"github.com/golem-llm/golem/internal/store"
)

// httpError is an error with the status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusClientClosed is the status Ollama (and nginx) log for a request
// its client abandoned.
const statusClientClosed = 499

// errShuttingDown ends streams that outlive the shutdown grace period.
var errShuttingDown = errors.New("server is shutting down")

// statusOf maps an error to the status Ollama answers it with.
func statusOf(err error) int {
	var he *httpError
	var oe *optionError
	var pe *store.ParseError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &oe), errors.As(err, &pe):
		return http.StatusBadRequest
	case errors.Is(err, runner.ErrQueueFull), errors.Is(err, errShuttingDown), errors.Is(err, runner.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, runner.ErrPromptTooLong):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, sched.ErrTooLarge):
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in Ollama's shape: {"error": "..."}.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"error": err.Error()})
}

// decodeJSON reads a request body into v with Ollama's messages for the
// common mistakes; it answers 400 itself and reports false on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeBody(r, v); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

// maxBody bounds a JSON request body (a long chat with images fits).
const maxBody = 256 << 20

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	err := dec.Decode(v)
	switch {
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "missing request body")
	case err != nil:
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errorf(http.StatusBadRequest, "invalid JSON in request body at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "request body"
			}
			return errorf(http.StatusBadRequest, "%s: expected %s, got JSON %s", field, te.Type, te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "invalid JSON in request body: unexpected end of input")
		}
		return errorf(http.StatusBadRequest, "invalid request body: %v", err)
	}
	return nil
}

// ndjson writes a stream of JSON lines, flushing each, and knows whether
// anything was written so a late error can still get a proper status.
type ndjson struct {
	w       http.ResponseWriter
	started bool
}

func (n *ndjson) send(v any) error {
	if !n.started {
		n.w.Header().Set("Content-Type", "application/x-ndjson")
		n.w.WriteHeader(http.StatusOK)
		n.started = true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := n.w.Write(b); err != nil {
		return err
	}
	if f, ok := n.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// fail reports err: as a status and JSON body before the stream started,
// as a final {"error": ...} line after.
func (n *ndjson) fail(err error) {
	if !n.started {
		writeError(n.w, err)
		return
	}
	n.send(map[string]string{"error": err.Error()})
}

// streamOf reports whether a request asked for streaming ("stream"
// defaults to true).
func streamOf(p *bool) bool { return p == nil || *p }

// modelName picks the current field or its legacy alias.
func modelName(model, legacy string) string {
	if strings.TrimSpace(model) != "" {
		return model
	}
	return legacy
}
