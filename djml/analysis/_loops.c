/* The per-sample loops of the decode pass, loaded with ctypes by djml.analysis.native
   (no Python API; where this file was not built, numpy does the same work, slower).

   1. djml_mix: the decoder's interleaved block to mono. numpy's add of two strided channel
      views runs element by element; this loop vectorises and rounds the same way
      (float32: the channels added in order, then one multiply), so the mono signal is
      bit-identical to numpy's.

   2. djml_kweight_rows: K-weighting energy for djml.analysis.loudness. Why C: the two biquads are a recursion, one sample after the other. numpy can only run
   them as block matrix products (loudness.BlockFilter, ~100 flops per sample); a plain loop
   costs a few cycles per sample. Independent recursions share vector instructions: the two
   channels of a pair, and a long block's two halves (4 lanes: interleaving alone, without
   wider vectors, measured no faster). The second half starts from a zero state; the filter
   forgets its state geometrically (its poles are inside the unit circle), so after
   `settle` samples the zero-start run equals the true one to double rounding, and only its
   first `settle` samples are filtered again, sequentially, from the first half's end state.

   Input: float32 samples, channel c's frame i at x[c * cstride + i * fstride]: the
   decoder's interleaved block as it is (cstride 1, fstride = channels), so no copy is made
   to put channels side by side; two sections (b0 b1 b2 a0 a1 a2 each, a0 = 1; shelf then
   high pass), a weight per channel and the filter state (4 doubles per channel, transposed
   direct form II, updated in place).
   Output: energy[r] = sum over channels of weight * sum of y^2 over row r, times scale^2
   (scale converts integer-valued samples to [-1, 1)). The recursion runs in double. */

#include <stdint.h>

typedef double pair __attribute__((vector_size(16)));   /* GCC / Clang vectors */
typedef double quad __attribute__((vector_size(32)));

/* One biquad step with y substituted into the state updates (k1 = b1 - a1 b0,
   k2 = b2 - a2 b0), transposed direct form II: the form the state is kept in between calls. */
#define SECTION(x, y, s1, s2, b0, k1, k2, a1, a2) \
    do {                                            \
        const __typeof__(s1) in_ = (x), old_ = s1;  \
        y = b0 * in_ + old_;                        \
        s1 = (k1 * in_ + s2) - a1 * old_;           \
        s2 = k2 * in_ - a2 * old_;                  \
    } while (0)

/* The same step with the recursion re-associated, for the loops. In SECTION's form
   s1(t+1) = [k1 x(t) + s2(t)] - a1 s1(t) waits for s2(t), itself a multiply-add on s1(t-1):
   three dependent multiply-adds every two steps. Written as s1(t+1) = [k1 x(t) + k2 x(t-1)
   - a2 s1(t-1)] - a1 s1(t), the bracket needs nothing of the step before, so the
   loop-carried path is one multiply-add a step. `s1p` and `xp` hold s1(t-1) and x(t-1);
   s2 = k2 xp - a2 s1p recovers SECTION's state. Rounding differs from SECTION's order by
   ~1e-13 of a row's energy. */
#define CHAIN(x, y, s1, s1p, xp, b0, k1, k2, a1, a2)                      \
    do {                                                                  \
        const __typeof__(s1) in_ = (x), w_ = (k1 * in_ + k2 * xp) - a2 * s1p; \
        y = b0 * in_ + s1;                                                \
        s1p = s1;                                                         \
        xp = in_;                                                         \
        s1 = w_ - a1 * s1;                                                \
    } while (0)

/* Rows [r0, r1) (r1 > r0) of both sections on vectors of type T, from the state in p1 p2 q1
   q2: the first step in SECTION's form (it takes s2 from the state), the rest with CHAIN,
   then s2 back from the chain. LOAD(i) gives frame i's vector; ROW_DONE(r, e) receives
   each row's sums of z^2. Pairs and quads share it. */
