"""The compiled per-unit kernel (numba): every per-class number of a block in one loop per unit.

The numpy passes (block.py, classstats.py, sweep.py, topk.py) are the
reference. They work on whole (units x images) arrays, a few dozen memory
passes per block. This kernel gives the same arrays, bit for bit, visiting
each unit's images twice (class statistics and the floor count, then the
squared deviations) and its sorted values above the floor twice (runs, then
the pick of each class's best threshold):

- class sums add in numpy's own order: `ufunc.reduceat` starts from the
  segment's first value and adds numpy's pairwise sum of the rest (blocks of
  8 partial sums up to 128 values, halves above), which `_pairwise` repeats;
- the sort key packs the float32 descending code (block.py) above the rank
  of the image's index, so ties come out in image order, as top images want;
  a radix sort orders them;
- the floor (a ReLU's zeros) is counted per class, never sorted.

Only float32-exact activations (float16, float32, float64 that float32
holds) take this path; seldb.measures.compute falls back to numpy for the
rest. The kernel releases the GIL: blocks run on the import's worker threads.
seldb.measures.kernel_block lays blocks out for it and calls it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from seldb.measures.sweep import TIE


@njit(nogil=True, cache=True, inline="always")
def _term(row, i, mean, squares):
    v = np.float64(row[i]) + 0.0  # -0.0 becomes +0.0, as in the numpy block
    if squares:
        d = v - mean
        return d * d
    return v


@njit(nogil=True, cache=True)
def _pairwise(row, start, n, mean, squares):
    """numpy's pairwise summation (loops_utils.h: pairwise_sum) of n terms from `start`."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += _term(row, i, mean, squares)
        return res
    if n <= 128:
        r0, r1 = _term(row, start, mean, squares), _term(row, start + 1, mean, squares)
        r2, r3 = _term(row, start + 2, mean, squares), _term(row, start + 3, mean, squares)
        r4, r5 = _term(row, start + 4, mean, squares), _term(row, start + 5, mean, squares)
        r6, r7 = _term(row, start + 6, mean, squares), _term(row, start + 7, mean, squares)
        i = 8
        while i < n - n % 8:
            s = start + i
            r0 += _term(row, s, mean, squares)
            r1 += _term(row, s + 1, mean, squares)
            r2 += _term(row, s + 2, mean, squares)
            r3 += _term(row, s + 3, mean, squares)
            r4 += _term(row, s + 4, mean, squares)
            r5 += _term(row, s + 5, mean, squares)
            r6 += _term(row, s + 6, mean, squares)
            r7 += _term(row, s + 7, mean, squares)
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += _term(row, start + i, mean, squares)
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(row, start, half, mean, squares) + _pairwise(row, start + half, n - half, mean, squares)


@njit(nogil=True, cache=True)
def _segment_sum(row, start, n, mean, squares):
    """What np.add.reduceat gives for one segment: its first term plus the pairwise sum of the rest."""
    first = _term(row, start, mean, squares)
    if n == 1:
        return first
    return first + _pairwise(row, start + 1, n - 1, mean, squares)


@njit(nogil=True, cache=True, inline="always")
def _desc_code(bits):
    """block._float32_desc_codes for one value (-0.0 taken as +0.0)."""
    if bits == -2147483648:
        bits = 0
    if bits >= 0:
        return np.int64(0x7FFFFFFF) - bits
    return np.int64(bits) + (np.int64(1) << 32)


@njit(nogil=True, cache=True, inline="always")
def _code_value(code, bits_buf):
    """The activation a descending code stands for (block.CodeBook for float32 codes), as float64."""
    ascending = np.int64(0xFFFFFFFF) - code
    bits = ascending & 0x7FFFFFFF if ascending & 0x80000000 else ~ascending & 0xFFFFFFFF
    bits_buf[0] = np.int32(bits - (1 << 32) if bits >= 1 << 31 else bits)
    return np.float64(bits_buf.view(np.float32)[0])


@njit(nogil=True, cache=True)
def _class_pass(row, bits, u, lo, width, constant, layout, out, keys, floor_c, rank_bits):
    """Per class: sum, mean, std, min, max, first image at the max, zero counts, histogram; the
    sort keys of the values above the floor (returned: how many)."""
    class_start, class_n, rank_of_pos, image_of_pos = layout
    sums, means, stds, mins, maxs, first_at_max, n_nonzero, n_zero, hist = out
    n_bins = hist.shape[2]
    m = 0
    for c in range(class_n.size):
        n, s = class_n[c], class_start[c]
        floor_c[c] = 0
        if n == 0:
            continue
        total = _segment_sum(row, s, n, 0.0, False)
        mean = total / np.float64(n)
        sums[u, c], means[u, c] = total, mean
        if n >= 2:
            stds[u, c] = np.sqrt(_segment_sum(row, s, n, mean, True) / np.float64(n - 1))
        top, low, first, positive, zero = -np.inf, np.inf, np.int64(0), 0, 0
        for p in range(s, s + n):
            v = np.float64(row[p]) + 0.0
            if v > top:
                top, first = v, image_of_pos[p]
            elif v == top and image_of_pos[p] < first:
                first = image_of_pos[p]
            low = min(low, v)
            if v > 0:
                positive += 1
            elif v == 0:
                zero += 1
            if v == lo:
                floor_c[c] += 1
                continue
            keys[m] = (_desc_code(bits[p]) << rank_bits) | rank_of_pos[p]
            m += 1
            if not constant:
                hist[u, c, min(n_bins - 1, np.int64(np.floor((v - lo) / width)))] += 1
        hist[u, c, 0] += floor_c[c]
        maxs[u, c], mins[u, c], first_at_max[u, c] = top, low, first
        n_nonzero[u, c], n_zero[u, c] = positive, zero
    return m


