// Command kopilka is the loyalty and bonus-points processing centre.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // programmes name IANA zones; the binary carries the database

	"github.com/kopilka/kopilka/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, cli.Env{Args: os.Args[1:], Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	if err != nil {
		code := 1
		var ee *cli.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
		}
		if code != 0 {
			fmt.Fprintln(os.Stderr, "kopilka:", err)
		}
		os.Exit(code)
	}
}