#define RUN_ROWS(T, r0, r1, row, LOAD, ROW_DONE)                                     \
    do {                                                                              \
        T xp_, pp_, yp_, qp_, e_ = (T){0};                                            \
        {                                                                             \
            const T in0_ = LOAD((r0) * (row));                                        \
            T y0_, z0_;                                                               \
            xp_ = in0_; pp_ = p1;                                                     \
            SECTION(in0_, y0_, p1, p2, b0, k1, k2, a1, a2);                           \
            yp_ = y0_; qp_ = q1;                                                      \
            SECTION(y0_, z0_, q1, q2, c0, l1, l2, d1, d2);                            \
            e_ += z0_ * z0_;                                                          \
        }                                                                             \
        int64_t from_ = (r0) * (row) + 1;                                             \
        for (int64_t r_ = (r0); r_ < (r1); r_++) {                                    \
            for (int64_t i_ = from_; i_ < (r_ + 1) * (row); i_++) {                   \
                T y_, z_;                                                             \
                CHAIN(LOAD(i_), y_, p1, pp_, xp_, b0, k1, k2, a1, a2);                \
                CHAIN(y_, z_, q1, qp_, yp_, c0, l1, l2, d1, d2);                      \
                e_ += z_ * z_;                                                        \
            }                                                                         \
            from_ = (r_ + 1) * (row);                                                 \
            ROW_DONE(r_, e_);                                                         \
            e_ = (T){0};                                                              \
        }                                                                             \
        p2 = k2 * xp_ - a2 * pp_;                                                     \
        q2 = l2 * yp_ - d2 * qp_;                                                     \
    } while (0)

typedef struct { pair b0, k1, k2, a1, a2, c0, l1, l2, d1, d2; } coefs;
typedef struct { pair p1, p2, q1, q2; } pstate;        /* both sections, a pair of channels */

/* Rows [r0, r1) of a channel pair in sequence: energy[r] += wa * ea + wb * eb. */
static void pair_rows(const float *xa, const float *xb, int64_t fs, int64_t r0, int64_t r1, int64_t row,
                      const coefs *c, pstate *s, double wa, double wb, double *energy)
{
    if (r1 <= r0)
        return;
    const pair b0 = c->b0, k1 = c->k1, k2 = c->k2, a1 = c->a1, a2 = c->a2;
    const pair c0 = c->c0, l1 = c->l1, l2 = c->l2, d1 = c->d1, d2 = c->d2;
    pair p1 = s->p1, p2 = s->p2, q1 = s->q1, q2 = s->q2;
#define PAIR_LOAD(i) ((pair){(double)xa[(i) * fs], (double)xb[(i) * fs]})
#define PAIR_DONE(r, e) (energy[r] += wa * (e)[0] + wb * (e)[1])
    RUN_ROWS(pair, r0, r1, row, PAIR_LOAD, PAIR_DONE);
#undef PAIR_LOAD
#undef PAIR_DONE
    *s = (pstate){p1, p2, q1, q2};
}

#define SPLAT(v) ((quad){(v)[0], (v)[0], (v)[0], (v)[0]})
#define JOIN(a, b) ((quad){(a)[0], (a)[1], (b)[0], (b)[1]})

/* Rows [0, h) from state s and rows [h, 2h) from state second, interleaved (one vector:
   channel a, channel b of the first half, then of the second); the second half's first
   `settle` rows are not counted (the caller filters them again). */
static inline __attribute__((always_inline)) void
halves(const float *xa, const float *xb, int64_t fs, int64_t h, int64_t settle, int64_t row,
       const coefs *c, pstate *s, pstate *second, double wa, double wb, double *energy)
{
    const quad b0 = SPLAT(c->b0), k1 = SPLAT(c->k1), k2 = SPLAT(c->k2), a1 = SPLAT(c->a1), a2 = SPLAT(c->a2);
    const quad c0 = SPLAT(c->c0), l1 = SPLAT(c->l1), l2 = SPLAT(c->l2), d1 = SPLAT(c->d1), d2 = SPLAT(c->d2);
    quad p1 = JOIN(s->p1, second->p1), p2 = JOIN(s->p2, second->p2);
    quad q1 = JOIN(s->q1, second->q1), q2 = JOIN(s->q2, second->q2);
    const int64_t off = h * row * fs;
#define QUAD_LOAD(i) ((quad){(double)xa[(i) * fs], (double)xb[(i) * fs], (double)xa[(i) * fs + off], \
                             (double)xb[(i) * fs + off]})
#define QUAD_DONE(r, e)                                   \
    do {                                                  \
        energy[r] += wa * (e)[0] + wb * (e)[1];           \
        if ((r) >= settle)                                \
            energy[h + (r)] += wa * (e)[2] + wb * (e)[3]; \
    } while (0)
    RUN_ROWS(quad, 0, h, row, QUAD_LOAD, QUAD_DONE);
#undef QUAD_LOAD
#undef QUAD_DONE
    s->p1 = (pair){p1[0], p1[1]}; s->p2 = (pair){p2[0], p2[1]};
    s->q1 = (pair){q1[0], q1[1]}; s->q2 = (pair){q2[0], q2[1]};
    second->p1 = (pair){p1[2], p1[3]}; second->p2 = (pair){p2[2], p2[3]};
    second->q1 = (pair){q1[2], q1[3]}; second->q2 = (pair){q2[2], q2[3]};
}

