"""Predict the next word, as the chapter asks, with a character-level model.

The chapter's examples ("It's a beautiful day in the ...", "I enjoy reading
about artificial ___", "The cat sat on the ...") are answered by a trained
`shakespeare` run. The model predicts one character at a time, so the next
*word* is found by a beam search over characters until a word ends (a space
or punctuation): the probability of a word is the product of the
probabilities of its characters and of a word end after them,
P(w) = prod_i P(c_i | prompt, c_<i) * P(end | prompt, w), where "end" is any
space or punctuation character.

    python train.py --model gru --task shakespeare
    python -m exercises.next_word runs/shakespeare/gru --top-k 5

Bear in mind what the model has read: 1 MB of Shakespeare. It has never seen
"artificial"; what it offers instead is the point of the exercise.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

PROMPTS = (
    "It's a beautiful day in the ",
    "I enjoy reading about artificial ",
    "The cat sat on the ",
)
WORD_END = set(" \n.,;:!?'-")

TASKS = (
    "Lower --temperature to 0.3 and then raise it to 1.5: how do the sampled completions change, and why?",
    "Compare the top-5 words of a run trained for 1 epoch with one trained for 10: which prompts improve?",
)


def top_next_words(sampler, encode, decode, prompt: str, k: int = 5, max_chars: int = 12):
    """The k most probable next words after `prompt`, by beam search over characters.

    Args:
        sampler: A `models.generation.Sampler` of a trained character model.
        encode: Text -> ids; `decode`: ids -> text (the run's vocabulary).
        prompt: The text so far.
        k: Beam width and the number of words returned.
        max_chars: Longest word considered.

    Returns:
        A list of `(word, probability)`, most probable first.
    """
    end_ids = sorted({int(i) for i in encode("".join(WORD_END))})
    beams = [("", 0.0)]  # (partial word, log probability of its characters)
    words: dict[str, float] = {}  # complete word -> log P(characters, then a word end)
    for step in range(max_chars + 1):
        candidates = []
        for word, logp in beams:
            probs = sampler.next_probabilities(encode(prompt + word)).numpy()
            if word:
                words[word] = logp + math.log(max(float(probs[end_ids].sum()), 1e-30))
            if step == max_chars:
                continue
            probs[end_ids] = 0  # extend with letters only
            for i in np.argsort(probs)[::-1][:k]:
                candidates.append((word + decode([i]), logp + math.log(max(float(probs[i]), 1e-30))))
        beams = sorted(candidates, key=lambda c: c[1], reverse=True)[:k]
    best = sorted(words.items(), key=lambda w: w[1], reverse=True)[:k]
    return [(word, math.exp(logp)) for word, logp in best]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Next-word predictions of a trained shakespeare run.")
    parser.add_argument("run_dir", help="a shakespeare run directory, e.g. runs/shakespeare/gru")
    parser.add_argument("--top-k", type=int, default=5, help="words to list per prompt (default 5)")
    parser.add_argument(
        "--length", type=int, default=60, help="characters of sampled completion (default 60)"
    )
    parser.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    parser.add_argument("--prompt", action="append", help="a prompt of your own (repeatable)")
    args = parser.parse_args(argv)
    if args.top_k <= 0 or args.length <= 0 or args.temperature <= 0:
        raise ValueError("--top-k, --length and --temperature must be positive")

    from datasets import shakespeare
    from models.generation import Sampler
    from zoo import rundir

    config, _ = rundir.load_config(args.run_dir)
    if config.task != "shakespeare":
        raise ValueError(f"{args.run_dir} is a {config.task!r} run; a shakespeare run is needed")
    state = rundir.read_json(os.path.join(args.run_dir, rundir.STATE_FILE))
    sampler = Sampler(rundir.load_model(os.path.join(args.run_dir, rundir.MODEL_FILE)))

    def encode(text):
        return shakespeare.encode(state, text)

    def decode(ids):
        return shakespeare.decode(state, ids)

    results = []
    for prompt in args.prompt or PROMPTS:
        words = top_next_words(sampler, encode, decode, prompt, k=args.top_k)
        completion = decode(sampler.sample(encode(prompt), args.length, args.temperature, seed=config.seed))
        results.append({"prompt": prompt, "top_words": words, "completion": completion})
        print(f"\n{prompt!r}")
        for word, p in words:
            print(f"  {p:8.4f}  {word}")
        print(f"  sampled: {prompt}{completion!r}")
    print("\nTasks for students:")
    for task in TASKS:
        print(f"- {task}")
    return results


if __name__ == "__main__":
    main()
