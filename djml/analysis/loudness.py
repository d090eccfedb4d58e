"""Loudness the way DJ software gain-matches: ITU-R BS.1770-4 / EBU R128 integrated
loudness (LUFS), EBU Tech 3342 loudness range (LRA) and a true-peak estimate (dBTP).

Fed from the decoder's single pass (:class:`LoudnessMeter`, one call per native block of
every channel at the file's own rate), so no file is read twice.

Why the K-weighting filter is not ``scipy.signal.sosfilt``: importing scipy.signal costs
~0.5 s CPU in every fresh worker, and its generic loop is slow. The two biquads run in a
few lines of C (``_loops.c``, built with the package, loaded by :mod:`djml.analysis.native`) that filter
two channels and both halves of each block side by side in vectors, in double precision, and
return only what the meter needs, the K-weighted energy of each row of samples. Where the C file was not built (no compiler at install time),
:class:`BlockFilter` computes the same energies with numpy: the signal is cut into rows of L
samples; each row's response is its zero-state part (a product with the L x L
impulse-response Toeplitz matrix, which BLAS runs at tens of GFLOP/s) plus the response to
the filter state at the row's start; those states come from one product per group of rows
and a doubling scan over the groups. Both equal the sequential filter to rounding (tests
compare them with each other and with scipy.signal.sosfilt); the C loop costs about a
third to a quarter of the numpy one (docs/analysis.md, "Loudness cost").

Definitions (all from the standards, constants below):

* K-weighting: the high-shelf and high-pass biquads are derived for the file's own
  sample rate from their analog prototypes (the constants reproduce BS.1770's 48 kHz
  coefficients exactly; the same derivation libebur128 uses).
* Channel weights: 1.0 for mono, stereo and L/R/C; 1.41 for the surrounds and 0 for the
  LFE of a 6-channel (5.1, WAV order L R C LFE Ls Rs) file; other layouts weigh every
  channel 1.0. A mono file counts its one channel once (it reads ~3 LU below the same
  audio as a two-channel file, as in BS.1770, pyloudnorm and ffmpeg's ebur128).
* Integrated: 400 ms blocks every 100 ms (75 % overlap), absolute gate -70 LUFS, relative
  gate -10 LU below the mean of the blocks above the absolute gate; LUFS = -0.691 + 10
  log10(mean square). None when no block passes (silence, or audio shorter than 400 ms).
* LRA: 3 s short-term blocks every 100 ms, absolute gate -70 LUFS, relative gate -20 LU,
  LRA = 95th - 10th percentile of the remaining short-term loudness (nearest rank, as
  ffmpeg's ebur128: the values at ranks round(0.10 n) and round(0.95 n)). None when no
  3 s block passes.
* True peak: the signal 4x oversampled by a 12-tap-per-phase Kaiser-windowed sinc (BS.1770
  Annex 2's method, not its exact table). An *estimate*: per ~6 s native block only the
  TRUE_PEAK_ROWS rows with the most K-weighted energy are oversampled (oversampling
  everything costs more than the rest of the analysis), and never the file's last row
  (~1 ms, which has no samples after it); never below the sample peak.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from djml.analysis import native

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
LRA_PERCENTILES = (10.0, 95.0)
BLOCK_STEPS = 4             # 400 ms gating blocks
SHORT_TERM_STEPS = 30       # 3 s short-term blocks (LRA)
LUFS_OFFSET = -0.691
OVERSAMPLE = 4
TRUE_PEAK_TAPS = 12         # per phase
TRUE_PEAK_ROWS = 48         # most energetic rows oversampled per native block
_KAISER_BETA = 6.0
_ROW_TARGET = 48            # rows of ~48 samples: measured fastest with GROUP = 8

# BS.1770-4 K-weighting as analog prototypes (f0 Hz, gain dB, Q): these reproduce the
# standard's 48 kHz coefficients exactly when derived at 48 kHz.
_SHELF = (1681.974450955533, 3.999843853973347, 0.7071752369554196)
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS = (38.13547087602444, 0.5003270373238773)


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS), loudness range (LU), true peak (dBTP); None: see module."""

    integrated: float | None
    range: float | None
    true_peak_db: float | None


