package reconcile

import (
	"errors"
	"fmt"

	"github.com/rulekeeper/rulekeeper/internal/noderoot"
	"github.com/rulekeeper/rulekeeper/internal/regfile"
)

// MaxRulesFileSize caps what rulekeeper reads of one rules file (or of
// falco.yaml). Falco's largest upstream rules file is 136 KB; a file thirty
// times that is a mistake. The cap is what bounds memory: the first pass on
// a file parses it whole, which takes about 23 times its size (measured: a
// 4 MiB rules file, 93 MB peak for `rulekeeper plan`).
const MaxRulesFileSize = regfile.MaxRulesFile

// ReadRulesFile reads a rules file (or falco.yaml) of the node under root,
// as every part of rulekeeper that reads one does: symlinks resolved inside
// the root, only a regular file (a device, a FIFO or a socket, also behind
// a symlink, is refused before a byte is read and without waiting on it),
// at most MaxRulesFileSize bytes. A missing file gives an error that
// os.IsNotExist recognises; the others say what the file is and what to do,
// without the path, which callers put in front.
func ReadRulesFile(root, nodePath string) ([]byte, error) {
	host, err := noderoot.Host(root, nodePath)
	if err != nil {
		return nil, err
	}
	b, err := regfile.Read(host, MaxRulesFileSize)
	if err != nil {
		return nil, readError(root, nodePath, err)
	}
	return b, nil
}

// readError turns regfile's errors into messages about node paths.
func readError(root, nodePath string, err error) error {
	var nr *regfile.NotRegularError
	if errors.As(err, &nr) {
		what := regfile.Kind(nr.Mode)
		if real, link, rerr := noderoot.Resolve(root, nodePath); rerr == nil && link {
			what = "leads to " + real + ", " + what
		}
		return fmt.Errorf("%s, not a regular file: Falco cannot load it as a rules file (it would read it forever or wait on it); replace it with the rules file itself, or take it out of Falco's rules list", what)
	}
	var tl *regfile.TooLargeError
	if errors.As(err, &tl) {
		return fmt.Errorf("%s, over the %d MiB rulekeeper reads of one rules file (Falco's largest upstream rules file is 136 KB): nothing was read or written; remove the file or split it", sizeText(tl), tl.Limit>>20)
	}
	return err
}

func sizeText(tl *regfile.TooLargeError) string {
	if tl.Size > tl.Limit+1 {
		return fmt.Sprintf("%d bytes (%.1f MiB)", tl.Size, float64(tl.Size)/(1<<20))
	}
	return "more than " + fmt.Sprint(tl.Limit) + " bytes" // it grew, or does not tell its size
}