/* Any layout, in the compiler's baseline vectors (SSE2 on x86-64: two lanes a step). */
static void halves_plain(const float *xa, const float *xb, int64_t fs, int64_t h, int64_t settle, int64_t row,
                         const coefs *c, pstate *s, pstate *second, double wa, double wb, double *energy)
{
    halves(xa, xb, fs, h, settle, row, c, s, second, wa, wb, energy);
}

/* Where the CPU has them (checked once, at the first call), AVX2 holds all four lanes in one
   vector and FMA fuses each multiply-add: the compiler contracts a * b + c (GNU C's default
   -ffp-contract=fast; Clang's "on" does it within an expression, as SECTION's are), which
   halves the operations a step. A fused multiply-add rounds once instead of twice, so the
   two copies can differ in the last bits of a row's energy (~1e-16 of it): far below the
   0.01 LU a reading is stored to. The frame stride of interleaved stereo, the usual block,
   is a constant in its own copy. */
#if defined(__x86_64__) && defined(__GNUC__)
#define FAST_TARGET __attribute__((target("avx2,fma")))

FAST_TARGET static void halves_fast_stereo(const float *xa, const float *xb, int64_t h, int64_t settle,
                                           int64_t row, const coefs *c, pstate *s, pstate *second, double wa,
                                           double wb, double *energy)
{
    halves(xa, xb, 2, h, settle, row, c, s, second, wa, wb, energy);
}

FAST_TARGET static void halves_fast_any(const float *xa, const float *xb, int64_t fs, int64_t h, int64_t settle,
                                        int64_t row, const coefs *c, pstate *s, pstate *second, double wa,
                                        double wb, double *energy)
{
    halves(xa, xb, fs, h, settle, row, c, s, second, wa, wb, energy);
}

static int fast_cpu(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return known;
}
#endif

static void pair_halves(const float *xa, const float *xb, int64_t fs, int64_t h, int64_t settle, int64_t row,
                        const coefs *c, pstate *s, pstate *second, double wa, double wb, double *energy)
{
#ifdef FAST_TARGET
    if (fast_cpu()) {
        if (fs == 2 && xb == xa + 1)
            halves_fast_stereo(xa, xb, h, settle, row, c, s, second, wa, wb, energy);
        else
            halves_fast_any(xa, xb, fs, h, settle, row, c, s, second, wa, wb, energy);
        return;
    }
#endif
    halves_plain(xa, xb, fs, h, settle, row, c, s, second, wa, wb, energy);
}

void djml_kweight_rows(const float *x, int64_t channels, int64_t cstride, int64_t fstride, int64_t frames,
                       int64_t row,
                       int64_t settle, const double *sos, const double *weights, double scale,
                       double *state, double *energy)
{
    const double b0 = sos[0], a1 = sos[4], a2 = sos[5], c0 = sos[6], d1 = sos[10], d2 = sos[11];
    const coefs k = {{b0, b0}, {sos[1] - a1 * b0, sos[1] - a1 * b0}, {sos[2] - a2 * b0, sos[2] - a2 * b0},
                     {a1, a1}, {a2, a2}, {c0, c0}, {sos[7] - d1 * c0, sos[7] - d1 * c0},
                     {sos[8] - d2 * c0, sos[8] - d2 * c0}, {d1, d1}, {d2, d2}};
    const int64_t rows = frames / row, h = rows / 2;
    const int64_t settle_rows = (settle + row - 1) / row;
    const double scale2 = scale * scale;

    for (int64_t r = 0; r < rows; r++)
        energy[r] = 0.0;
    for (int64_t c = 0; c < channels; c += 2) {
        /* an odd last channel is paired with itself at weight 0 */
        const int64_t c2 = c + 1 < channels ? c + 1 : c;
        const float *xa = x + c * cstride, *xb = x + c2 * cstride;
        double *sa = state + 4 * c, *sb = state + 4 * c2;
        const double wa = weights[c] * scale2, wb = c2 != c ? weights[c2] * scale2 : 0.0;
        pstate s = {{sa[0], sb[0]}, {sa[1], sb[1]}, {sa[2], sb[2]}, {sa[3], sb[3]}};
        if (h > 2 * settle_rows) {
            pstate second = {{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}};
            pair_halves(xa, xb, fstride, h, settle_rows, row, &k, &s, &second, wa, wb, energy);
            pair_rows(xa, xb, fstride, h, h + settle_rows, row, &k, &s, wa, wb, energy);   /* again, true state */
            s = second;
            pair_rows(xa, xb, fstride, 2 * h, rows, row, &k, &s, wa, wb, energy);          /* an odd last row */
        } else {
            pair_rows(xa, xb, fstride, 0, rows, row, &k, &s, wa, wb, energy);
        }
        sa[0] = s.p1[0]; sa[1] = s.p2[0]; sa[2] = s.q1[0]; sa[3] = s.q2[0];
        if (c2 != c) {
            sb[0] = s.p1[1]; sb[1] = s.p2[1]; sb[2] = s.q1[1]; sb[3] = s.q2[1];
        }
    }
}

