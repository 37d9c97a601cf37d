// Package policy holds what users write: [Rule], [Settings] and [Policy],
// their strict JSON document form, and validation.
//
// It knows nothing about lookup structures: package check compiles a valid
// Policy into a snapshot that answers requests. A Policy is plain data; it
// is not safe for concurrent mutation, and [Policy.Clone] gives a copy that
// shares nothing mutable.
//
// Validation reports every problem at once: [Validate] returns an
// errors.Join of [*RuleError] values (each naming its rule by id) and of
// settings errors. A disabled policy is validated all the same.
package policy
