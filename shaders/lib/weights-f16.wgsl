// f16 weights (the `+f16` variants; needs `shader-f16`): half the bytes of each weight read. Kernels widen each
// weight to f32 before multiplying: an f16 × f16 product is exact in f32, so the one error is the weight's rounding.
alias Weight = f16;