void djml_mix(const float *x, int64_t frames, int64_t channels, float factor, float *mono)
{
    if (channels == 2) {
        for (int64_t i = 0; i < frames; i++)
            mono[i] = (x[2 * i] + x[2 * i + 1]) * factor;
        return;
    }
    for (int64_t i = 0; i < frames; i++) {
        float m = x[i * channels];
        for (int64_t c = 1; c < channels; c++)
            m += x[i * channels + c];
        mono[i] = m * factor;
    }
}

/* djml_true_peak: the largest |value| of the 4x oversampled signal between the samples of
   `count` frames from each window start (frame index) in `starts`, every channel. Phase p's
   value between frames i and i + 1 of a window is sum over k of taps[p][k] * x[i + k]
   (`ntaps` taps a phase, `phases` phases; the window holds ntaps / 2 - 1 frames before
   its first point's left frame). Each window's channel is copied out first, so the
   innermost loop runs over the points with unit stride (the compiler vectorises it) and
   every point's sum is its own: float32 like the numpy product it replaces. */
#define PEAK_POINTS 256

typedef float octet __attribute__((vector_size(32)));
typedef int32_t mask8 __attribute__((vector_size(32)));   /* lane comparisons: 0 or -1 */

/* The largest squared value of `count` oversampled points from each window start, per
   lane, into lanes[8] (memory, not a returned vector: the callers' vector ABIs differ);
   the caller takes the largest lane. */
static inline __attribute__((always_inline)) void
peak_lanes(const float *x, int64_t channels, const int64_t *starts, int64_t n, int64_t count,
           const float *taps, int64_t ntaps, int64_t phases, float *lanes)
{
    float window[PEAK_POINTS + 64 + 8] = {0.0f};
    const octet lane = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f};
    octet best = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t w = 0; w < n; w++) {
        for (int64_t c = 0; c < channels; c++) {
            const float *base = x + starts[w] * channels + c;
            for (int64_t i = 0; i < count + ntaps - 1; i++)
                window[i] = base[i * channels];
            for (int64_t p = 0; p < phases; p++) {
                const float *t = taps + p * ntaps;
                for (int64_t i = 0; i < count; i += 8) {      /* 8 points at once */
                    octet acc = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
                    for (int64_t k = 0; k < ntaps; k++) {
                        octet v;
                        __builtin_memcpy(&v, window + i + k, sizeof v);
                        acc += t[k] * v;
                    }
                    const mask8 inside = lane < (float)(count - i);   /* points past `count`: 0 */
                    const mask8 mag = (mask8)(acc * acc) & inside;
                    const mask8 larger = (octet)mag > best;
                    best = (octet)((mag & larger) | ((mask8)best & ~larger));
                }
            }
        }
    }
    __builtin_memcpy(lanes, &best, sizeof best);
}

static void peak_plain(const float *x, int64_t channels, const int64_t *starts, int64_t n, int64_t count,
                       const float *taps, int64_t ntaps, int64_t phases, float *lanes)
{
    peak_lanes(x, channels, starts, n, count, taps, ntaps, phases, lanes);
}

#ifdef FAST_TARGET
/* One vector of eight lanes and fused multiply-adds (see halves_fast_stereo): the
   oversampled values can differ in their last bit, far below the 0.01 dB stored. */
FAST_TARGET static void peak_fast(const float *x, int64_t channels, const int64_t *starts, int64_t n,
                                  int64_t count, const float *taps, int64_t ntaps, int64_t phases, float *lanes)
{
    peak_lanes(x, channels, starts, n, count, taps, ntaps, phases, lanes);
}
#endif

float djml_true_peak(const float *x, int64_t channels, const int64_t *starts, int64_t n, int64_t count,
                     const float *taps, int64_t ntaps, int64_t phases)
{
    if (count > PEAK_POINTS || ntaps > 64)
        return -1.0f;
    float lanes[8];
#ifdef FAST_TARGET
    if (fast_cpu())
        peak_fast(x, channels, starts, n, count, taps, ntaps, phases, lanes);
    else
#endif
        peak_plain(x, channels, starts, n, count, taps, ntaps, phases, lanes);
    float peak = 0.0f;
    for (int j = 0; j < 8; j++)
        peak = lanes[j] > peak ? lanes[j] : peak;
    return __builtin_sqrtf(peak);
}
