//go:build amd64 && !purego

package tensor

//go:noescape
func q8KBlock(x *float32, b *byte) bool

// quantizeRowQ8_Kx86 is quantizeRowQ8_K with AVX2 (q8KBlock) for every
// block it takes, the Go code for the others (NaNs, infinities, scales out
// of range). Decoding a few sequences together quantizes each matrix input
// on one thread while the other waits; in Go this was 5% of a four-stream
// Q4_K_M pass.
func quantizeRowQ8_Kx86(src []float32, dst []byte) {
	for i := 0; i < len(src)/QK_K; i++ {
		x, b := (*[256]float32)(src[i*QK_K:]), (*[292]byte)(dst[i*292:])
		if !q8KBlock(&x[0], &b[0]) {
			quantizeBlockQ8_K(x, b)
		}
	}
}
