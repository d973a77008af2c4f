// The type a kernel stores its weights in (a `Weight` binding): f32, as the model gives them. Its twin,
// weights-f16.wgsl, makes the module's `+f16` variant (AdapterOptions.precision 'f16'), which reads them as f16.
alias Weight = f32;
