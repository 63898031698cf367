package tokenizer

import (
	"fmt"

	"github.com/golem-llm/golem/internal/gguf"
)

// GGUF metadata keys read by FromGGUF.
const (
	keyModel       = "tokenizer.ggml.model"
	keyPre         = "tokenizer.ggml.pre"
	keyTokens      = "tokenizer.ggml.tokens"
	keyScores      = "tokenizer.ggml.scores"
	keyTokenType   = "tokenizer.ggml.token_type"
	keyMerges      = "tokenizer.ggml.merges"
	keyAddBOS      = "tokenizer.ggml.add_bos_token"
	keyAddEOS      = "tokenizer.ggml.add_eos_token"
	keyAddPrefix   = "tokenizer.ggml.add_space_prefix"
	keyGeneralName = "general.name"
)

// FromGGUF builds the tokenizer described by a model file's tokenizer.ggml.*
// keys, with llama.cpp's defaults for absent keys. A special-token id
// outside the vocabulary is ignored (the default stays), as llama.cpp does
// with a warning; every other inconsistency is an error.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, ok := f.String(keyModel)
	if !ok {
		if _, present := f.Lookup(keyModel); present {
			return nil, fmt.Errorf("tokenizer: %s is not a string", keyModel)
		}
		return nil, fmt.Errorf("tokenizer: the file has no %s key", keyModel)
	}
	var kind Kind
	switch model {
	case "llama":
		kind = SPM
	case "gpt2":
		kind = BPE
	case "bert":
		kind = WPM
	case "t5", "rwkv", "plamo2", "no_vocab", "none":
		return nil, fmt.Errorf("tokenizer: tokenizer model %q is not supported by this package yet", model)
	default:
		return nil, fmt.Errorf("tokenizer: unknown tokenizer model %q", model)
	}

	tokens, err := stringArray(f, keyTokens, true)
	if err != nil {
		return nil, err
	}
	n := len(tokens)

	var scores []float32
	if _, present := f.Lookup(keyScores); present && kind == SPM {
		s, ok := f.Float32s(keyScores)
		if !ok {
			// llama.cpp also accepts integer scores.
			is, isInt := f.Int32s(keyScores)
			if !isInt {
				return nil, fmt.Errorf("tokenizer: %s is not a number array", keyScores)
			}
			s = make([]float32, len(is))
			for i, v := range is {
				s[i] = float32(v)
			}
		}
		if len(s) != n {
			return nil, fmt.Errorf("tokenizer: %s has %d entries for %d tokens", keyScores, len(s), n)
		}
		scores = s
	}
	var types []int32
	if _, present := f.Lookup(keyTokenType); present {
		ty, ok := f.Int32s(keyTokenType)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not an integer array", keyTokenType)
		}
		if len(ty) != n {
			return nil, fmt.Errorf("tokenizer: %s has %d entries for %d tokens", keyTokenType, len(ty), n)
		}
		types = ty
	}

	opts := &Options{}
	for _, s := range []struct {
		key string
		dst **int32
	}{
		{"tokenizer.ggml.bos_token_id", &opts.BOS},
		{"tokenizer.ggml.eos_token_id", &opts.EOS},
		{"tokenizer.ggml.eot_token_id", &opts.EOT},
		{"tokenizer.ggml.eom_token_id", &opts.EOM},
		{"tokenizer.ggml.unknown_token_id", &opts.UNK},
		{"tokenizer.ggml.seperator_token_id", &opts.SEP}, // sic, the key as llama.cpp spells it
		{"tokenizer.ggml.padding_token_id", &opts.PAD},
		{"tokenizer.ggml.fim_pre_token_id", &opts.FIMPre},
		{"tokenizer.ggml.fim_suf_token_id", &opts.FIMSuf},
		{"tokenizer.ggml.fim_mid_token_id", &opts.FIMMid},
		{"tokenizer.ggml.fim_pad_token_id", &opts.FIMPad},
		{"tokenizer.ggml.fim_rep_token_id", &opts.FIMRep},
		{"tokenizer.ggml.fim_sep_token_id", &opts.FIMSep},
		// Older names of the FIM keys.
		{"tokenizer.ggml.prefix_token_id", &opts.FIMPre},
		{"tokenizer.ggml.suffix_token_id", &opts.FIMSuf},
		{"tokenizer.ggml.middle_token_id", &opts.FIMMid},
	} {
		v, present := f.Lookup(s.key)
		if !present {
			continue
		}
		id, ok := f.Int(s.key)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is %T, not an integer", s.key, v)
		}
		if id < 0 || id >= int64(n) {
			continue // llama.cpp: "bad special token", keeps the default
		}
		*s.dst = Ptr(int32(id))
	}
	for _, s := range []struct {
		key string
		dst **bool
	}{
		{keyAddBOS, &opts.AddBOS}, {keyAddEOS, &opts.AddEOS}, {keyAddPrefix, &opts.AddSpacePrefix},
	} {
		v, present := f.Lookup(s.key)
		if !present {
			continue
		}
		b, ok := f.Bool(s.key)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is %T, not a bool", s.key, v)
		}
		*s.dst = Ptr(b)
	}
	opts.Name, _ = f.String(keyGeneralName)

	if kind == SPM {
		return NewSPM(tokens, scores, types, opts)
	}
	if kind == WPM {
		return NewWPM(tokens, types, opts)
	}
	merges, err := stringArray(f, keyMerges, true)
	if err != nil {
		return nil, err
	}
	pre := ""
	if _, present := f.Lookup(keyPre); present {
		p, ok := f.String(keyPre)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s is not a string", keyPre)
		}
		pre = p
	}
	return NewBPE(tokens, types, merges, pre, opts)
}

func stringArray(f *gguf.File, key string, required bool) ([]string, error) {
	s, ok := f.Strings(key)
	if ok {
		return s, nil
	}
	if _, present := f.Lookup(key); present {
		return nil, fmt.Errorf("tokenizer: %s is not a string array", key)
	}
	if required {
		return nil, fmt.Errorf("tokenizer: the file has no %s key", key)
	}
	return nil, nil
}

// Open reads the tokenizer of a GGUF file.
func Open(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
