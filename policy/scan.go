package policy

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner reads the JSON text of one document in a single pass, from a
// byte slice or from a reader through a buffer that holds the token being
// read. The byte slices it returns are valid until its next call.
type scanner struct {
	buf  []byte // buf[pos:] is unread; buf[mark:pos] is the token being read
	pos  int
	mark int
	base int64 // document offset of buf[0]

	r    io.Reader // nil when buf is the whole document
	rerr error     // the reader's error, other than io.EOF
	eof  bool

	str []byte // scratch for strings with escapes or non-ASCII bytes
}

// readChunk is how much a scanner over a reader asks for at a time.
const readChunk = 64 << 10

// more reads more input, keeping buf[mark:], and reports whether there is
// any. Indices into buf taken before the call are invalid after it; mark
// and pos are kept pointing at the same bytes.
func (s *scanner) more() bool {
	if s.r == nil || s.eof {
		return false
	}
	if s.mark > 0 {
		n := copy(s.buf, s.buf[s.mark:])
		s.base += int64(s.mark)
		s.pos -= s.mark
		s.mark = 0
		s.buf = s.buf[:n]
	}
	if cap(s.buf)-len(s.buf) < readChunk/2 {
		nb := make([]byte, len(s.buf), max(2*cap(s.buf), readChunk))
		copy(nb, s.buf)
		s.buf = nb
	}
	for range maxEmptyReads {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
		}
		if n > 0 || s.eof {
			return n > 0
		}
	}
	s.eof, s.rerr = true, io.ErrNoProgress
	return false
}

// maxEmptyReads is how many reads in a row may return no data and no
// error before the reader is taken to be broken, as bufio does.
const maxEmptyReads = 100

// offset returns the document offset of buf[i].
func (s *scanner) offset(i int) int64 { return s.base + int64(i) }

// syntaxError reports malformed JSON at buf[s.pos] (or at the end).
func (s *scanner) syntaxError(path, what string) error {
	if s.pos >= len(s.buf) {
		return &DocError{Path: path, Err: fmt.Errorf("%w: unexpected end of input", errSyntax)}
	}
	c := s.buf[s.pos]
	char := strconv.QuoteRune(rune(c))
	if c >= utf8.RuneSelf {
		char = fmt.Sprintf("byte 0x%02x", c)
	}
	return &DocError{Path: path, Err: fmt.Errorf("%w: invalid character %s %s at offset %d", errSyntax, char, what, s.offset(s.pos))}
}

