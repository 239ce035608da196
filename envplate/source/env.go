// Package source supplies the values ep's templates reference: the process
// environment, NAME_FILE variables (Docker and Kubernetes secrets) and keys
// under a prefix in etcd. Each is a subst.Lookup; First chains them.
package source

import (
	"fmt"
	"io"
	"os"
	"strings"

	"cronbox/envplate/subst"
)

// maxFileValue bounds what a NAME_FILE may hold: a secret, not a data set.
const maxFileValue = 1 << 20

// Env looks variables up in an environment (os.Environ's form). A variable
// NAME that is unset is read from the file NAME_FILE names, when that is
// set; one trailing newline is dropped, as secrets are usually written with
// one.
type Env struct {
	vars map[string]string
}

// NewEnv indexes environ ("NAME=value" entries; the last one wins, as in
// the shell).
func NewEnv(environ []string) *Env {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return &Env{vars: vars}
}

// Lookup implements subst.Lookup.
func (e *Env) Lookup(name string) (subst.Value, bool, error) {
	v, ok := e.vars[name]
	path, fileSet := e.vars[name+"_FILE"]
	switch {
	case ok && fileSet:
		return subst.Value{}, false, fmt.Errorf("both %s and %s_FILE are set; set one", name, name)
	case ok:
		return subst.Value{S: v, From: "env"}, true, nil
	case !fileSet:
		return subst.Value{}, false, nil
	}
	s, err := readSecret(path)
	if err != nil {
		return subst.Value{}, false, fmt.Errorf("%s_FILE=%s: %w", name, path, err)
	}
	return subst.Value{S: s, From: name + "_FILE"}, true, nil
}

func readSecret(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileValue+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFileValue {
		return "", fmt.Errorf("larger than %d bytes", maxFileValue)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// First looks a name up in each Lookup in turn and returns the first that
// has it (or fails).
type First []subst.Lookup

// Lookup implements subst.Lookup.
func (f First) Lookup(name string) (subst.Value, bool, error) {
	for _, l := range f {
		v, ok, err := l.Lookup(name)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return subst.Value{}, false, nil
}
