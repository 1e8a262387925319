package kv

// matchGlob reports whether s matches pattern as Redis' SCAN MATCH does:
// a port of stringmatchlen (Redis 7, util.c), case-sensitive, quirks
// included, since a client may rely on them:
//
//   - '*' any run of bytes, '?' one byte, '\x' the byte x;
//   - '[abc]', '[^abc]', '[a-z]' (a reversed range '[z-a]' is the same
//     range), '\' escaping a byte inside;
//   - a class without its ']' runs to the end of the pattern; '[a-]'
//     is the range from 'a' to ']', after which the class goes on;
//   - a trailing lone '\' matches a '\';
//   - "*" does not match the empty key (SCAN skips the pattern "*"
//     altogether, see scanKeys).
//
// Redis compares range bounds as C chars, signed on some platforms and
// unsigned on others, so ranges over bytes above 0x7f differ between
// Redis builds; this one compares bytes, unsigned.
func matchGlob(pattern, s []byte) bool {
	skipLonger := false
	return matchGlobFrom(pattern, s, &skipLonger, 0)
}

// globNestingMax is Redis' bound on the recursion of '*', which keeps an
// abusive pattern from exhausting the stack: deeper, nothing matches.
const globNestingMax = 1000

// skipLonger is set once the rest of the pattern after a '*' matched
// nowhere in the rest of s: then no earlier '*' can help by taking more of
// s, and every caller gives up at once. Without it a pattern of many '*'
// takes exponential time (Redis CVE-2022-36021).
func matchGlobFrom(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > globNestingMax {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if matchGlobFrom(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			p, s = p[1:], s[1:]
		case '[':
			var ok bool
			if p, ok = matchClass(p[1:], s[0]); !ok {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			p, s = p[1:], s[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass matches c against the class p opens (p follows its '['), and
// returns the pattern after the class.
func matchClass(p []byte, c byte) (rest []byte, ok bool) {
	not := len(p) > 0 && p[0] == '^'
	if not {
		p = p[1:]
	}
	match := false
	for {
		switch {
		case len(p) >= 2 && p[0] == '\\':
			match = match || p[1] == c
			p = p[2:]
		case len(p) > 0 && p[0] == ']':
			return p[1:], match != not
		case len(p) == 0:
			return p, match != not // no ']': the class ends with the pattern
		case len(p) >= 3 && p[1] == '-':
			lo, hi := p[0], p[2]
			if lo > hi {
				lo, hi = hi, lo
			}
			match = match || lo <= c && c <= hi
			p = p[3:]
		default:
			match = match || p[0] == c
			p = p[1:]
		}
	}
}

// literalPrefix is the part of pattern before its first special byte:
// every key the pattern matches starts with it, so a scan can seek there
// and stop past it instead of filtering the whole range.
func literalPrefix(pattern []byte) []byte {
	for i, c := range pattern {
		switch c {
		case '*', '?', '[', '\\':
			return pattern[:i]
		}
	}
	return pattern
}
