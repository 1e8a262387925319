package resp

import "strconv"

// The Append functions encode RESP2 replies onto dst and return the
// extended slice, as strconv.Append* do: a caller that owns a reused
// buffer encodes with no allocation. Writer wraps them.

// AppendSimpleString appends "+s\r\n". A CR or LF in s, which would end
// the line early and desynchronize the client, is written as a space, as
// Redis does for status and error replies.
func AppendSimpleString(dst []byte, s string) []byte {
	dst = append(dst, '+')
	return appendLine(dst, s)
}

// AppendError appends "-prefix msg\r\n". prefix is the error code the
// client sees first (ERR, WRONGTYPE, BUSY, TRYAGAIN, MOVED, NOPROTO): one
// word, upper case by convention. An empty prefix writes msg alone, for
// a message that carries its own code; an empty msg writes the code
// alone. A CR or LF in either is written as a space.
func AppendError(dst []byte, prefix, msg string) []byte {
	dst = append(dst, '-')
	switch {
	case prefix == "":
		return appendLine(dst, msg)
	case msg == "":
		return appendLine(dst, prefix)
	}
	dst = appendText(dst, prefix)
	dst = append(dst, ' ')
	return appendLine(dst, msg)
}

// AppendInt appends ":n\r\n".
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends "$len\r\nb\r\n". A nil b is an empty bulk string,
// not a null: the null bulk is AppendNullBulk.
func AppendBulk(dst, b []byte) []byte {
	dst = appendHeader(dst, '$', len(b))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString is AppendBulk for a string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendHeader(dst, '$', len(s))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNullBulk appends RESP2's null bulk string, "$-1\r\n": GET's reply
// for a missing key.
func AppendNullBulk(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendArrayHeader appends "*n\r\n"; the n elements follow. It panics
// if n < 0: the null array is AppendNullArray, and any other negative
// count would be a reply no client can read.
func AppendArrayHeader(dst []byte, n int) []byte {
	if n < 0 {
		panic("resp: array of " + strconv.Itoa(n) + " elements")
	}
	return appendHeader(dst, '*', n)
}

// AppendNullArray appends RESP2's null array, "*-1\r\n".
func AppendNullArray(dst []byte) []byte { return append(dst, "*-1\r\n"...) }

// AppendCommand appends a request as clients send it, an array of bulk
// strings: for clients, tests, and anything that stores commands in
// their wire form.
func AppendCommand(dst []byte, args [][]byte) []byte {
	dst = appendHeader(dst, '*', len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

func appendHeader(dst []byte, typ byte, n int) []byte {
	dst = append(dst, typ)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// appendLine appends s and CR LF, with any CR or LF of s as a space.
func appendLine(dst []byte, s string) []byte {
	dst = appendText(dst, s)
	return append(dst, '\r', '\n')
}

// appendText appends s with any CR or LF as a space.
func appendText(dst []byte, s string) []byte {
	for {
		i := indexCRLF(s)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, ' ')
		s = s[i+1:]
	}
}

func indexCRLF(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return i
		}
	}
	return -1
}
