// Philox4x32-10 (Salmon, Moraes, Dror, Shaw 2011), shared by the kernels that draw random numbers: a module that
// says `// uses: philox` gets this file appended (module-scope declarations may come after their use in WGSL, so the
// module's own line numbers stay as written).

// 32×32 → 64-bit product as (hi, lo) without 64-bit integers.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu; let a_hi = a >> 16u;
  let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let hi_lo = a_hi * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_hi = a_hi * b_hi;
  let cross = (lo_lo >> 16u) + (hi_lo & 0xffffu) + (lo_hi & 0xffffu);
  let hi = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mulhilo(0xD2511F53u, c.x);
    let p1 = mulhilo(0xCD9E8D57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

// Uniform in (0, 1]: 24 random bits, never 0 so a logarithm of it is finite.
fn unit(bits: u32) -> f32 {
  return (f32(bits >> 8u) + 1.0) / 16777216.0;
}

// Standard normal from two Philox words by Box–Muller, √(−2 ln u₀)·cos(2π u₁), with ln and cos computed here to f32
// accuracy: WGSL lets the builtins err by 2⁻²¹ (log) and 2⁻¹¹ (cos) absolute, which would make the draws differ by
// device and from the CPU's (src/attribution/philox.ts) by up to 3e-3.
fn box_muller(a: u32, b: u32) -> f32 {
  return sqrt(-2.0 * log_unit(unit(a))) * cos_turns(unit(b));
}

// ln u for a normal u > 0: u = m·2^e with m in [√½, √2), then e·ln 2 + 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172,
// by its series to s⁹ (the next term is below 2⁻³²); m − 1 is exact, so ln u near 1 keeps its relative accuracy.
fn log_unit(u: f32) -> f32 {
  let bits = bitcast<u32>(u);
  var e = f32(i32(bits >> 23u) - 127);
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.4142135) { m = 0.5 * m; e = e + 1.0; }
  let s = (m - 1.0) / (m + 1.0);
  let s2 = s * s;
  let atanh2 = s * (2.0 + s2 * (0.6666667 + s2 * (0.4 + s2 * (0.2857143 + s2 * 0.2222222))));
  return e * 0.6931472 + atanh2;
}

// cos(2π t) for t in [0, 1]: the nearest quarter turn q is split off exactly (r = t − q/4 in [−1/8, 1/8]), and
// cos or sin of x = 2π r in [−π/4, π/4] by Taylor series to x⁹ (error below 3e-8).
fn cos_turns(t: f32) -> f32 {
  let q = round(4.0 * t);
  let x = 6.2831855 * (t - 0.25 * q);
  let x2 = x * x;
  let c = 1.0 + x2 * (-0.5 + x2 * (0.041666668 + x2 * (-0.0013888889 + x2 * 0.0000248015873)));
  let s = x * (1.0 + x2 * (-0.16666667 + x2 * (0.008333334 + x2 * (-0.0001984127 + x2 * 0.0000027557319))));
  switch (u32(q) % 4u) {
    case 0u: { return c; }
    case 1u: { return -s; }
    case 2u: { return -c; }
    default: { return s; }
  }
}