@njit(nogil=True, cache=True)
def _radix_sort(keys, m, spare, counts):
    """Sort keys[:m] (non-negative, distinct) in place: LSD radix, 11-bit digits, skipping the digits
    every key shares; several times faster than np.sort at a unit's ~20,000 keys. `spare`: as long
    as keys; `counts`: 2048 slots."""
    if m < 2:
        return
    high = np.int64(0)
    for i in range(m):
        high |= keys[i]
    src, dst, swapped, shift = keys, spare, False, 0
    while (high >> shift) > 0:
        counts[:] = 0
        for i in range(m):
            counts[(src[i] >> shift) & 2047] += 1
        if counts.max() == m:
            shift += 11
            continue
        total = 0
        for d in range(2048):
            count = counts[d]
            counts[d] = total
            total += count
        for i in range(m):
            d = (src[i] >> shift) & 2047
            dst[counts[d]] = src[i]
            counts[d] += 1
        src, dst, swapped = dst, src, not swapped
        shift += 11
    if swapped:
        keys[:m] = src[:m]


@njit(nogil=True, cache=True)
def _runs(row, keys, m, lo, n_images, layout_pos, class_n, floor_c, runs, scratch, rank_bits):
    """Each (value, class) run in descending value order, then the floor runs: class, TP so far,
    images selected at its value, its value. Returns (runs, distinct values above the floor)."""
    label_of_rank = layout_pos[2]
    run_cls, run_tp, run_sel, run_val = runs
    count, touched, tp = scratch
    bits_buf = np.empty(1, dtype=np.int32)
    tp[:] = 0
    mask = (np.int64(1) << rank_bits) - 1
    n_runs, n_distinct, i = 0, 0, 0
    while i < m:
        code, j, n_touched = keys[i] >> rank_bits, i, 0
        while j < m and keys[j] >> rank_bits == code:
            c = label_of_rank[keys[j] & mask]  # one lookup in a small array: the loop's only scattered read
            if count[c] == 0:
                touched[n_touched] = c
                n_touched += 1
            count[c] += 1
            j += 1
        value = _code_value(code, bits_buf)
        for t in range(n_touched):
            c = touched[t]
            tp[c] += count[c]
            run_cls[n_runs], run_tp[n_runs], run_sel[n_runs], run_val[n_runs] = c, tp[c], j, value
            count[c] = 0
            n_runs += 1
        n_distinct += 1
        i = j
    for c in range(class_n.size):
        if floor_c[c] > 0:
            run_cls[n_runs], run_tp[n_runs], run_sel[n_runs], run_val[n_runs] = c, class_n[c], n_images, lo
            n_runs += 1
    return n_runs, n_distinct


@njit(nogil=True, cache=True, inline="always")
def _score(level, tp, sel, n_c, n_not, p_num, p_den):
    """Level 0: informedness; level l > 0: recall where precision >= p_num/p_den[l - 1], else NaN."""
    if level == 0:
        return tp / n_c - (sel - tp) / (n_not if n_not > 0 else np.nan)
    if tp * p_den[level - 1] >= p_num[level - 1] * sel:
        return tp / n_c
    return np.nan


@njit(nogil=True, cache=True)
def _pick(u, n_runs, runs, n_images, class_n, p_num, p_den, scratch, level_out, thresholds, mi_counts):
    """Per class and level: the first run (highest threshold) scoring within TIE of the class's max.
    Two passes over the runs, every level in each: the maxima, then the picks."""
    run_cls, run_tp, run_sel, run_val = runs
    best, picked = scratch
    n_levels = level_out.shape[0]
    best[:] = -np.inf
    picked[:] = -1
    for r in range(n_runs):
        c = run_cls[r]
        n_c = np.float64(class_n[c])
        for level in range(n_levels):
            score = _score(level, run_tp[r], run_sel[r], n_c, n_images - n_c, p_num, p_den)
            if not np.isnan(score) and score > best[level, c]:
                best[level, c] = score
    for r in range(n_runs):
        c = run_cls[r]
        n_c = np.float64(class_n[c])
        for level in range(n_levels):
            if picked[level, c] >= 0:
                continue
            score = _score(level, run_tp[r], run_sel[r], n_c, n_images - n_c, p_num, p_den)
            if not np.isnan(score) and score >= best[level, c] - TIE:
                picked[level, c] = r
                level_out[level, u, c], thresholds[level, u, c] = score, run_val[r]
                if level == 0:
                    mi_counts[0, u, c], mi_counts[1, u, c] = run_tp[r], run_sel[r]
    for level in range(1, n_levels):
        for c in range(class_n.size):
            if class_n[c] > 0 and picked[level, c] < 0:
                level_out[level, u, c] = -1.0


