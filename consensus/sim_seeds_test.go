//go:build !race

package consensus

const simDefaultSeeds = 1000
