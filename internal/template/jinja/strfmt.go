package jinja

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// percentFormat is Python's "format" % args for the common conversions
// (s r d i f F e E g G x X o c %), with flags, width, precision and
// %(name)s mapping keys.
func percentFormat(format string, args Value, self Value) (string, error) {
	var list []Value
	var mapping *Dict
	// Python treats any argument with __getitem__ other than a tuple or a
	// string as a mapping: no "not all arguments converted" error for it.
	mappingLike := false
	switch x := args.(type) {
	case Tuple:
		list = x
	case *Dict:
		mapping = x
		list = []Value{x}
		mappingLike = true
	case []Value, *Undefined, *Namespace:
		list = []Value{args}
		mappingLike = true
	default:
		list = []Value{args}
	}
	next := 0
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return "", runtimeErr("incomplete format")
		}
		var arg Value
		haveArg := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 {
				return "", runtimeErr("incomplete format key")
			}
			key := format[i+1 : i+end]
			if mapping == nil {
				return "", runtimeErr("format requires a mapping")
			}
			v, ok := mapping.Get(key)
			if !ok {
				return "", runtimeErr("KeyError: %s", pyQuote(key))
			}
			arg, haveArg = v, true
			i += end + 1
		}
		flags := ""
		for i < len(format) && strings.IndexByte("-+ #0", format[i]) >= 0 {
			flags += string(format[i])
			i++
		}
		width := -1
		start := i
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			i++
		}
		if i > start {
			width, _ = strconv.Atoi(format[start:i])
			if err := checkAlloc(int64(width)); err != nil || i-start > 9 {
				return "", allocErr()
			}
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			start = i
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
			prec, _ = strconv.Atoi(format[start:i])
			if i-start > 6 {
				return "", allocErr()
			}
		}
		if i >= len(format) {
			return "", runtimeErr("incomplete format")
		}
		conv := format[i]
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveArg {
			if next >= len(list) {
				return "", runtimeErr("not enough arguments for format string")
			}
			arg = list[next]
			next++
		}
		s, err := formatOne(conv, arg, flags, prec)
		if err != nil {
			return "", err
		}
		b.WriteString(applyWidth(s, width, flags))
	}
	if !mappingLike && next < len(list) {
		return "", runtimeErr("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func applyWidth(s string, width int, flags string) string {
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s
	}
	if strings.Contains(flags, "-") {
		return s + strings.Repeat(" ", width-n)
	}
	if strings.Contains(flags, "0") && s != "" && (s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')) {
		sign := ""
		if s[0] == '-' || s[0] == '+' {
			sign, s = s[:1], s[1:]
		}
		return sign + strings.Repeat("0", width-n) + s
	}
	return strings.Repeat(" ", width-n) + s
}

func formatOne(conv byte, arg Value, flags string, prec int) (string, error) {
	if u, ok := arg.(*Undefined); ok && conv != 's' {
		return "", undefinedErr(u)
	}
	signed := func(s string, neg bool) string {
		switch {
		case neg:
			return "-" + s
		case strings.Contains(flags, "+"):
			return "+" + s
		case strings.Contains(flags, " "):
			return " " + s
		}
		return s
	}
	switch conv {
	case 's':
		s := toStr(arg)
		if prec >= 0 && utf8.RuneCountInString(s) > prec {
			s = string([]rune(s)[:prec])
		}
		return s, nil
	case 'r', 'a':
		return repr(arg), nil
	case 'd', 'i', 'u', 'x', 'X', 'o':
		i, f, isF, ok := asNumber(arg)
		if !ok {
			return "", runtimeErr("%%%c format: a real number is required, not %s", conv, typeName(arg))
		}
		if isF {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return "", runtimeErr("cannot convert float %s to integer", formatFloat(f))
			}
			i = int64(f)
		}
		neg := i < 0
		if neg {
			i = -i
		}
		var s string
		switch conv {
		case 'x':
			s = strconv.FormatInt(i, 16)
			if strings.Contains(flags, "#") {
				s = "0x" + s
			}
		case 'X':
			s = strings.ToUpper(strconv.FormatInt(i, 16))
			if strings.Contains(flags, "#") {
				s = "0X" + s
			}
		case 'o':
			s = strconv.FormatInt(i, 8)
			if strings.Contains(flags, "#") {
				s = "0o" + s
			}
		default:
			s = strconv.FormatInt(i, 10)
		}
		return signed(s, neg), nil
	case 'f', 'F', 'e', 'E', 'g', 'G':
		_, f, _, ok := asNumber(arg)
		if !ok {
			return "", runtimeErr("must be real number, not %s", typeName(arg))
		}
		if prec < 0 {
			prec = 6
		}
		neg := f < 0 || (f == 0 && math.Signbit(f))
		s := pyFloatFormat(math.Abs(f), conv, prec, strings.Contains(flags, "#"))
		return signed(s, neg), nil
	case 'c':
		switch x := arg.(type) {
		case int64:
			return string(rune(x)), nil
		case string:
			if utf8.RuneCountInString(x) == 1 {
				return x, nil
			}
		}
		return "", runtimeErr("%%c requires int or char")
	}
	return "", runtimeErr("unsupported format character '%c'", conv)
}

