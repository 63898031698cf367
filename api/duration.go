package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a keep_alive value. On the wire it is a number of seconds or
// a Go duration string ("5m", "1h30m"); any negative value means "keep
// loaded forever", which Duration holds as -1.
type Duration struct {
	time.Duration
}

// Forever reports whether the duration means "never unload".
func (d Duration) Forever() bool { return d.Duration < 0 }

// MarshalJSON writes -1 for forever and a duration string otherwise.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d.Duration < 0 {
		return []byte("-1"), nil
	}
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON accepts a number of seconds or a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case float64:
		d.Duration = secondsDuration(t)
		return nil
	case string:
		dd, err := ParseDuration(t)
		if err != nil {
			return err
		}
		d.Duration = dd
		return nil
	}
	return fmt.Errorf("keep_alive must be a number of seconds or a duration string such as \"5m\", not %s", string(b))
}

func secondsDuration(s float64) time.Duration {
	switch {
	case s < 0:
		return -1
	case s*float64(time.Second) >= math.MaxInt64:
		return -1
	}
	return time.Duration(s * float64(time.Second))
}

// ParseDuration parses a keep-alive as Ollama accepts it in requests and in
// the environment: a Go duration ("10m", "-1s") or a plain number of
// seconds ("300", "-1"). Negative values mean forever and come back as -1.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return secondsDuration(f), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use seconds (300) or a duration such as \"5m\" or \"1h\"", s)
	}
	if d < 0 {
		return -1, nil
	}
	return d, nil
}
