package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/golem-llm/golem/api"
	"github.com/golem-llm/golem/internal/runner"
)

// embedInputs reads an "input": a string or a list of strings.
func embedInputs(v any) ([]string, error) {
	switch in := v.(type) {
	case nil:
		return nil, nil
	case string:
		if in == "" {
			return nil, nil
		}
		return []string{in}, nil
	case []any:
		out := make([]string, 0, len(in))
		for _, e := range in {
			s, ok := e.(string)
			if !ok {
				return nil, errorf(http.StatusBadRequest, "invalid input type: input must be a string or an array of strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errorf(http.StatusBadRequest, "invalid input type: input must be a string or an array of strings")
}

// embed computes embeddings of inputs with model name. Models without
// pooling (generative models) answer 400.
func (s *Server) embed(ctx context.Context, name string, inputs []string, opts map[string]any, keepAlive *api.Duration, truncate bool, dims int) (*runner.EmbedResult, *loaded, error) {
	if dims < 0 {
		return nil, nil, errorf(http.StatusBadRequest, "dimensions must be positive")
	}
	mi, err := s.lookup(ctx, name, opts)
	if err != nil {
		return nil, nil, err
	}
	l, err := s.acquire(ctx, mi, keepAlive, "")
	if err != nil {
		return nil, nil, err
	}
	defer l.release()
	if len(inputs) == 0 {
		return &runner.EmbedResult{Embeddings: [][]float32{}}, l, nil
	}
	res, err := l.r.Embed(ctx, inputs, truncate, dims)
	switch {
	case errors.Is(err, runner.ErrNoEmbed):
		return nil, nil, errorf(http.StatusBadRequest, "%q does not support embeddings", name)
	case errors.Is(err, runner.ErrPromptTooLong):
		return nil, nil, errorf(http.StatusBadRequest, "the input length exceeds the context length: %v", err)
	case err != nil:
		return nil, nil, err
	}
	return res, l, nil
}

func (s *Server) handleEmbed(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.EmbedRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	inputs, err := embedInputs(req.Input)
	if err != nil {
		writeError(w, err)
		return
	}
	res, l, err := s.embed(r.Context(), req.Model, inputs, req.Options, req.KeepAlive, req.Truncate == nil || *req.Truncate, req.Dimensions)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, api.EmbedResponse{Model: req.Model, Embeddings: res.Embeddings, TotalDuration: time.Since(start),
		LoadDuration: l.loadDuration, PromptEvalCount: res.PromptTokens})
}

// handleEmbeddings is the legacy /api/embeddings: one prompt, float64s.
func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req api.EmbeddingRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var inputs []string
	if req.Prompt != "" {
		inputs = []string{req.Prompt}
	}
	res, _, err := s.embed(r.Context(), req.Model, inputs, req.Options, req.KeepAlive, true, 0)
	if err != nil {
		writeError(w, err)
		return
	}
	out := api.EmbeddingResponse{Embedding: []float64{}}
	if len(res.Embeddings) > 0 {
		for _, v := range res.Embeddings[0] {
			out.Embedding = append(out.Embedding, float64(v))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleOpenAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeOAIErr(w, err)
		return
	}
	var in any
	if err := json.Unmarshal(req.Input, &in); err != nil || in == nil {
		writeOAIErr(w, errorf(http.StatusBadRequest, "input is required: a string or an array of strings"))
		return
	}
	inputs, err := embedInputs(in)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	if len(inputs) == 0 {
		writeOAIErr(w, errorf(http.StatusBadRequest, "input must not be empty"))
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64" {
		writeOAIErr(w, errorf(http.StatusBadRequest, "encoding_format %q: use float or base64", req.EncodingFormat))
		return
	}
	res, _, err := s.embed(r.Context(), req.Model, inputs, nil, nil, true, req.Dimensions)
	if err != nil {
		writeOAIErr(w, err)
		return
	}
	type item struct {
		Object    string `json:"object"`
		Embedding any    `json:"embedding"`
		Index     int    `json:"index"`
	}
	data := make([]item, len(res.Embeddings))
	for i, v := range res.Embeddings {
		data[i] = item{Object: "embedding", Embedding: v, Index: i}
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(v))
			for k, x := range v {
				binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(x))
			}
			data[i].Embedding = base64.StdEncoding.EncodeToString(b)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": res.PromptTokens, "total_tokens": res.PromptTokens}})
}
