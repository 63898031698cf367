package store

import (
	"errors"
	"fmt"
	"strings"
)

// The defaults filled into a short model name, as Ollama does: "llama3.2"
// means registry.ollama.ai/library/llama3.2:latest.
const (
	DefaultHost      = "registry.ollama.ai"
	DefaultNamespace = "library"
	DefaultTag       = "latest"
)

// HFHost is the host under which Hugging Face models are stored;
// "huggingface.co/..." names are stored under it too, so both spellings
// find the same model.
const HFHost = "hf.co"

// Name is a fully qualified model name: [host/][namespace/]model[:tag].
// The parts keep the case the user typed; lookups compare them without
// regard to case, as Ollama does.
type Name struct {
	Host      string
	Namespace string
	Model     string
	Tag       string
}

// Limits on the parts of a name. Hugging Face repository names can be long,
// so the model part allows more than Ollama's 80 characters.
const (
	maxHostLen  = 350
	maxPartLen  = 128
	maxTagLen   = 128
	maxNameLen  = maxHostLen + 2*maxPartLen + maxTagLen + 3
	nameExample = "[host/][namespace/]model[:tag]"
)

// ParseName parses [host/][namespace/]model[:tag] and fills in the
// defaults. With three slash-separated parts the first is the host; with
// two, the namespace. "huggingface.co" is stored as "hf.co".
func ParseName(s string) (Name, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Name{}, errors.New("model name is empty")
	}
	if len(s) > maxNameLen {
		return Name{}, fmt.Errorf("model name %q is too long", orig)
	}
	if strings.Contains(s, "@") {
		return Name{}, fmt.Errorf("model name %q: references by digest (@sha256:...) are not supported", orig)
	}
	var n Name
	// The tag follows the last colon after the last slash, so that a host
	// with a port (127.0.0.1:5000/ns/model) is not mistaken for a tag.
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		n.Tag = s[i+1:]
		s = s[:i]
		if n.Tag == "" {
			return Name{}, fmt.Errorf("model name %q: empty tag after ':'", orig)
		}
	}
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 1:
		n.Model = parts[0]
	case 2:
		n.Namespace, n.Model = parts[0], parts[1]
	case 3:
		n.Host, n.Namespace, n.Model = parts[0], parts[1], parts[2]
	default:
		return Name{}, fmt.Errorf("model name %q has too many parts: want %s", orig, nameExample)
	}
	if n.Host == "" && len(parts) == 3 {
		return Name{}, fmt.Errorf("model name %q: empty host", orig)
	}
	if strings.EqualFold(n.Host, "huggingface.co") {
		n.Host = HFHost
	}
	if n.Host == "" {
		n.Host = DefaultHost
	}
	if n.Namespace == "" {
		if len(parts) >= 2 {
			return Name{}, fmt.Errorf("model name %q: empty namespace", orig)
		}
		n.Namespace = DefaultNamespace
	}
	if n.Tag == "" {
		n.Tag = DefaultTag
	}
	if err := checkPart("host", n.Host, maxHostLen, true); err != nil {
		return Name{}, fmt.Errorf("model name %q: %v", orig, err)
	}
	if err := checkPart("namespace", n.Namespace, maxPartLen, false); err != nil {
		return Name{}, fmt.Errorf("model name %q: %v", orig, err)
	}
	if err := checkPart("model", n.Model, maxPartLen, false); err != nil {
		return Name{}, fmt.Errorf("model name %q: %v", orig, err)
	}
	if err := checkPart("tag", n.Tag, maxTagLen, false); err != nil {
		return Name{}, fmt.Errorf("model name %q: %v", orig, err)
	}
	return n, nil
}

// checkPart validates one part of a name: letters, digits, '_', '-' and
// '.', starting with a letter, digit or '_' (a host may also hold ':' for
// its port). The rule keeps every part a safe single path component: no
// "..", no separators.
func checkPart(kind, s string, maxLen int, host bool) error {
	if s == "" {
		return fmt.Errorf("empty %s", kind)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%s %q is longer than %d characters", kind, s, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '-' || c == '.') && i > 0:
		case c == ':' && host && i > 0:
		default:
			return fmt.Errorf("%s %q: character %q is not allowed (use letters, digits, '_', '-' and '.')", kind, s, c)
		}
	}
	return nil
}

// String returns the full name, host/namespace/model:tag.
func (n Name) String() string {
	return n.Host + "/" + n.Namespace + "/" + n.Model + ":" + n.Tag
}

// DisplayShortest returns the name as Ollama shows it: without the default
// host, and without the default namespace when the host is the default.
func (n Name) DisplayShortest() string {
	switch {
	case strings.EqualFold(n.Host, DefaultHost) && strings.EqualFold(n.Namespace, DefaultNamespace):
		return n.Model + ":" + n.Tag
	case strings.EqualFold(n.Host, DefaultHost):
		return n.Namespace + "/" + n.Model + ":" + n.Tag
	}
	return n.String()
}

// Repository returns namespace/model, the repository path in the
// registry protocol (/v2/<repository>/...).
func (n Name) Repository() string { return n.Namespace + "/" + n.Model }

// EqualFold reports whether two names are the same model, ignoring case.
func (n Name) EqualFold(o Name) bool {
	return strings.EqualFold(n.Host, o.Host) && strings.EqualFold(n.Namespace, o.Namespace) &&
		strings.EqualFold(n.Model, o.Model) && strings.EqualFold(n.Tag, o.Tag)
}

// IsHF reports whether the name is a Hugging Face model (hf.co/...).
func (n Name) IsHF() bool { return strings.EqualFold(n.Host, HFHost) }

func (n Name) parts() []string { return []string{n.Host, n.Namespace, n.Model, n.Tag} }
