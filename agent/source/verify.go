package source

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// verify checks that c carries an OpenPGP signature made by a key of the keyring file. The
// keyring is read on every call, so adding or revoking a key needs no restart.
func verify(c *object.Commit, keyringFile string) error {
	ring, err := readKeyring(keyringFile)
	if err != nil {
		return err
	}
	switch {
	case c.PGPSignature == "":
		return errors.New("commit is not signed; only commits signed by a key of the verify keyring are applied")
	case strings.Contains(c.PGPSignature, "BEGIN SSH SIGNATURE"):
		return errors.New("commit has an SSH signature; only OpenPGP signatures are checked")
	}
	if _, err := c.Verify(ring); err != nil {
		return fmt.Errorf("signature does not verify against the verify keyring: %w", err)
	}
	return nil
}
