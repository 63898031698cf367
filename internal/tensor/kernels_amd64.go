//go:build amd64 && !purego

package tensor

// registerAVX2 installs the AVX2 assembly kernels in t.
func registerAVX2(t *[maxType]*Kernels) {
	registerMulMatAVX2(t)
}

// registerAVX512 installs the AVX-512 kernels in t (a copy of the AVX2
// table): the integer products with VNNI.
func registerAVX512(t *[maxType]*Kernels) {
	registerMulMatVNNI(t)
}
