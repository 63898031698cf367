package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Loaders for vocabularies kept outside GGUF files: the GPT-2 file pair
// (encoder.json + vocab.bpe) and tiktoken's rank files. The test data uses
// them as stand-ins for GGUF vocabularies too large to ship.

// LoadGPT2Files builds a byte-level BPE tokenizer from an encoder.json
// (token text -> id, ids 0..n-1) and a vocab.bpe merge list (one "left
// right" per line, an optional "#version" first line). specials are
// appended after the regular tokens, in order, as control tokens.
func LoadGPT2Files(encoderJSON, vocabBPE, pre string, specials []string, opts *Options) (*Tokenizer, error) {
	data, err := os.ReadFile(encoderJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var enc map[string]int64
	if err := json.Unmarshal(data, &enc); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", encoderJSON, err)
	}
	tokens := make([]string, len(enc))
	filled := make([]bool, len(enc))
	for s, id := range enc {
		if id < 0 || id >= int64(len(enc)) {
			return nil, fmt.Errorf("tokenizer: %s: id %d of %q is outside 0..%d", encoderJSON, id, s, len(enc)-1)
		}
		if filled[id] {
			return nil, fmt.Errorf("tokenizer: %s: id %d is used twice", encoderJSON, id)
		}
		tokens[id], filled[id] = s, true
	}

	f, err := os.Open(vocabBPE)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	var merges []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for first := true; sc.Scan(); first = false {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || (first && strings.HasPrefix(line, "#version")) {
			continue
		}
		merges = append(merges, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabBPE, err)
	}

	types := make([]int32, len(tokens), len(tokens)+len(specials))
	for i := range types {
		types[i] = TypeNormal
	}
	for _, s := range specials {
		tokens = append(tokens, s)
		types = append(types, TypeControl)
	}
	return NewBPE(tokens, types, merges, pre, opts)
}

// LoadTiktoken builds a byte-level BPE tokenizer from a tiktoken rank file
// (one "base64(token bytes) rank" per line, ranks 0..n-1, rank = id).
// tiktoken merges the adjacent pair whose concatenation has the lowest
// rank; the merge list llama.cpp needs is derived from the ranks the way
// converters do: each multi-byte token's merge is the last step of
// tiktoken's own encoding of its bytes with only lower ranks allowed, and
// merges are ordered by the rank of their result. specials are appended
// after the regular tokens as control tokens.
func LoadTiktoken(path, pre string, specials []string, opts *Options) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var raw [][]byte
	rank := map[string]int{}
	for ln, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("tokenizer: %s:%d: want \"base64 rank\"", path, ln+1)
		}
		tok, err := base64.StdEncoding.DecodeString(string(line[:sp]))
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s:%d: %w", path, ln+1, err)
		}
		r, err := strconv.Atoi(string(line[sp+1:]))
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s:%d: %w", path, ln+1, err)
		}
		if r != len(raw) {
			return nil, fmt.Errorf("tokenizer: %s:%d: rank %d, want %d (ranks must be 0, 1, 2, ...)", path, ln+1, r, len(raw))
		}
		if _, dup := rank[string(tok)]; dup {
			return nil, fmt.Errorf("tokenizer: %s:%d: token bytes repeat an earlier rank", path, ln+1)
		}
		rank[string(tok)] = r
		raw = append(raw, tok)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: no tokens", path)
	}

	tokens := make([]string, len(raw), len(raw)+len(specials))
	types := make([]int32, len(raw), len(raw)+len(specials))
	var merges []string
	var parts []int
	for r, tok := range raw {
		tokens[r] = ByteLevelEncode(tok)
		types[r] = TypeNormal
		if len(tok) < 2 {
			continue
		}
		parts = tiktokenSplit(tok, rank, r, parts)
		if len(parts) != 3 { // boundaries of exactly two pieces
			continue // not reachable by merging: the token never forms
		}
		merges = append(merges, ByteLevelEncode(tok[:parts[1]])+" "+ByteLevelEncode(tok[parts[1]:]))
	}
	for _, s := range specials {
		tokens = append(tokens, s)
		types = append(types, TypeControl)
	}
	return NewBPE(tokens, types, merges, pre, opts)
}

// tiktokenSplit runs tiktoken's byte-pair merge on b using only tokens of
// rank below maxRank and returns the piece boundaries (0, ..., len(b)).
func tiktokenSplit(b []byte, rank map[string]int, maxRank int, bounds []int) []int {
	bounds = bounds[:0]
	for i := 0; i <= len(b); i++ {
		bounds = append(bounds, i)
	}
	for len(bounds) > 2 {
		best, bestRank := -1, maxRank
		for i := 0; i+2 < len(bounds); i++ {
			if r, ok := rank[string(b[bounds[i]:bounds[i+2]])]; ok && r < bestRank {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		bounds = append(bounds[:best+1], bounds[best+2:]...)
	}
	return bounds
}
