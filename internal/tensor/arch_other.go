//go:build !amd64 || purego

package tensor

// registerArch adds no levels: this build has only the portable kernels.
func registerArch() {}

// CPUFeatures describes the vector features the kernels use; on this build
// there are none.
func CPUFeatures() string { return "portable Go (no assembly in this build)" }