// pyFloatFormat formats a non-negative float like Python's %f / %e / %g.
func pyFloatFormat(f float64, conv byte, prec int, alt bool) string {
	if math.IsInf(f, 0) {
		if conv >= 'a' {
			return "inf"
		}
		return "INF"
	}
	if math.IsNaN(f) {
		if conv >= 'a' {
			return "nan"
		}
		return "NAN"
	}
	switch conv {
	case 'f', 'F':
		return strconv.FormatFloat(f, 'f', prec, 64)
	case 'e', 'E':
		s := strconv.FormatFloat(f, 'e', prec, 64)
		s = fixExponent(s)
		if conv == 'E' {
			s = strings.ToUpper(s)
		}
		return s
	}
	// g: precision 0 means 1; exponent form when exp < -4 or exp >= prec.
	if prec == 0 {
		prec = 1
	}
	if f == 0 {
		return "0"
	}
	exp := int(math.Floor(math.Log10(f)))
	// Rounding can bump the exponent; recompute from the e form.
	es := strconv.FormatFloat(f, 'e', prec-1, 64)
	if k := strings.IndexByte(es, 'e'); k >= 0 {
		exp, _ = strconv.Atoi(es[k+1:])
	}
	var s string
	if exp < -4 || exp >= prec {
		s = strconv.FormatFloat(f, 'e', prec-1, 64)
		if !alt {
			mant, ex, _ := strings.Cut(s, "e")
			if strings.Contains(mant, ".") {
				mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
			}
			s = mant + "e" + ex
		}
		s = fixExponent(s)
	} else {
		s = strconv.FormatFloat(f, 'f', prec-1-exp, 64)
		if !alt && strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
	}
	if conv == 'G' {
		s = strings.ToUpper(s)
	}
	return s
}

// fixExponent makes Go's exponent at least two digits, as C's printf.
func fixExponent(s string) string {
	k := strings.IndexByte(s, 'e')
	if k < 0 {
		return s
	}
	mant, ex := s[:k], s[k+1:]
	sign := "+"
	if ex != "" && (ex[0] == '+' || ex[0] == '-') {
		sign, ex = ex[:1], ex[1:]
	}
	if len(ex) < 2 {
		ex = "0" + ex
	}
	return mant + "e" + sign + ex
}

