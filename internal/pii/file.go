package pii

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileRing is the JSON form of a key file.
type fileRing struct {
	Version  int               `json:"version"`
	Current  string            `json:"current"`
	DataKeys map[string]string `json:"data_keys"` // id → base64 key
	IndexKey string            `json:"index_key"` // base64
	Note     string            `json:"note,omitempty"`
}

const fileNote = "Kopilka personal-data keys. Back this file up apart from the database: without it the customers' personal data cannot be read."

// MarshalJSON writes the ring as a key file.
func (r *Ring) MarshalJSON() ([]byte, error) {
	f := fileRing{Version: 1, Current: r.current, DataKeys: map[string]string{},
		IndexKey: base64.StdEncoding.EncodeToString(r.index), Note: fileNote}
	for id, k := range r.keys {
		f.DataKeys[id] = base64.StdEncoding.EncodeToString(k)
	}
	return json.MarshalIndent(f, "", "  ")
}

// Parse reads a key file's contents.
func Parse(b []byte) (*Ring, error) {
	var f fileRing
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a key file: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("key file version %d, want 1", f.Version)
	}
	index, err := base64.StdEncoding.DecodeString(f.IndexKey)
	if err != nil {
		return nil, fmt.Errorf("index_key: %w", err)
	}
	data := map[string][]byte{}
	for id, s := range f.DataKeys {
		if data[id], err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("data key %q: %w", id, err)
		}
	}
	return New(f.Current, data, index)
}

// Load reads a key file.
func Load(path string) (*Ring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return r, nil
}

// LoadOrCreate reads the key file at path, or creates it (mode 0600,
// fresh keys) when there is none; created says which.
func LoadOrCreate(path string) (r *Ring, created bool, err error) {
	r, err = Load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return r, false, err
	}
	if r, err = Generate(); err != nil {
		return nil, false, err
	}
	tmp, err := writeTemp(path, r)
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(tmp)
	// A hard link appears whole or not at all and fails when the name is
	// taken: two processes starting at once end up with one ring.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		r, err = Load(path)
		return r, false, err
	} else if err != nil {
		return nil, false, err
	}
	return r, true, nil
}

// Save replaces the key file at path with r, atomically (a new file
// renamed over the old one, mode 0600), so that a crash leaves either the
// old ring or the new one.
func Save(path string, r *Ring) error {
	tmp, err := writeTemp(path, r)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return os.Rename(tmp, path)
}

// writeTemp writes r to a new 0600 file beside path and returns its name.
func writeTemp(path string, r *Ring) (string, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	err = f.Chmod(0o600)
	if err == nil {
		if _, err = f.Write(append(b, '\n')); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
