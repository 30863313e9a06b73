package alert

import (
	"fmt"
	"regexp"
)

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Placeholders returns the variable names a URL refers to as ${NAME}.
func Placeholders(u string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(u, -1) {
		names = append(names, m[1])
	}
	return names
}

// Expander fills ${NAME} from env (the env file's variables). where names
// the file for the error when a variable is missing.
func Expander(env map[string]string, where string) func(string) (string, error) {
	return func(u string) (string, error) {
		var missing string
		out := placeholder.ReplaceAllStringFunc(u, func(m string) string {
			name := m[2 : len(m)-1]
			v, ok := env[name]
			if !ok && missing == "" {
				missing = name
			}
			return v
		})
		if missing != "" {
			return "", fmt.Errorf("%s is not set in %s; add `%s=…` there", missing, where, missing)
		}
		return out, nil
	}
}