// pyFormat is str.format with positional ({} {0}) and named ({name})
// fields, attribute and index access, !s/!r conversions and format specs.
func pyFormat(r *renderer, format string, args []Value, kw []namedArg) (string, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '}' {
			if i+1 < len(format) && format[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", runtimeErr("Single '}' encountered in format string")
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		depth := 1
		j := i + 1
		for j < len(format) && depth > 0 {
			if format[j] == '{' {
				depth++
			} else if format[j] == '}' {
				depth--
			}
			j++
		}
		if depth != 0 {
			return "", runtimeErr("expected '}' before end of string")
		}
		field := format[i+1 : j-1]
		i = j - 1
		spec := ""
		if k := strings.IndexByte(field, ':'); k >= 0 {
			field, spec = field[:k], field[k+1:]
		}
		conv := ""
		if k := strings.IndexByte(field, '!'); k >= 0 {
			field, conv = field[:k], field[k+1:]
		}
		// Split the field into its first name and the accessors after it.
		end := len(field)
		if k := strings.IndexAny(field, ".["); k >= 0 {
			end = k
		}
		first, rest := field[:end], field[end:]
		var v Value
		if first == "" {
			if auto >= len(args) {
				return "", runtimeErr("Replacement index %d out of range for positional args tuple", auto)
			}
			v = args[auto]
			auto++
		} else if n, err := strconv.Atoi(first); err == nil {
			if n >= len(args) {
				return "", runtimeErr("Replacement index %d out of range for positional args tuple", n)
			}
			v = args[n]
		} else {
			found := false
			for _, k := range kw {
				if k.name == first {
					v, found = k.val, true
				}
			}
			if !found {
				return "", runtimeErr("KeyError: %s", pyQuote(first))
			}
		}
		for rest != "" {
			var err error
			if rest[0] == '.' {
				k := strings.IndexAny(rest[1:], ".[")
				name := rest[1:]
				if k >= 0 {
					name = rest[1 : k+1]
				}
				rest = rest[1+len(name):]
				v, err = r.getattr(v, name)
			} else {
				k := strings.IndexByte(rest, ']')
				if k < 0 {
					return "", runtimeErr("Missing ']' in format string")
				}
				key := rest[1:k]
				rest = rest[k+1:]
				var kv Value = key
				if n, err := strconv.Atoi(key); err == nil {
					kv = int64(n)
				}
				v, err = r.getitem(v, kv)
			}
			if err != nil {
				return "", err
			}
		}
		switch conv {
		case "r", "a":
			v = repr(v)
		case "s":
			v = toStr(v)
		}
		s, err := formatSpec(v, spec)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// formatSpec applies a format-spec mini-language string: [[fill]align]
// [sign][#][0][width][,][.precision][type].
func formatSpec(v Value, spec string) (string, error) {
	if spec == "" {
		return toStr(v), nil
	}
	fill, align := " ", byte(0)
	rs := []rune(spec)
	if len(rs) >= 2 && strings.ContainsRune("<>^=", rs[1]) {
		fill, align = string(rs[0]), byte(rs[1])
		spec = string(rs[2:])
	} else if len(spec) >= 1 && strings.IndexByte("<>^=", spec[0]) >= 0 {
		align = spec[0]
		spec = spec[1:]
	}
	flags := ""
	for spec != "" && strings.IndexByte("+- #", spec[0]) >= 0 {
		flags += spec[:1]
		spec = spec[1:]
	}
	if spec != "" && spec[0] == '0' {
		if align == 0 {
			fill, align = "0", '='
		}
		spec = spec[1:]
	}
	i := 0
	for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
		i++
	}
	width := -1
	if i > 0 {
		width, _ = strconv.Atoi(spec[:i])
		if err := checkAlloc(int64(width)); err != nil || i > 9 {
			return "", allocErr()
		}
	}
	spec = spec[i:]
	spec = strings.TrimPrefix(spec, ",")
	prec := -1
	if spec != "" && spec[0] == '.' {
		j := 1
		for j < len(spec) && spec[j] >= '0' && spec[j] <= '9' {
			j++
		}
		prec, _ = strconv.Atoi(spec[1:j])
		if j > 7 {
			return "", allocErr()
		}
		spec = spec[j:]
	}
	typ := byte(0)
	if spec != "" {
		typ = spec[0]
	}
	var s string
	var err error
	_, isNum := v.(int64)
	_, isFloat := v.(float64)
	switch {
	case typ == 0 && !isNum && !isFloat:
		s = toStr(v)
		if prec >= 0 && utf8.RuneCountInString(s) > prec {
			s = string([]rune(s)[:prec])
		}
		if align == 0 {
			align = '<'
		}
	case typ == 's':
		s = toStr(v)
		if prec >= 0 && utf8.RuneCountInString(s) > prec {
			s = string([]rune(s)[:prec])
		}
		if align == 0 {
			align = '<'
		}
	case typ == '%':
		_, f, _, ok := asNumber(v)
		if !ok {
			return "", runtimeErr("Unknown format code '%%' for object of type '%s'", typeName(v))
		}
		if prec < 0 {
			prec = 6
		}
		s = strconv.FormatFloat(f*100, 'f', prec, 64) + "%"
	case typ == 0 && isFloat:
		if prec >= 0 {
			s, err = formatOne('g', v, flags, prec)
		} else {
			s = toStr(v)
		}
	default:
		c := typ
		if c == 0 {
			c = 'd'
		}
		if c == 'n' {
			c = 'd'
		}
		s, err = formatOne(c, v, flags, prec)
	}
	if err != nil {
		return "", err
	}
	if align == 0 {
		align = '>'
	}
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s, nil
	}
	padN := width - n
	switch align {
	case '<':
		return s + strings.Repeat(fill, padN), nil
	case '^':
		return strings.Repeat(fill, padN/2) + s + strings.Repeat(fill, padN-padN/2), nil
	case '=':
		if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
			return s[:1] + strings.Repeat(fill, padN) + s[1:], nil
		}
	}
	return strings.Repeat(fill, padN) + s, nil
}

