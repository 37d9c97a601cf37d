package seed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/ipgate/ipgate/rangeset"
)

// MaxBody is the largest request body a seed server reads.
const MaxBody = 1 << 20

// BodyError is a request body that cannot be read, in words a product's
// error message can carry: no Go names. Status is 413 for a body past
// MaxBody, else 400; Field, when not "", is the JSON field at fault.
type BodyError struct {
	Status int
	Field  string
	Msg    string
}

func (e *BodyError) Error() string { return e.Msg }

// JSONOptions say how ReadJSON reads a body.
type JSONOptions struct {
	// Empty accepts an empty body, leaving v as it is.
	Empty bool
	// TrailingCommas accepts a comma before a closing } or ], as some
	// products' own documented bodies have; nothing looser.
	TrailingCommas bool
}

// ReadJSON reads r's body, at most MaxBody bytes, into v: one JSON
// value, fields v does not have refused, nothing after it. Keys are
// matched exactly and each may be given once: encoding/json alone would
// take a key in another letter case, and the last of a repeated key,
// so that what a proxy or a log reads first need not be what is
// stored. Any failure is a *BodyError.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any, opts *JSONOptions) error {
	var o JSONOptions
	if opts != nil {
		o = *opts
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return bodyReadError(err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if o.Empty {
			return nil
		}
		return &BodyError{Status: http.StatusBadRequest, Msg: "the request body is empty"}
	}
	if o.TrailingCommas {
		data = dropTrailingCommas(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &BodyError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("unexpected data after the JSON value at byte %d", dec.InputOffset())}
	}
	// The value decoded, so it is valid JSON: a second pass only looks
	// at its keys.
	return checkKeys(json.NewDecoder(bytes.NewReader(data)), reflect.TypeOf(v))
}

// checkKeys reads one JSON value from dec, which holds valid JSON, along
// with t, the type it was decoded into (nil where that is not known), and
// refuses a key given twice in one object or naming a field of t in
// another letter case.
func checkKeys(dec *json.Decoder, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if u := reflect.TypeFor[json.Unmarshaler](); t != nil && (t.Implements(u) || reflect.PointerTo(t).Implements(u)) {
		t = nil // its keys are its own business; repeats are still refused
	}
	tok, _ := dec.Token()
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t, map[string]reflect.Type{})
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, _ := dec.Token()
			key := kt.(string)
			if seen[key] {
				return &BodyError{Status: http.StatusBadRequest, Field: Clip(key), Msg: fmt.Sprintf("field %s is given twice", rangeset.Quote(key))}
			}
			seen[key] = true
			var ft reflect.Type
			switch {
			case t != nil && t.Kind() == reflect.Map:
				ft = t.Elem()
			case fields != nil:
				var ok bool
				if ft, ok = fields[key]; !ok {
					return &BodyError{Status: http.StatusBadRequest, Field: Clip(key), Msg: fmt.Sprintf("unknown field %s (field names are case-sensitive)", rangeset.Quote(key))}
				}
			}
			if err := checkKeys(dec, ft); err != nil {
				return err
			}
		}
		dec.Token() // }
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := checkKeys(dec, et); err != nil {
				return err
			}
		}
		dec.Token() // ]
	}
	return nil
}

// jsonFields adds to fields the JSON names of struct type t's fields, as
// encoding/json names them, with their types.
func jsonFields(t reflect.Type, fields map[string]reflect.Type) map[string]reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			jsonFields(f.Type, fields)
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// bodyReadError reports a body that could not be read.
func bodyReadError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return &BodyError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the request body is larger than %d bytes", mb.Limit)}
	}
	return &BodyError{Status: http.StatusBadRequest, Msg: "the request body could not be read"}
}

// BodyReadError returns err, met reading a request body or form, as a
// *BodyError: 413 for a body past its limit.
func BodyReadError(err error) *BodyError {
	var be *BodyError
	errors.As(bodyReadError(err), &be)
	return be
}

// Clip returns s, cut to 64 bytes with its length given when it is
// longer, for an error that names client input without repeating it all.
func Clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &BodyError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("the request body is not valid JSON at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		want := "an object"
		switch typ.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			want = "a whole number"
		case reflect.Float32, reflect.Float64:
			want = "a number"
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Pointer:
			want = "a value of its type"
		}
		got := Clip(typ.Value) // "number " and the literal, which may be long
		if typ.Field == "" {
			return &BodyError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("the request body must be %s, not %s", want, got)}
		}
		return &BodyError{Status: http.StatusBadRequest, Field: typ.Field, Msg: fmt.Sprintf("%s must be %s, not %s", typ.Field, want, got)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &BodyError{Status: http.StatusBadRequest, Msg: "the request body ends inside its JSON value"}
	}
	// The only other error of a strict decode is an unknown field, whose
	// message is `json: unknown field "name"`.
	if _, name, ok := strings.Cut(err.Error(), "unknown field "); ok {
		field := strings.Trim(name, `"`)
		return &BodyError{Status: http.StatusBadRequest, Field: Clip(field), Msg: fmt.Sprintf("unknown field %s", rangeset.Quote(field))}
	}
	return &BodyError{Status: http.StatusBadRequest, Msg: "the request body is not valid JSON"}
}

// dropTrailingCommas removes each comma that follows a value and that
// only white space separates from a following } or ], outside strings:
// {"a": 1,} is {"a": 1}, but {,} stays invalid.
func dropTrailingCommas(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			out = append(out, c)
			continue
		}
		if c == '"' {
			inString = true
		}
		if c == ',' {
			j := i + 1
			for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
				j++
			}
			if j < len(data) && (data[j] == '}' || data[j] == ']') && endsValue(out) {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// Reason returns why a target did not parse, without the parser's name:
// "host bits set (canonical form 10.0.0.0/24)".
func Reason(err error) string {
	var pe *rangeset.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "not an IP address"
}

// endsValue reports whether the last byte of out other than white space
// can end a JSON value.
func endsValue(out []byte) bool {
	t := bytes.TrimRight(out, " \t\r\n")
	if len(t) == 0 {
		return false
	}
	switch t[len(t)-1] {
	case '{', '[', ',', ':':
		return false
	}
	return true
}
