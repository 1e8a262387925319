package metrics

import "math"

// Log2 is a histogram as raftpipe's stages and log keep it: one atomic
// counter per power of two, which costs the hot path one add per
// observation and no Prometheus object. It becomes a Prometheus histogram
// only at scrape (Buckets).
type Log2 struct {
	// Counts[i] counts observations in [2^i, 2^(i+1)) units; Counts[0]
	// also those below 1 unit, and the last bucket everything from
	// 2^(len-1) units up.
	Counts []uint64
	// Unit is one unit in the exported base unit: 1e-6 for buckets of
	// microseconds exported as seconds, 1 (or 0) for counts of items.
	Unit float64
	// Sum is the observations' total in the exported base unit. The
	// stages and the log keep it exactly beside the buckets; a source
	// that does not can pass EstimateSum.
	Sum float64
}

func (h Log2) unit() float64 {
	if h.Unit == 0 {
		return 1
	}
	return h.Unit
}

// Buckets returns h in Prometheus's form: count is the number of
// observations, and upper maps each upper bound to the observations at or
// below it, cumulatively. Bucket i of Counts becomes the bound
// 2^(i+1)×Unit, which its observations are all below. The last bucket has
// no finite bound, since it holds everything larger: its observations
// are counted only by count, Prometheus's +Inf bucket.
func (h Log2) Buckets() (count uint64, upper map[float64]uint64) {
	n := len(h.Counts)
	if n == 0 {
		return 0, map[float64]uint64{}
	}
	upper = make(map[float64]uint64, n-1)
	u := h.unit()
	for i, c := range h.Counts[:n-1] {
		count += c
		upper[math.Ldexp(u, i+1)] = count
	}
	return count + h.Counts[n-1], upper
}

// EstimateSum estimates the total of the observations of a log2
// histogram without one (see Log2) by counting each at the middle of its
// bucket, 1.5×2^i units; bucket 0, [0, 2), at 1 unit; and the last bucket,
// which has no upper end, at its lower end 2^(len-1) units. For
// observations spread evenly within the buckets the estimate is close;
// for any one observation it is off by at most +50% (one at the bottom of
// its bucket) or -25% (one at the top), and the last bucket's are
// underestimated without bound.
func EstimateSum(counts []uint64, unit float64) float64 {
	if unit == 0 {
		unit = 1
	}
	var sum float64
	for i, c := range counts {
		var mid float64
		switch {
		case i == len(counts)-1 && i > 0:
			mid = math.Ldexp(1, i)
		case i == 0:
			mid = 1
		default:
			mid = 1.5 * math.Ldexp(1, i)
		}
		sum += float64(c) * mid
	}
	return sum * unit
}
