package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/golem-llm/golem/internal/testutil"
)

// TestWordPieceReference checks the bert vocabularies against the token ids
// llama.cpp produced for the embedding references (with [CLS] and [SEP]),
// and decoding back to the (normalised) text.
func TestWordPieceReference(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.Shared(t, "reference", "embeddings"), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedding references: %v", err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ref struct {
			Model struct {
				File string `json:"file"`
			} `json:"model"`
			Inputs []struct {
				Text     string  `json:"text"`
				TokenIDs []int32 `json:"token_ids"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		tok, err := Open(testutil.Shared(t, filepath.FromSlash(ref.Model.File)))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Kind() != WPM {
			t.Fatalf("%s: kind %v", ref.Model.File, tok.Kind())
		}
		for _, in := range ref.Inputs {
			got := tok.Encode(in.Text, true, true)
			if !slices.Equal(got, in.TokenIDs) {
				t.Errorf("%s %q:\n got %v\nwant %v", filepath.Base(path), in.Text, got, in.TokenIDs)
			}
		}
	}
}

func TestWordPieceWords(t *testing.T) {
	for in, want := range map[string][]string{
		"Unbelievable tokenization, naïve café!": {"unbelievable", "tokenization", ",", "naive", "cafe", "!"},
		"In 1492, 3+4=7; ok?":                    {"in", "1492", ",", "3", "+", "4", "=", "7", ";", "ok", "?"},
		"  tabs\tand\nnewlines ":                 {"tabs", "and", "newlines"},
		"中文abc":                                  {"中", "文", "abc"},
	} {
		if got := wpmWords(in); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