@njit(nogil=True, cache=True)
def _topk(u, keys, m, ks, n_images, class_n, floor_c, label_of_rank, rank_bits, scaled, tie_size, cnt):
    """topk.topk_counts for every k: counts above the k-th value and tied with it, per class."""
    mask = (np.int64(1) << rank_bits) - 1
    n_classes = class_n.size
    for ki in range(ks.size):
        k = min(ks[ki], n_images)
        above, tied = cnt[0], cnt[1]
        above[:] = 0
        tied[:] = 0
        if k <= m:
            kth = keys[k - 1] >> rank_bits
            for i in range(m):
                code = keys[i] >> rank_bits
                if code > kth:
                    break
                c = label_of_rank[keys[i] & mask]
                if code < kth:
                    above[c] += 1
                else:
                    tied[c] += 1
        else:
            for c in range(n_classes):
                above[c], tied[c] = class_n[c] - floor_c[c], floor_c[c]
        size, remaining = tied.sum(), k - above.sum()
        tie_size[ki, u] = size
        for c in range(n_classes):
            scaled[ki, u, c] = above[c] * size + remaining * tied[c]


@njit(nogil=True, cache=True)
def _top_images(u, row, keys, m, lo, layout_pos, image_of_pos, rank_bits, index, activation, label):
    """The most active images, ties by image index; the floor's images (when needed) in index order."""
    label_of_pos, pos_of_rank = layout_pos[0], layout_pos[1]
    take = min(index.shape[1], row.size)
    mask = (np.int64(1) << rank_bits) - 1
    n = 0
    for i in range(min(take, m)):
        pos = pos_of_rank[keys[i] & mask]
        index[u, n], activation[u, n], label[u, n] = image_of_pos[pos], np.float64(row[pos]) + 0.0, label_of_pos[pos]
        n += 1
    r = 0
    while n < take:
        pos = pos_of_rank[r]
        if np.float64(row[pos]) + 0.0 == lo:
            index[u, n], activation[u, n], label[u, n] = image_of_pos[pos], lo, label_of_pos[pos]
            n += 1
        r += 1


@njit(nogil=True, cache=True)
def measure_units(x, bits, layout, layout_pos, levels, stats_out, hist_out, sweep_out, topk_out, top_out, n_distinct):
    """Every unit of x (units x images, float32, classes contiguous); outputs pre-filled by the caller.

    levels: (top ks, precision numerators, their denominators, bits of an image rank)."""
    ks, p_num, p_den, rank_bits = levels
    hist_lo, hist_width = hist_out
    class_start, class_n, rank_of_pos, image_of_pos = layout
    label_of_rank = layout_pos[2]
    n_units, n_images = x.shape
    n_classes = class_n.size
    keys, spare = np.empty(n_images, dtype=np.int64), np.empty(n_images, dtype=np.int64)
    digit_counts = np.zeros(2048, dtype=np.int64)
    floor_c = np.zeros(n_classes, dtype=np.int64)
    runs = (
        np.empty(n_images + n_classes, dtype=np.int64),
        np.empty(n_images + n_classes, dtype=np.int64),
        np.empty(n_images + n_classes, dtype=np.int64),
        np.empty(n_images + n_classes, dtype=np.float64),
    )
    scratch = (np.zeros(n_classes, np.int64), np.zeros(n_classes, np.int64), np.zeros(n_classes, np.int64))
    n_levels = p_num.size + 1
    pick_scratch = (np.empty((n_levels, n_classes)), np.empty((n_levels, n_classes), np.int64))
    counts = np.zeros((2, n_classes), dtype=np.int64)
    hist = stats_out[8]
    n_bins = hist.shape[2]
    for u in range(n_units):
        row, brow = x[u], bits[u]
        lo, hi = np.inf, -np.inf
        for p in range(n_images):
            v = np.float64(row[p]) + 0.0
            lo, hi = min(lo, v), max(hi, v)
        constant = hi == lo
        width = (hi - lo) / n_bins
        hist_lo[u], hist_width[u] = lo, 0.0 if constant else width
        m = _class_pass(row, brow, u, lo, width, constant, layout, stats_out, keys, floor_c, rank_bits)
        _radix_sort(keys, m, spare, digit_counts)
        n_runs, distinct = _runs(row, keys, m, lo, n_images, layout_pos, class_n, floor_c, runs, scratch, rank_bits)
        n_distinct[u] = distinct + 1
        _pick(u, n_runs, runs, n_images, class_n, p_num, p_den, pick_scratch, sweep_out[0], sweep_out[1], sweep_out[2])
        _topk(u, keys, m, ks, n_images, class_n, floor_c, label_of_rank, rank_bits, topk_out[0], topk_out[1], counts)
        _top_images(u, row, keys, m, lo, layout_pos, image_of_pos, rank_bits, top_out[0], top_out[1], top_out[2])
