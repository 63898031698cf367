//go:build amd64 && !purego

package tensor

import "strings"

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax uint32)

// cpu holds the x86 features the kernels need, read once at start-up.
var cpu struct {
	avx2, fma, f16c             bool // the AVX2 level
	avx512f, avx512bw, avx512vl bool
	avx512dq, vnni              bool // the AVX512 level
	avx512bf16                  bool
}

func detectCPU() {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return
	}
	_, _, ecx1, _ := cpuid(1, 0)
	osxsave := ecx1&(1<<27) != 0
	if !osxsave || ecx1&(1<<28) == 0 { // AVX
		return
	}
	xcr0 := xgetbv()
	if xcr0&6 != 6 { // the OS saves XMM and YMM state
		return
	}
	_, ebx7, ecx7, _ := cpuid(7, 0)
	cpu.fma = ecx1&(1<<12) != 0
	cpu.f16c = ecx1&(1<<29) != 0
	cpu.avx2 = ebx7&(1<<5) != 0
	if xcr0&0xe6 == 0xe6 { // and the opmask and ZMM state
		cpu.avx512f = ebx7&(1<<16) != 0
		cpu.avx512dq = ebx7&(1<<17) != 0
		cpu.avx512bw = ebx7&(1<<30) != 0
		cpu.avx512vl = ebx7&(1<<31) != 0
		cpu.vnni = ecx7&(1<<11) != 0
		eax71, _, _, _ := cpuid(7, 1)
		cpu.avx512bf16 = eax71&(1<<5) != 0
	}
}

// CPUFeatures lists the vector features found, for diagnostics.
func CPUFeatures() string {
	var f []string
	for _, x := range []struct {
		name string
		on   bool
	}{{"avx2", cpu.avx2}, {"fma", cpu.fma}, {"f16c", cpu.f16c}, {"avx512f", cpu.avx512f}, {"avx512bw", cpu.avx512bw},
		{"avx512vl", cpu.avx512vl}, {"avx512dq", cpu.avx512dq}, {"avx512vnni", cpu.vnni}, {"avx512bf16", cpu.avx512bf16}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, " ")
}

// registerArch adds the AVX2 level when the CPU has AVX2, FMA and F16C, and
// the AVX512 level on top of it when it also has AVX-512 F/BW/VL/DQ and VNNI.
func registerArch() {
	detectCPU()
	if !(cpu.avx2 && cpu.fma && cpu.f16c) {
		return
	}
	t := newLevel(AVX2, levelKernels[Generic])
	registerAVX2(t)
	levelKernels[AVX2] = t
	v := genericVec
	v.Level = AVX2
	registerVecAVX2(&v)
	vecLevels[AVX2] = &v
	if !(cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.vnni) {
		return
	}
	t5 := newLevel(AVX512, t)
	registerAVX512(t5)
	levelKernels[AVX512] = t5
	v5 := v
	v5.Level = AVX512
	registerVecAVX512(&v5)
	vecLevels[AVX512] = &v5
}