var (
	weekdayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthNames   = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// strftime formats t like C's strftime in the C locale, including glibc's
// "-" flag (no padding), which Python passes through on Linux.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		noPad := false
		if format[i] == '-' && i+1 < len(format) {
			noPad = true
			i++
		}
		num := func(v, width int) string {
			if noPad {
				return strconv.Itoa(v)
			}
			return fmt.Sprintf("%0*d", width, v)
		}
		switch format[i] {
		case 'a':
			b.WriteString(weekdayNames[t.Weekday()][:3])
		case 'A':
			b.WriteString(weekdayNames[t.Weekday()])
		case 'b', 'h':
			b.WriteString(monthNames[t.Month()-1][:3])
		case 'B':
			b.WriteString(monthNames[t.Month()-1])
		case 'c':
			fmt.Fprintf(&b, "%s %s %2d %02d:%02d:%02d %d", weekdayNames[t.Weekday()][:3], monthNames[t.Month()-1][:3], t.Day(), t.Hour(), t.Minute(), t.Second(), t.Year())
		case 'd':
			b.WriteString(num(t.Day(), 2))
		case 'e':
			if noPad {
				b.WriteString(strconv.Itoa(t.Day()))
			} else {
				fmt.Fprintf(&b, "%2d", t.Day())
			}
		case 'F':
			fmt.Fprintf(&b, "%04d-%02d-%02d", t.Year(), t.Month(), t.Day())
		case 'H':
			b.WriteString(num(t.Hour(), 2))
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(num(h, 2))
		case 'j':
			b.WriteString(num(t.YearDay(), 3))
		case 'm':
			b.WriteString(num(int(t.Month()), 2))
		case 'M':
			b.WriteString(num(t.Minute(), 2))
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'S':
			b.WriteString(num(t.Second(), 2))
		case 'T':
			fmt.Fprintf(&b, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(strconv.Itoa(wd))
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'U':
			b.WriteString(num((t.YearDay()+6-int(t.Weekday()))/7, 2))
		case 'W':
			b.WriteString(num((t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2))
		case 'V':
			_, w := t.ISOWeek()
			b.WriteString(num(w, 2))
		case 'G':
			y, _ := t.ISOWeek()
			b.WriteString(strconv.Itoa(y))
		case 'x':
			fmt.Fprintf(&b, "%02d/%02d/%02d", t.Month(), t.Day(), t.Year()%100)
		case 'X':
			fmt.Fprintf(&b, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
		case 'y':
			b.WriteString(num(t.Year()%100, 2))
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			name, _ := t.Zone()
			b.WriteString(name)
		case '%':
			b.WriteByte('%')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteByte('%')
			if noPad {
				b.WriteByte('-')
			}
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
