package model

import (
	"github.com/golem-llm/golem/internal/tensor"
)

// job is one matrix of a (possibly fused) product: dst = W·x for every
// input row, dst holding T rows of W.Rows values.
type job struct {
	dst []float32
	W   *Matrix
}

// mmState is the product under way: its input, its matrices, and in the
// fast mode the input converted for each matrix.
type mmState struct {
	x      []float32 // T rows of n values
	T, n   int
	jobs   [3]job
	njobs  int
	act    [3]*actBuf  // per job: its converted input
	starts [4]int      // first chunk of each job; starts[njobs] is the total
	rows   int         // weight rows per chunk
	runs   [3][]colRun // per job: input rows grouped by effective product order

	bufs  [3]actBuf // conversions of this input, one per vec-dot type
	nbufs int
	cur   *actBuf         // the conversion convertRows fills
	curK  *tensor.Kernels // with this weight type's QuantizeAct
}

// colRun is a range of input rows [lo, hi) that share a product order.
type colRun struct {
	lo, hi int
	order  tensor.Order
}

// actBuf is an input converted to one vec-dot type's activation layout.
type actBuf struct {
	vdt    tensor.Type
	data   []byte
	stride int // bytes per input row
	mem    []uint64
}

// mulMat computes the products of the T×n input x with up to three
// matrices in one pass of the worker pool (q/k/v together, gate/up
// together). In the fast mode the input is converted once per vec-dot
// type, so matrices of the same type share one conversion.
func (w *Workspace) mulMat(x []float32, T, n int, jobs ...job) {
	mm := &w.mm
	mm.x, mm.T, mm.n = x[:T*n], T, n
	mm.njobs = len(jobs)
	mm.nbufs = 0
	for i, j := range jobs {
		// Runs of rows whose orders do the same for this matrix's type
		// (tensor.Effective): a prompt's last count%4 rows join its groups
		// of four unless the type tells them apart.
		runs := mm.runs[i][:0]
		for t := 0; t < T; t++ {
			o := tensor.Effective(j.W.Type, j.W.order|w.order[t])
			if k := len(runs) - 1; k >= 0 && runs[k].order == o {
				runs[k].hi = t + 1
			} else {
				runs = append(runs, colRun{t, t + 1, o})
			}
		}
		mm.runs[i] = runs
	}
	total := 0
	// Chunks of 16 rows: small enough to balance two or more workers on
	// the smallest matrices, large enough that handing one out (an atomic
	// add) is negligible next to computing it.
	mm.rows = 16
	for i, j := range jobs {
		mm.jobs[i] = j
		mm.starts[i] = total
		total += (j.W.Rows + mm.rows - 1) / mm.rows
		if !w.m.exact {
			mm.act[i] = w.convert(j.W)
		}
	}
	mm.starts[len(jobs)] = total
	w.m.pool.For(total, 1, w.mmFn)
	for i := range mm.jobs {
		mm.jobs[i] = job{}
		mm.act[i] = nil
	}
	mm.x = nil
}

// convert returns the current input converted for W's vec-dot type,
// converting it on first use.
func (w *Workspace) convert(W *Matrix) *actBuf {
	mm := &w.mm
	k := W.kern
	for i := 0; i < mm.nbufs; i++ {
		if mm.bufs[i].vdt == k.VecDotType {
			return &mm.bufs[i]
		}
	}
	b := &mm.bufs[mm.nbufs]
	mm.nbufs++
	b.vdt = k.VecDotType
	if k.VecDotType == tensor.F32 {
		// F32 weights multiply the float32 input as it is.
		b.data, b.stride = tensor.BytesOfF32(mm.x), 4*mm.n
		return b
	}
	stride, err := k.ActType.RowBytes(mm.n)
	if err != nil {
		panic("model: " + W.Name + ": " + err.Error()) // shapes are checked at load
	}
	need := stride * mm.T
	if len(b.mem)*8 < need {
		// Grown to the largest input seen, kept for later passes.
		b.mem = make([]uint64, (need+7)/8)
	}
	b.data = tensor.BytesOfU64(b.mem)[:need]
	b.stride = stride
	mm.cur, mm.curK = b, k
	if mm.T == 1 {
		w.convertRows(0, 0, 1)
	} else {
		w.m.pool.For(mm.T, 4, w.convFn)
	}
	mm.cur, mm.curK = nil, nil
	return b
}

// convertRows converts input rows [lo, hi) for the current conversion.
func (w *Workspace) convertRows(_, lo, hi int) {
	mm := &w.mm
	b, n := mm.cur, mm.n
	for t := lo; t < hi; t++ {
		mm.curK.QuantizeAct(mm.x[t*n:(t+1)*n], b.data[t*b.stride:(t+1)*b.stride])
	}
}

// mulMatChunks computes chunks [lo, hi) of the product under way: each
// chunk is up to mm.rows rows of one matrix times every input row.
func (w *Workspace) mulMatChunks(worker, lo, hi int) {
	mm := &w.mm
	j := 0
	for u := lo; u < hi; u++ {
		for u >= mm.starts[j+1] {
			j++
		}
		jb := &mm.jobs[j]
		W := jb.W
		r0 := (u - mm.starts[j]) * mm.rows
		r1 := min(r0+mm.rows, W.Rows)
		if w.m.exact {
			w.exactRows(worker, jb, r0, r1)
			continue
		}
		a := mm.act[j]
		for _, run := range mm.runs[j] {
			W.kern.MulMat(mm.n, W.data[r0*W.rowBytes:], W.rowBytes, r1-r0,
				a.data[run.lo*a.stride:], a.stride, run.hi-run.lo, jb.dst[run.lo*W.Rows+r0:], W.Rows, run.order)
		}
	}
}

// exactRows is the exact mode's product for rows [r0, r1): each weight row
// is dequantized to float32 once and dotted with every input row.
func (w *Workspace) exactRows(worker int, jb *job, r0, r1 int) {
	mm := &w.mm
	W, n := jb.W, mm.n
	dot := w.m.vec.DotF32
	for r := r0; r < r1; r++ {
		row := W.Row(r, w.rowBuf[worker])
		for t := 0; t < mm.T; t++ {
			jb.dst[t*W.Rows+r] = dot(row, mm.x[t*n:(t+1)*n])
		}
	}
}
