package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"

	"github.com/kopilka/kopilka/internal/config"
	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
)

// loadKeys reads the personal-data key file, making one with fresh keys
// when there is none (and warning that it must be backed up).
func loadKeys(c config.Config, log *slog.Logger) (*pii.Ring, error) {
	path := c.KeysPath()
	r, created, err := pii.LoadOrCreate(path)
	if err != nil {
		return nil, fmt.Errorf("personal-data key file %s: %w", path, err)
	}
	if created {
		log.Warn("made a new personal-data key file; back this file up: without it personal data cannot be read",
			"path", path)
	}
	return r, nil
}

// runPII runs `kopilka pii rotate`.
func runPII(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usagef("pii: want the subcommand rotate")
	}
	c, err := parse(env, "pii rotate", args[1:], nil)
	if err != nil {
		return err
	}
	log := c.Logger(env.Stderr)
	path := c.KeysPath()
	old, err := pii.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pii rotate: no key file %s (--pii-keys names it)", path)
	}
	if err != nil {
		return fmt.Errorf("pii rotate: %w", err)
	}
	keys, err := old.Rotated()
	if err != nil {
		return fmt.Errorf("pii rotate: %w", err)
	}
	// The new ring is saved first: rows sealed with the new key must never
	// exist without a file that holds it.
	if err := pii.Save(path, keys); err != nil {
		return fmt.Errorf("pii rotate: save %s: %w", path, err)
	}
	fmt.Fprintf(env.Stderr, "new data key %s saved in %s; sealing rows with it\n", keys.Current(), path)
	db, err := sqldb.Open(ctx, c.DB, sqldb.Options{Logger: log, Keys: keys})
	if err != nil {
		return fmt.Errorf("open database %s: %w", describeDB(c.DB), err)
	}
	defer db.Close()
	n, err := db.Reseal(ctx, 1000, func(done int64) {
		fmt.Fprintf(env.Stderr, "resealed %d rows\n", done)
	})
	if err != nil {
		return fmt.Errorf("pii rotate: after %d rows: %w (the key file keeps every key, so nothing is lost; run pii rotate again to finish)", n, err)
	}
	ids := keys.KeyIDs()
	slices.Sort(ids)
	return json.NewEncoder(env.Stdout).Encode(map[string]any{"current": keys.Current(), "rows": n, "keys": ids})
}
