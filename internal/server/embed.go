package server

import (
	"net/http"

	"github.com/golem-llm/golem/api"
)

// errNoEmbeddings answers embedding requests until the engine computes
// embeddings (pooling models such as BERT are a later issue).
func errNoEmbeddings(model string) error {
	return errorf(http.StatusNotImplemented, "%q does not support embeddings: Golem cannot compute embeddings yet", model)
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) {
	var req api.EmbedRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch in := req.Input.(type) {
	case string, nil:
	case []any:
		for _, e := range in {
			if _, ok := e.(string); !ok {
				writeError(w, errorf(http.StatusBadRequest, "invalid input type: input must be a string or an array of strings"))
				return
			}
		}
	default:
		writeError(w, errorf(http.StatusBadRequest, "invalid input type: input must be a string or an array of strings"))
		return
	}
	if _, err := s.lookup(req.Model, req.Options); err != nil {
		writeError(w, err)
		return
	}
	writeError(w, errNoEmbeddings(req.Model))
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req api.EmbeddingRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if _, err := s.lookup(req.Model, req.Options); err != nil {
		writeError(w, err)
		return
	}
	writeError(w, errNoEmbeddings(req.Model))
}
