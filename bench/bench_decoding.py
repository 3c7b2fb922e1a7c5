"""Benchmark utils.sampling against the straightforward NumPy ways.

The baselines are what a careful reader of Hugging Face's code would write
in NumPy: top-k and top-p by sorting each whole row (top-p exactly as
`TopPLogitsWarper` does it: ascending sort, softmax, cumulative sum, scatter
back), and sampling with `rng.choice(p=...)` row by row. Every pair is timed
in the same run, interleaved (`bench.common.median_seconds`), so the ratios
hold even on a busy machine; each result is also checked against its
baseline.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import scipy.special

import utils
from bench.common import median_seconds, print_table

BATCH, VOCAB = 32, 50257
TOP_K, TOP_P = 50, 0.9
TARGETS = {"top_k_filter": 3.0, "top_p_filter": 3.0, "sample_next_token": 5.0}
# CPU time of this process (a busy machine's waits for a core do not count), 5 interleaved
# blocks of 5 calls: steady enough, and a few seconds per row.
TIMING = {"blocks": 5, "calls": 5, "clock": time.process_time}


def sort_top_k(logits, k):
    """Top-k by sorting every row (keeps all ties with the k-th value, as Hugging Face)."""
    kth = np.sort(logits, axis=-1)[..., -k, None]
    return np.where(logits < kth, logits.dtype.type(-np.inf), logits)


def partition_top_k(logits, k):
    """Top-k with np.partition (NumPy's nearest thing to torch.topk)."""
    kth = np.partition(logits, logits.shape[-1] - k, axis=-1)[..., -k, None]
    return np.where(logits < kth, logits.dtype.type(-np.inf), logits)


def sort_top_p(logits, p, min_tokens_to_keep=1):
    """Top-p the way Hugging Face's TopPLogitsWarper computes it, in NumPy."""
    order = np.argsort(logits, axis=-1)  # ascending
    ascending = np.take_along_axis(logits, order, axis=-1)
    cumulative = np.cumsum(scipy.special.softmax(ascending, axis=-1), axis=-1)
    remove_sorted = cumulative <= 1 - p
    remove_sorted[..., -min_tokens_to_keep:] = False
    remove = np.empty_like(remove_sorted)
    np.put_along_axis(remove, order, remove_sorted, axis=-1)
    return np.where(remove, logits.dtype.type(-np.inf), logits)


def choice_per_row(logits, rng):
    """Sampling with one rng.choice(p=...) per row."""
    probs = scipy.special.softmax(logits.astype(np.float64), axis=-1)
    return np.array([rng.choice(probs.shape[-1], p=row) for row in probs])


def sort_filter_and_choose(logits, rng):
    return choice_per_row(sort_top_p(sort_top_k(logits, TOP_K), TOP_P), rng)


def _row(name, ours, baseline, extra=""):
    return [name, f"{ours * 1e3:.2f}", f"{baseline * 1e3:.2f}", f"{baseline / ours:.1f}x", extra]


def main() -> dict:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 4.5, size=(BATCH, VOCAB)).astype(np.float32)
    ratios, rows = {}, []

    # Correctness first: the same kept sets (no ties in continuous data).
    assert np.array_equal(utils.top_k_filter(logits, TOP_K), sort_top_k(logits, TOP_K))
    assert np.array_equal(utils.top_p_filter(logits, TOP_P), sort_top_p(logits, TOP_P))
    kept = np.isfinite(utils.top_p_filter(logits, TOP_P)).sum(axis=-1)

    t_ours, t_sort, t_partition = median_seconds(
        partial(utils.top_k_filter, logits, TOP_K),
        partial(sort_top_k, logits, TOP_K),
        partial(partition_top_k, logits, TOP_K),
        **TIMING,
    )
    ratios["top_k_filter"] = t_sort / t_ours
    rows.append(_row(f"top_k_filter k={TOP_K}", t_ours, t_sort, "vs full sort"))
    rows.append(_row(f"top_k_filter k={TOP_K}", t_ours, t_partition, "vs np.partition"))

    t_ours, t_sort = median_seconds(
        partial(utils.top_p_filter, logits, TOP_P), partial(sort_top_p, logits, TOP_P), **TIMING
    )
    ratios["top_p_filter"] = t_sort / t_ours
    rows.append(
        _row(
            f"top_p_filter p={TOP_P}",
            t_ours,
            t_sort,
            f"vs full sort (keeps {kept.min()}-{kept.max()} tokens)",
        )
    )

    flat = rng.normal(0.0, 0.5, size=(BATCH, VOCAB)).astype(np.float32)
    # Tens of thousands of tokens summed: the float32 cumulative sum of the sorting
    # way can be off by a token at the boundary, so compare with it in float64.
    ours_kept = np.isfinite(utils.top_p_filter(flat, TOP_P))
    exact_kept = np.isfinite(sort_top_p(flat.astype(np.float64), TOP_P))
    assert (ours_kept <= exact_kept).all()
    assert (exact_kept.sum(-1) - ours_kept.sum(-1) <= 1).all()
    kept_flat = np.isfinite(utils.top_p_filter(flat, TOP_P)).sum(axis=-1)
    t_ours, t_sort = median_seconds(
        partial(utils.top_p_filter, flat, TOP_P),
        partial(sort_top_p, flat, TOP_P),
        **{**TIMING, "blocks": 3},
    )
    rows.append(
        _row(
            f"top_p_filter p={TOP_P}, N(0, 0.5²)",
            t_ours,
            t_sort,
            f"flat: keeps {kept_flat.min()}-{kept_flat.max()} tokens (band search)",
        )
    )

    t_ours, t_loop = median_seconds(
        partial(utils.sample_next_token, logits, np.random.default_rng(1)),
        partial(choice_per_row, logits, np.random.default_rng(1)),
        **TIMING,
    )
    ratios["sample_next_token"] = t_loop / t_ours
    rows.append(_row("sample_next_token", t_ours, t_loop, "vs rng.choice per row"))
    t_ours, t_sort = median_seconds(
        partial(
            utils.sample_next_token, logits, np.random.default_rng(1), top_k=TOP_K, top_p=TOP_P
        ),
        partial(sort_filter_and_choose, logits, np.random.default_rng(1)),
        **{**TIMING, "blocks": 3},
    )
    rows.append(
        _row(f"sample_next_token top_k={TOP_K} top_p={TOP_P}", t_ours, t_sort, "vs sort + choice")
    )

    print(
        f"float32 logits from N(0, 4.5²), ({BATCH}, {VOCAB}). Median CPU ms; speed-up = baseline / "
        "utils. Targets: filters 3x, sampling 5x (sequence_log_prob: see utils.probability)."
    )
    print_table(["function", "utils ms", "baseline ms", "speed-up", "baseline / notes"], rows)
    missed = [name for name, target in TARGETS.items() if ratios[name] < target]
    print("targets met" if not missed else f"TARGETS MISSED: {', '.join(missed)}")
    return ratios


