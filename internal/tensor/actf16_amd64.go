//go:build amd64 && !purego

package tensor

import "unsafe"

//go:noescape
func roundF16x8(n int, src, dst unsafe.Pointer)

// actRoundF16x86 is actRoundF16 with F16C's conversions (the same rounding,
// ties to even, NaNs kept and quieted), eight values at a time; it was 7% of
// an F16 model's prompt processing in Go.
func actRoundF16x86(src []float32, dst []byte) {
	d := F32Bytes(dst)[:len(src)]
	n := len(src) &^ 7
	if n > 0 {
		roundF16x8(n, unsafe.Pointer(&src[0]), unsafe.Pointer(&d[0]))
	}
	for i := n; i < len(src); i++ {
		d[i] = fp16Table[FP32ToFP16(src[i])]
	}
}