// skipSpace skips white space and reports whether a byte follows.
func (s *scanner) skipSpace() bool {
	for {
		for s.pos < len(s.buf) {
			switch s.buf[s.pos] {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return true
			}
		}
		s.mark = s.pos
		if !s.more() {
			return false
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if !s.skipSpace() {
		return 0
	}
	return s.buf[s.pos]
}

// kind is the JSON type of a value, told by its first byte.
type kind uint8

const (
	kindNone kind = iota // no value: the end, or a byte no value starts with
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

func kindOf(c byte) kind {
	switch {
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == '"':
		return kindString
	case c == '-' || '0' <= c && c <= '9':
		return kindNumber
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	}
	return kindNone
}

// token is a scalar value just read.
type token struct {
	kind kind
	b    []byte // a string's unquoted bytes, or a number's text
	val  bool   // a boolean's value
}

// describe names a value's type for type errors.
func (k kind) describe() string {
	return [...]string{kindObject: "an object", kindArray: "an array", kindString: "a string",
		kindNumber: "a number", kindBool: "a boolean", kindNull: "null"}[k]
}

// scalar reads the next value, which must start with a byte of kind k, a
// scalar kind.
func (s *scanner) scalar(path string, k kind) (token, error) {
	switch k {
	case kindString:
		b, err := s.readString(path)
		return token{kind: k, b: b}, err
	case kindNumber:
		b, err := s.readNumber(path)
		return token{kind: k, b: b}, err
	}
	return s.readLiteral(path)
}

// expect consumes byte c after optional white space.
func (s *scanner) expect(path string, c byte, what string) error {
	if s.peek() != c {
		return s.syntaxError(path, what)
	}
	s.pos++
	return nil
}

// readString reads a string token; buf[pos] is its opening quote. The
// unquoting is encoding/json's: invalid UTF-8 and lone surrogates become
// U+FFFD.
func (s *scanner) readString(path string) ([]byte, error) {
	s.mark = s.pos
	s.pos++
	plain := true
	for {
		for s.pos < len(s.buf) {
			c := s.buf[s.pos]
			switch {
			case c == '"':
				raw := s.buf[s.mark+1 : s.pos]
				s.pos++
				if plain {
					return raw, nil
				}
				return s.unquote(path, raw)
			case c == '\\':
				plain = false
				s.pos += 2 // the escaped byte is checked by unquote
				continue
			case c < ' ':
				return nil, s.syntaxError(path, "in string literal")
			case c >= utf8.RuneSelf:
				plain = false
			}
			s.pos++
		}
		if !s.more() {
			s.pos = len(s.buf)
			return nil, s.syntaxError(path, "")
		}
	}
}

// unquote decodes raw, the text between a string's quotes, into s.str.
func (s *scanner) unquote(path string, raw []byte) ([]byte, error) {
	b := s.str[:0]
	bad := func(i int) error {
		return &DocError{Path: path, Err: fmt.Errorf("%w: invalid escape in string literal at offset %d", errSyntax, s.offset(s.mark+1+i))}
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				return nil, bad(i)
			}
			switch e := raw[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				if r < 0 {
					return nil, bad(i)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2 := hex4u(raw[i:]); r2 >= 0 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b = utf8.AppendRune(b, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return nil, bad(i)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, raw[i:i+n]...)
			}
			i += n
		}
	}
	s.str = b
	return b, nil
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// hex4u decodes `\uXXXX`, or returns -1.
func hex4u(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	return hex4(b[2:])
}

// span reads the run of bytes for which in reports true.
func (s *scanner) span(in func(byte) bool) []byte {
	s.mark = s.pos
	for {
		for s.pos < len(s.buf) && in(s.buf[s.pos]) {
			s.pos++
		}
		if s.pos < len(s.buf) || !s.more() {
			return s.buf[s.mark:s.pos]
		}
	}
}

func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func letter(c byte) bool { return 'a' <= c && c <= 'z' }

// readNumber reads a number token in JSON's grammar. Like encoding/json,
// it ends the number at the first byte that cannot continue it, and leaves
// that byte to whatever reads next.
func (s *scanner) readNumber(path string) ([]byte, error) {
	b := s.span(numberByte)
	n, ok := numberLen(b)
	s.pos = s.mark + n
	if !ok {
		return nil, s.syntaxError(path, "in numeric literal")
	}
	return b[:n], nil
}

// numberLen returns the length of the longest prefix of b that may start
// a JSON number, and reports whether that prefix is a whole number.
func numberLen(b []byte) (int, bool) {
	i := 0
	digits := func() int {
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return i, true
}

// readLiteral reads true, false or null. Like encoding/json, it leaves
// the bytes after the literal to whatever reads next.
func (s *scanner) readLiteral(path string) (token, error) {
	b := s.span(letter)
	want, t := "null", token{kind: kindNull}
	switch b[0] {
	case 't':
		want, t = "true", token{kind: kindBool, val: true}
	case 'f':
		want, t = "false", token{kind: kindBool}
	}
	n := 0
	for n < len(b) && n < len(want) && b[n] == want[n] {
		n++
	}
	s.pos = s.mark + n
	if n < len(want) {
		return token{}, s.syntaxError(path, "in literal "+want)
	}
	return t, nil
}

// maxDepth bounds the nesting that skipValue follows, as encoding/json does.
const maxDepth = 10000

var errTooDeep = errors.New("nested too deeply")

// skipValue reads one value of any kind and checks its syntax.
func (s *scanner) skipValue() error {
	depth := 0
	var stack []byte // '{' or '[' for each open container
	for {
		// a value
		c := s.peek()
		switch k := kindOf(c); k {
		case kindObject, kindArray:
			if depth++; depth > maxDepth {
				return errTooDeep
			}
			stack = append(stack, c)
			s.pos++
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			if s.peek() == close {
				s.pos++
				stack = stack[:len(stack)-1]
				depth--
				break
			}
			if c == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			continue
		case kindNone:
			return s.syntaxError("", "looking for beginning of value")
		default:
			if _, err := s.scalar("", k); err != nil {
				return err
			}
		}
		// after a value: close containers or go on to the next element
		for {
			if len(stack) == 0 {
				return nil
			}
			open := stack[len(stack)-1]
			close := byte('}')
			if open == '[' {
				close = ']'
			}
			c := s.peek()
			if c == close {
				s.pos++
				stack = stack[:len(stack)-1]
				depth--
				continue
			}
			if c != ',' {
				return s.syntaxError("", "after a value")
			}
			s.pos++
			if open == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// skipKey reads an object key and its colon.
func (s *scanner) skipKey() error {
	if s.peek() != '"' {
		return s.syntaxError("", "looking for beginning of object key string")
	}
	if _, err := s.readString(""); err != nil {
		return err
	}
	return s.expect("", ':', "after object key")
}

// unsafeString returns b as a string without copying. The caller must not
// keep the string, or anything made from it, past the next change of b.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
