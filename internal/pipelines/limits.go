package pipelines

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Limits bounds what one script call may do. The zero value of a field
// means its default (see DefaultLimits).
type Limits struct {
	Steps        uint64        // Starlark execution steps per call (about 50M a second)
	Timeout      time.Duration // wall clock per call of inlet, outlet, pipelines, on_valves_updated and loading
	PipeTimeout  time.Duration // wall clock per pipe call, which usually waits on a model
	Grace        time.Duration // how long a cancelled call may take to stop before it is abandoned
	MaxString    int           // bytes in one string or bytes value
	MaxElems     int           // elements in one list, tuple, dict or set
	MaxIntBits   int           // bits in one integer
	AllocBudget  int64         // bytes of strings and containers one call may build in all
	HTTPTimeout  time.Duration // per http.* request (models.* calls may take the call's whole time)
	HTTPMaxBody  int           // bytes of one http.* or models.* response
	StateBytes   int           // bytes of JSON a pipeline may keep in state
	MaxLogBytes  int           // bytes of one log line
	MaxScript    int           // bytes of one pipeline file
	MaxBody      int64         // bytes of one protocol request body
	MaxCalls     int           // script calls running at once, in all pipelines
	ModelsStream time.Duration // wall clock for draining a stream a pipe returned
}

// DefaultLimits returns the limits used where Options leaves them zero.
func DefaultLimits() Limits {
	return Limits{
		Steps:        20_000_000,
		Timeout:      2 * time.Minute,
		PipeTimeout:  10 * time.Minute,
		Grace:        2 * time.Second,
		MaxString:    16 << 20,
		MaxElems:     1 << 20,
		MaxIntBits:   1 << 16,
		AllocBudget:  256 << 20,
		HTTPTimeout:  60 * time.Second,
		HTTPMaxBody:  8 << 20,
		StateBytes:   16 << 20,
		MaxLogBytes:  4 << 10,
		MaxScript:    1 << 20,
		MaxBody:      32 << 20,
		MaxCalls:     64,
		ModelsStream: 10 * time.Minute,
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Steps == 0 {
		l.Steps = d.Steps
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.PipeTimeout == 0 {
		l.PipeTimeout = d.PipeTimeout
	}
	if l.Grace == 0 {
		l.Grace = d.Grace
	}
	if l.MaxString == 0 {
		l.MaxString = d.MaxString
	}
	if l.MaxElems == 0 {
		l.MaxElems = d.MaxElems
	}
	if l.MaxIntBits == 0 {
		l.MaxIntBits = d.MaxIntBits
	}
	if l.AllocBudget == 0 {
		l.AllocBudget = d.AllocBudget
	}
	if l.HTTPTimeout == 0 {
		l.HTTPTimeout = d.HTTPTimeout
	}
	if l.HTTPMaxBody == 0 {
		l.HTTPMaxBody = d.HTTPMaxBody
	}
	if l.StateBytes == 0 {
		l.StateBytes = d.StateBytes
	}
	if l.MaxLogBytes == 0 {
		l.MaxLogBytes = d.MaxLogBytes
	}
	if l.MaxScript == 0 {
		l.MaxScript = d.MaxScript
	}
	if l.MaxBody == 0 {
		l.MaxBody = d.MaxBody
	}
	if l.MaxCalls == 0 {
		l.MaxCalls = d.MaxCalls
	}
	if l.ModelsStream == 0 {
		l.ModelsStream = d.ModelsStream
	}
	return l
}

// hostList is the admin's allow-list for http.* and for models.* with a url
// other than Golem's. Entries are host names or IP addresses, optionally
// with :port, "*.example.com" for any subdomain, or "*" for every host.
type hostList []string

// ParseHostList splits a comma- or space-separated allow-list and checks
// each entry.
func ParseHostList(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\t' }) {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			return nil, fmt.Errorf("allow-list entry %q: give a host name (and port), not a URL", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// allows reports whether u's host is on the list.
func (l hostList) allows(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		if u.Scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	for _, e := range l {
		if e == "*" {
			return true
		}
		eh, ep := e, ""
		if h, p, err := net.SplitHostPort(e); err == nil {
			eh, ep = h, p
		}
		eh = strings.Trim(eh, "[]")
		if ep != "" && ep != port {
			continue
		}
		if strings.HasPrefix(eh, "*.") {
			if strings.HasSuffix(host, eh[1:]) {
				return true
			}
			continue
		}
		if eh == host {
			return true
		}
	}
	return false
}