# --- lesson 09's token model ---------------------------------------------------------------------
TOKEN_PROMPT, NEW_TOKENS, BEAM_WIDTH = "Alice saw the dog", 32, 4


def _forward_only_greedy(model, prompt_ids, steps):
    """The least a greedy decoder must do: one forward pass and an argmax per token."""
    ids = list(prompt_ids)
    for _ in range(steps):
        ids.append(int(np.argmax(model.next_token_logits(np.array(ids)))))
    return ids


def _forward_only_beams(model, prompt_ids, steps, width):
    """One batched forward pass over `width` equally long contexts per step."""
    contexts = np.tile(prompt_ids, (width, 1))
    for _ in range(steps):
        logits = model.next_token_logits(contexts)
        contexts = np.concatenate([contexts, logits.argmax(axis=-1)[:, None]], axis=1)
    return contexts


def token_model_decoding() -> dict:
    """Time greedy, sampling and beam search on `utils.lm.load_token_model()`.

    There is no reference library offline: each method is compared with the
    forward passes it cannot avoid (the same model calls, nothing else), so
    the ratio is the decoding code's own overhead.
    """
    from utils.lm import load_token_model

    model = load_token_model()
    prompt = model.encode(TOKEN_PROMPT)
    # eos=0: a byte token the model never produces, so every run makes all the tokens.
    greedy = partial(utils.greedy_decode, model, prompt, NEW_TOKENS, eos=0)
    sampled = partial(
        utils.sample_decode, model, prompt, np.random.default_rng(0),
        max_new_tokens=NEW_TOKENS, top_k=50, top_p=0.9, eos=0,
    )  # fmt: skip
    beams = partial(
        utils.beam_search,
        model,
        prompt,
        beam_width=BEAM_WIDTH,
        max_new_tokens=NEW_TOKENS // 2,
        eos=0,
    )
    forward = partial(_forward_only_greedy, model, prompt, NEW_TOKENS)
    beam_forward = partial(_forward_only_beams, model, prompt, NEW_TOKENS // 2, BEAM_WIDTH)
    t_greedy, t_sampled, t_forward = median_seconds(greedy, sampled, forward, blocks=3, calls=3)
    t_beams, t_beam_forward = median_seconds(beams, beam_forward, blocks=3, calls=3)
    per_token = 1e3 / NEW_TOKENS
    rows = [
        ["greedy_decode", f"{t_greedy * per_token:.2f}", f"{t_forward * per_token:.2f}",
         f"{t_greedy / t_forward:.2f}x", "one context per step"],
        ["sample_decode top_k=50 top_p=0.9", f"{t_sampled * per_token:.2f}",
         f"{t_forward * per_token:.2f}", f"{t_sampled / t_forward:.2f}x", "one context per step"],
        [f"beam_search width {BEAM_WIDTH}", f"{t_beams * 2 * per_token:.2f}",
         f"{t_beam_forward * 2 * per_token:.2f}", f"{t_beams / t_beam_forward:.2f}x",
         f"{BEAM_WIDTH} contexts per step"],
    ]  # fmt: skip
    print(
        f"\n{model!r}\nprompt {TOKEN_PROMPT!r}, {NEW_TOKENS} new tokens "
        f"({NEW_TOKENS // 2} for beam search); ms per generated token. The forward-only "
        "loop makes the same model calls and nothing else: the ratio is the decoder's overhead."
    )
    print_table(["decoding", "ms/token", "forward only", "ratio", "notes"], rows)
    return {"greedy": t_greedy, "sample": t_sampled, "beam": t_beams, "forward": t_forward}


if __name__ == "__main__":
    main()
    token_model_decoding()


def exhaustive_search_timing() -> float:
    """CPU seconds of lesson 06's exhaustive search: every continuation of up to 3 tokens
    of "the cat" on the tiny model (462,540 of them), the best one returned."""
    from utils import lm
    from utils.sequences import exhaustive_search

    model = lm.load()

    def search():
        return exhaustive_search(model, "the cat", max_new_tokens=3, length_penalty=0.0, top=1)

    (seconds,) = median_seconds(search, blocks=3, calls=3, clock=time.process_time)
    print(
        "exhaustive_search(the tiny model, 'the cat', max_new_tokens=3, top=1), as lesson 06 "
        f"calls it: {seconds * 1e3:.0f} ms CPU (Hypothesis objects built for the top one only)"
    )
    return seconds
