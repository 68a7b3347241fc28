package playbooks

import (
	"fmt"
	"strings"
)

// suggest returns ` (did you mean "x"?)` naming the candidate closest to
// word, or "" when none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best, bestDist := "", -1
	norm := normalizeName(word)
	for _, c := range candidates {
		if c == word {
			continue
		}
		// Same name in another spelling (apiVersion vs api_version).
		if normalizeName(c) == norm {
			return fmt.Sprintf(" (did you mean %q?)", c)
		}
		dist := EditDistance(word, c)
		if bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := 1 + len([]rune(word))/4
	if best == "" || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func normalizeName(s string) string {
	return strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(s))
}

// EditDistance is the optimal string alignment distance between a and b
// by runes: Levenshtein plus adjacent swaps, the commonest typo. The Slack
// command parser uses it for its own "did you mean".
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Names are short; cap the work anyway since inputs come from files.
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