@lru_cache(maxsize=16)
def _k_weighting(sample_rate: int) -> tuple:
    return tuple(map(tuple, k_weighting(sample_rate)))


def k_weighting(sample_rate: int) -> np.ndarray:
    """The two K-weighting biquads for ``sample_rate`` as second-order sections
    (rows b0 b1 b2 a0 a1 a2, a0 = 1): high shelf, then high pass."""
    f0, gain_db, q = _SHELF
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** _SHELF_VB_EXPONENT
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = _HIGHPASS
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def channel_weights(channels: int) -> np.ndarray:
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


@lru_cache(maxsize=16)
def step_frames(sample_rate: int) -> int:
    """Samples per 100 ms step: exact when the rate is divisible by 10, else the nearest
    count that splits into rows (11025 Hz: 1102 samples, 99.95 ms)."""
    exact = sample_rate / 10
    return min((n for n in range(max(1, int(exact) - 8), int(exact) + 9) if _divisors(n)),
               key=lambda n: (abs(n - exact), n), default=max(1, round(exact)))


def _divisors(step: int) -> list[int]:
    return [d for d in range(16, 257) if step % d == 0]


@lru_cache(maxsize=16)
def row_length(step: int) -> int:
    """The divisor of the step closest to ~48 samples: rows never straddle a step."""
    divisors = _divisors(step)
    return min(divisors, key=lambda d: (abs(d - _ROW_TARGET), d)) if divisors else step


