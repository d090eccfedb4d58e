/* K-weighting energy for djml.analysis.loudness, loaded with ctypes (no Python API).

   Why C: the two biquads are a recursion, one sample after the other. numpy can only run
   them as block matrix products (loudness.BlockFilter, ~100 flops per sample); a plain loop
   costs a few cycles per sample. Two channels are filtered in the same loop so that their
   independent recursions overlap in the CPU's pipeline.

   Input: planar float32 rows (channel c's samples at x + c * stride), the two sections
   (b0 b1 b2 a0 a1 a2 each, a0 = 1; shelf then high pass), a weight per channel and the
   filter state (4 doubles per channel, transposed direct form II, updated in place).
   Output: energy[r] = sum over channels of weight * sum of y^2 over row r, times scale^2
   (scale converts integer-valued samples to [-1, 1)). The recursion runs in double. */

#include <stdint.h>

typedef double pair __attribute__((vector_size(16)));   /* GCC / Clang vectors */

/* One biquad step with y substituted into the state updates (k1 = b1 - a1 b0,
   k2 = b2 - a2 b0): the state's own recursion is then one multiply-add long, and the
   output is computed beside it. */
#define SECTION(x, y, s1, s2, b0, k1, k2, a1, a2) \
    do {                                            \
        const __typeof__(s1) in_ = (x), old_ = s1;  \
        y = b0 * in_ + old_;                        \
        s1 = (k1 * in_ + s2) - a1 * old_;           \
        s2 = k2 * in_ - a2 * old_;                  \
    } while (0)

void djml_kweight_rows(const float *x, int64_t channels, int64_t stride, int64_t frames, int64_t row,
                       const double *sos, const double *weights, double scale,
                       double *state, double *energy)
{
    const double b0 = sos[0], a1 = sos[4], a2 = sos[5], b1 = sos[1] - a1 * b0, b2 = sos[2] - a2 * b0;
    const double c0 = sos[6], d1 = sos[10], d2 = sos[11], c1 = sos[7] - d1 * c0, c2 = sos[8] - d2 * c0;
    const int64_t rows = frames / row;
    const double scale2 = scale * scale;
    int64_t c = 0;

    for (int64_t r = 0; r < rows; r++)
        energy[r] = 0.0;
    for (; c + 1 < channels; c += 2) {           /* a pair of channels in one vector */
        const float *xa = x + c * stride, *xb = x + (c + 1) * stride;
        double *sa = state + 4 * c, *sb = state + 4 * (c + 1);
        const pair B0 = {b0, b0}, B1 = {b1, b1}, B2 = {b2, b2}, A1 = {a1, a1}, A2 = {a2, a2};
        const pair C0 = {c0, c0}, C1 = {c1, c1}, C2 = {c2, c2}, D1 = {d1, d1}, D2 = {d2, d2};
        pair p1 = {sa[0], sb[0]}, p2 = {sa[1], sb[1]}, q1 = {sa[2], sb[2]}, q2 = {sa[3], sb[3]};
        const double wa = weights[c] * scale2, wb = weights[c + 1] * scale2;
        for (int64_t r = 0; r < rows; r++) {
            pair e = {0.0, 0.0};
            for (int64_t i = r * row; i < (r + 1) * row; i++) {
                const pair in = {(double)xa[i], (double)xb[i]};
                pair y, z;
                SECTION(in, y, p1, p2, B0, B1, B2, A1, A2);
                SECTION(y, z, q1, q2, C0, C1, C2, D1, D2);
                e += z * z;
            }
            energy[r] += wa * e[0] + wb * e[1];
        }
        sa[0] = p1[0]; sa[1] = p2[0]; sa[2] = q1[0]; sa[3] = q2[0];
        sb[0] = p1[1]; sb[1] = p2[1]; sb[2] = q1[1]; sb[3] = q2[1];
    }
    for (; c < channels; c++) {
        const float *xa = x + c * stride;
        double *sa = state + 4 * c;
        double p1 = sa[0], p2 = sa[1], q1 = sa[2], q2 = sa[3];
        const double wa = weights[c] * scale2;
        for (int64_t r = 0; r < rows; r++) {
            double ea = 0.0;
            for (int64_t i = r * row; i < (r + 1) * row; i++) {
                double ya, za;
                SECTION((double)xa[i], ya, p1, p2, b0, b1, b2, a1, a2);
                SECTION(ya, za, q1, q2, c0, c1, c2, d1, d2);
                ea += za * za;
            }
            energy[r] += wa * ea;
        }
        sa[0] = p1; sa[1] = p2; sa[2] = q1; sa[3] = q2;
    }
}