def _state_space(sos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(A, B, C, D) of the cascaded sections, each in transposed direct form II."""
    a_mat, b_vec, c_vec, d = np.zeros((0, 0)), np.zeros(0), np.zeros(0), 1.0
    for b0, b1, b2, _a0, a1, a2 in sos:
        ai = np.array([[-a1, 1.0], [-a2, 0.0]])
        bi = np.array([b1 - a1 * b0, b2 - a2 * b0])
        ci = np.array([1.0, 0.0])
        n = len(b_vec)
        a_new = np.zeros((n + 2, n + 2))
        a_new[:n, :n] = a_mat
        a_new[n:, n:] = ai
        a_new[n:, :n] = np.outer(bi, c_vec)
        b_vec = np.concatenate([b_vec, bi * d])
        c_vec = np.concatenate([b0 * c_vec, ci])
        d = b0 * d
        a_mat = a_new
    return a_mat, b_vec, c_vec, d


@lru_cache(maxsize=8)
def _design(sos: tuple, length: int, group: int) -> tuple[np.ndarray, ...]:
    """The block filter's matrices (cached: one-shots are analysed by the hundred).

    inject (L x n): row -> push on the state; response ((L + n) x L): [row | state at its
    start] -> output; within (g n x g n): pushes of a group -> states after each of its
    rows from a zero start; from_start (n x g n): a group's entering state -> the same;
    and P^g."""
    a_mat, b_vec, c_vec, d = _state_space(np.array(sos))
    n = len(b_vec)
    impulse = np.zeros(length)
    observe = np.zeros((length, n))          # y[i] += C A^i s
    inject = np.zeros((n, length))           # s_next += A^(L-1-j) B x[j]
    power = np.eye(n)
    v = b_vec.copy()
    impulse[0] = d
    for i in range(length):
        observe[i] = c_vec @ power
        power = a_mat @ power
        if i + 1 < length:
            impulse[i + 1] = c_vec @ v
            v = a_mat @ v
    v = b_vec.copy()
    for j in range(length - 1, -1, -1):
        inject[:, j] = v
        v = a_mat @ v
    lags = np.arange(length)[:, None] - np.arange(length)[None, :]
    toeplitz = np.where(lags >= 0, impulse[np.clip(lags, 0, None)], 0.0)
    powers = [np.eye(n)]                     # P^0 .. P^g, P = A^L
    for _ in range(group):
        powers.append(power @ powers[-1])
    within = np.zeros((group * n, group * n))  # [(j, a), (i, b)] = (P^(i-j))[b, a] for i >= j
    for i in range(group):
        for j in range(i + 1):
            within[j * n:(j + 1) * n, i * n:(i + 1) * n] = powers[i - j].T
    return (np.ascontiguousarray(inject.T, dtype=np.float32),
            np.ascontiguousarray(np.vstack([toeplitz.T, observe.T]), dtype=np.float32),
            within, np.hstack([powers[i + 1].T for i in range(group)]), powers[group])


@lru_cache(maxsize=64)
def _group_power(sos: tuple, length: int, group: int, k: int, channels: int) -> np.ndarray:
    """(P^group)^(2^k) transposed, block-diagonal over the channels (the scan's steps)."""
    power = _design(sos, length, group)[4]
    for _ in range(k):
        power = power @ power
    return np.kron(np.eye(channels), power.T)


class BlockFilter:
    """An IIR filter (second-order sections) over (channels, rows, L) float32 arrays,
    exact and stateful across calls; see the module docstring for the method.

    Per call: the rows times G (A^(L-1-j) B) give each row's push on the state; the states
    after each row within groups of GROUP rows come from one product with a block-
    triangular matrix of powers of P = A^L; the group-to-group recurrence is a doubling
    scan over the few groups; then each row with the state at its start, times [T; O]
    (T: the L x L impulse-response Toeplitz matrix, O: C A^i), is its response."""

    GROUP = 8

    def __init__(self, sos: np.ndarray | tuple, channels: int, length: int) -> None:
        self._key = (tuple(map(tuple, sos)), length, self.GROUP)
        self._inject_t, self._response, self._within, self._from_start, _ = _design(*self._key)
        self.length, self.order, self.channels = length, self._inject_t.shape[1], channels
        self.state = np.zeros((channels, self.order))

    def _group_power(self, k: int) -> np.ndarray:
        return _group_power(*self._key, k, self.channels)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """Filter ``rows`` (channels, m, L) float32 that continue the previous call."""
        channels, m, length = rows.shape
        n, g = self.order, self.GROUP
        groups = -(-m // g)
        pushes = np.zeros((channels, groups * g, n))      # float64 from here: the states carry
        pushes[:, :m] = rows @ self._inject_t               # the high-pass's slow modes
        after = (pushes.reshape(channels * groups, g * n) @ self._within).reshape(channels, groups, g * n)
        ends = np.ascontiguousarray(after[:, :, (g - 1) * n:].transpose(1, 0, 2)).reshape(groups, channels * n)
        starts = np.empty_like(ends)         # the state entering each group
        starts[0] = self.state.reshape(-1)
        if groups > 1:
            # entering group i+1 = sum_{j<=i} Pg^(i-j) ends[j] + Pg^(i+1) state: a scan
            carry = ends[:-1].copy()
            carry[0] += starts[0] @ self._group_power(0)
            step, k = 1, 0
            while step < groups - 1:
                carry[step:] += carry[:-step] @ self._group_power(k)
                step, k = step * 2, k + 1
            starts[1:] = carry
        entering = starts.reshape(groups, channels, n).transpose(1, 0, 2)
        after += entering @ self._from_start                          # states after each row
        after = after.reshape(channels, groups * g, n)
        self.state = after[:, m - 1].copy()
        extended = np.empty((channels, m, length + n), np.float32)   # [row | state at its start]
        extended[:, :, :length] = rows
        extended[:, 0, length:] = entering[:, 0]
        extended[:, 1:, length:] = after[:, : m - 1]
        return (extended.reshape(channels * m, length + n) @ self._response).reshape(channels, m, length)


def compiled_filter() -> ctypes._CFuncPtr | None:
    """``djml_kweight_rows`` of the built library, or None."""
    loops = native.library()
    return None if loops is None else loops.djml_kweight_rows


@lru_cache(maxsize=16)
def settle_samples(sos: tuple) -> int:
    """Samples after which the filter's response to its starting state is below 1e-22 of
    that state (the slowest pole's radius r: n with n r^n < 1e-22): the C loop starts a long
    block's second half from zero and filters this many of its samples again."""
    radius = max(float(np.abs(np.roots(section[3:])).max()) for section in sos)
    low, high = 0, 1                      # n r^n falls for n > -1/ln r: bracket, then bisect
    while high * radius ** high >= 1e-22:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if mid * radius ** mid >= 1e-22 else (low, mid)
    return high


class CompiledEnergy:
    """K-weighted energy per row with the C loop: same interface as :class:`BlockEnergy`."""

    def __init__(self, function: ctypes._CFuncPtr, sos: tuple, weights: np.ndarray, channels: int) -> None:
        self._function = function
        self._sos = np.ascontiguousarray(sos, dtype=np.float64).reshape(-1)
        self._weights = np.ascontiguousarray(weights, dtype=np.float64)
        self._state = np.zeros(4 * channels)
        self._settle = settle_samples(sos)     # cached per rate: one-shots come by the hundred

    def __call__(self, frames: np.ndarray, row: int, scale: float) -> np.ndarray:
        """``frames``: (m * row, channels) float32, the decoder's interleaved layout (any
        strides that are whole samples: a transposed planar buffer works as well)."""
        if frames.dtype != np.float32 or frames.strides[0] % 4 or frames.strides[1] % 4:
            frames = np.ascontiguousarray(frames, dtype=np.float32)
        count, channels = frames.shape
        energy = np.empty(count // row)
        self._function(frames.ctypes.data, channels, frames.strides[1] // 4, frames.strides[0] // 4, count, row,
                       self._settle, self._sos.ctypes.data, self._weights.ctypes.data, scale,
                       self._state.ctypes.data, energy.ctypes.data)
        return energy


class BlockEnergy:
    """K-weighted energy per row with numpy (:class:`BlockFilter`), where C is not built."""

    def __init__(self, sos: tuple, weights: np.ndarray, channels: int, row: int) -> None:
        self._filter = BlockFilter(sos, channels, row)
        self._weights = weights

    def __call__(self, frames: np.ndarray, row: int, scale: float) -> np.ndarray:
        """Same as :class:`CompiledEnergy` (the rows are made planar first)."""
        planar = np.ascontiguousarray(frames.T, dtype=np.float32)
        weighted = self._filter(planar.reshape(planar.shape[0], -1, row))
        energy = np.einsum("cml,cml->cm", weighted, weighted).astype(np.float64)   # (channels, m)
        return (self._weights @ energy) * (scale * scale)


def row_energy_meter(sample_rate: int, channels: int, row: int) -> CompiledEnergy | BlockEnergy:
    """The fastest available K-weighted row-energy computation for this layout."""
    sos, weights = _k_weighting(sample_rate), channel_weights(channels)
    function = compiled_filter()
    if function is not None:
        return CompiledEnergy(function, sos, weights, channels)
    return BlockEnergy(sos, weights, channels, row)


@lru_cache(maxsize=1)
def _phase_taps() -> np.ndarray:
    """(3, TRUE_PEAK_TAPS) float32: the taps of the three oversampled points between a
    pair of samples, over a window of TRUE_PEAK_TAPS samples (the left sample is its
    TRUE_PEAK_TAPS/2-th); phase 0 is the sample itself."""
    half = TRUE_PEAK_TAPS // 2
    j = np.arange(-half + 1, half + 1)                     # taps around the left sample
    phases = []
    for p in range(1, OVERSAMPLE):
        t = p / OVERSAMPLE - j                             # distance of the point to each tap
        kaiser = np.i0(_KAISER_BETA * np.sqrt(1.0 - (t / half) ** 2)) / np.i0(_KAISER_BETA)
        taps = np.sinc(t) * kaiser
        phases.append(taps / taps.sum())                   # unit gain at DC
    return np.ascontiguousarray(phases, dtype=np.float32)


@lru_cache(maxsize=8)
def _interpolator(row: int) -> np.ndarray:
    """((row + taps - 1) x 3*row) matrix: a row of samples with its context -> the three
    oversampled values between each pair (the numpy path of :func:`window_peak`)."""
    matrix = np.zeros((row + TRUE_PEAK_TAPS - 1, 3 * row), np.float32)
    for p, taps in enumerate(_phase_taps()):
        for i in range(row):
            matrix[i: i + TRUE_PEAK_TAPS, 3 * i + p] = taps
    return matrix


def window_peak(frames: np.ndarray, starts: np.ndarray, row: int) -> float:
    """Largest |oversampled value| over ``row`` points from each window start (a frame
    index into the C-contiguous (frames, channels) ``frames``; a window spans row +
    TRUE_PEAK_TAPS - 1 frames), every channel: C where built (a few multiply-adds per
    point, no copies), else gathered windows times :func:`_interpolator`."""
    if not len(starts):
        return 0.0
    loops = native.library()
    if loops is not None and row <= 256:                  # the C loop's window buffer
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        taps = _phase_taps()
        return float(loops.djml_true_peak(frames.ctypes.data, frames.shape[1], starts.ctypes.data, len(starts),
                                          row, taps.ctypes.data, taps.shape[1], taps.shape[0]))
    windows = frames[starts[:, None] + np.arange(row + TRUE_PEAK_TAPS - 1)]      # (n, width, channels)
    values = windows.transpose(0, 2, 1).reshape(-1, windows.shape[1]) @ _interpolator(row)
    return float(np.abs(values).max())


class LoudnessMeter:
    """Streaming BS.1770 meter: :meth:`add` each native block as the decoder holds it,
    interleaved, then :meth:`result`. Blocks of a multiple of :attr:`row` frames are
    measured in place; any other length carries its last partial row to the next call."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.step = step_frames(sample_rate)
        self.row = row_length(self.step)
        self.rows_per_step = self.step // self.row
        self._energy = row_energy_meter(sample_rate, channels, self.row)
        self._carry = np.zeros((0, channels), np.float32)   # frames of a row not yet complete
        self._row_energy = np.zeros(0)       # rows not yet forming a whole step
        self._steps: list[np.ndarray] = []
        self._tail = np.zeros((self.row + TRUE_PEAK_TAPS // 2 - 1, channels), np.float32)
        self._true_peak = 0.0

    def add(self, block: np.ndarray, scale: float = 1.0) -> None:
        """A (frames, channels) block of float values; ``scale`` converts them to [-1, 1)
        (1/32768 for int16 audio held as float values)."""
        if block.dtype != np.float32 or not block.flags.c_contiguous:
            block = np.ascontiguousarray(block, dtype=np.float32)
        start = 0
        if len(self._carry):
            start = self.row - len(self._carry)
            if len(block) < start:
                self._carry = np.concatenate([self._carry, block])
                return
            self._rows(np.concatenate([self._carry, block[:start]]), scale)
        whole = (len(block) - start) // self.row * self.row
        if whole:
            self._rows(block[start: start + whole], scale)
        self._carry = block[start + whole:].copy()

    def _rows(self, frames: np.ndarray, scale: float) -> None:
        """Whole rows: ``frames`` is (m * row, channels), C-contiguous."""
        row_energy = self._energy(frames, self.row, scale)
        self._true_peaks(frames, row_energy, scale)
        pending = np.concatenate([self._row_energy, row_energy])
        whole = len(pending) // self.rows_per_step * self.rows_per_step
        if whole:
            self._steps.append(pending[:whole].reshape(-1, self.rows_per_step).sum(axis=1))
        self._row_energy = pending[whole:]

    def _true_peaks(self, frames: np.ndarray, row_energy: np.ndarray, scale: float) -> None:
        """Oversample the rows with the most K-weighted energy. A row's points need
        TRUE_PEAK_TAPS/2 samples on either side, so each call also does the previous
        call's last row (from the kept tail) and leaves its own last row to the next."""
        row, m = self.row, len(row_energy)
        half = TRUE_PEAK_TAPS // 2
        picks = np.arange(m) if m <= TRUE_PEAK_ROWS else np.argpartition(row_energy, -TRUE_PEAK_ROWS)[-TRUE_PEAK_ROWS:]
        inner = np.sort(picks[(picks >= 1) & (picks < m - 1)])
        first = np.zeros(1, np.int64)
        # the previous call's last row: the tail, then the first samples of this call
        peak = window_peak(np.concatenate([self._tail, frames[:half]]), first, row)
        if m > 1 and 0 in picks:
            peak = max(peak, window_peak(np.concatenate([self._tail[row:], frames[: row + half]]), first, row))
        peak = max(peak, window_peak(frames, inner * row - (half - 1), row))
        before = frames[(m - 1) * row - (half - 1): (m - 1) * row] if m > 1 else self._tail[row:]
        self._tail = np.concatenate([before, frames[(m - 1) * row:]])
        self._true_peak = max(self._true_peak, peak * scale)

    def result(self, sample_peak: float) -> Loudness:
        """``sample_peak``: the largest |sample| (the decoder's), the true peak's floor."""
        steps = np.concatenate(self._steps) if self._steps else np.zeros(0)
        mean_square = steps / self.step
        peak = max(sample_peak, self._true_peak)
        return Loudness(
            integrated=integrated_loudness(mean_square),
            range=loudness_range(mean_square),
            true_peak_db=round(20.0 * math.log10(peak), 2) if peak > 0 else None,
        )


def _lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore"):
        return LUFS_OFFSET + 10.0 * np.log10(mean_square)


def _windows(step_mean_square: np.ndarray, steps: int) -> np.ndarray:
    """Mean square of every window of ``steps`` consecutive 100 ms steps."""
    if len(step_mean_square) < steps:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(step_mean_square)])
    return np.maximum(c[steps:] - c[:-steps], 0.0) / steps


def _gated(step_mean_square: np.ndarray, steps: int, relative_gate_lu: float) -> np.ndarray | None:
    """Mean squares of the ``steps``-long blocks that pass the absolute gate and then the gate
    ``relative_gate_lu`` below their mean (the two-stage gating BS.1770 and Tech 3342 share);
    None when no block passes the absolute gate."""
    blocks = _windows(np.asarray(step_mean_square, float), steps)
    loud = blocks[_lufs(blocks) > ABSOLUTE_GATE_LUFS]
    if len(loud) == 0:
        return None
    return loud[_lufs(loud) > _lufs(loud.mean()) + relative_gate_lu]


def integrated_loudness(step_mean_square: np.ndarray) -> float | None:
    """BS.1770-4 gated loudness (LUFS) from the weighted mean square of each 100 ms step."""
    gated = _gated(step_mean_square, BLOCK_STEPS, RELATIVE_GATE_LU)
    return None if gated is None else round(float(_lufs(gated.mean())), 2)


def loudness_range(step_mean_square: np.ndarray) -> float | None:
    """EBU Tech 3342 loudness range (LU) from the same 100 ms steps."""
    gated = _gated(step_mean_square, SHORT_TERM_STEPS, LRA_RELATIVE_GATE_LU)
    if gated is None:
        return None
    values = np.sort(_lufs(gated))
    low, high = (values[max(1, int(len(values) * p / 100 + 0.5)) - 1] for p in LRA_PERCENTILES)
    return round(float(high - low), 2)


def measure(samples: np.ndarray, sample_rate: int) -> Loudness:
    """Loudness of a whole (frames,) or (frames, channels) signal in [-1, 1]."""
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    meter = LoudnessMeter(sample_rate, x.shape[1])
    meter.add(x)
    return meter.result(float(np.abs(x).max()) if x.size else 0.0)
