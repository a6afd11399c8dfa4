#!/usr/bin/env python3
"""Rebuild data/calibration/calibration.txt from the few-shot (train) splits in ../shared/datasets.

The calibration text for `dynamic` and `joulebench fidelity` must not come from a split that
joulebench scores, so it takes only training questions: GSM8K train and ARC-Easy / ARC-Challenge
Train. (HellaSwag is left out: only its validation split, which the HellaSwag task scores, is
available.) Items are taken from the end of each file, interleaved one from each source in turn,
so the first 1024 tokens (the default) already mix arithmetic word problems and science questions.

Each item becomes a paragraph of plain English:
  GSM8K: the question, then the worked answer with the calculator annotations <<48/2=24>>
         removed and the final "#### 72" written as "The answer is 72."
  ARC:   "Question: <stem>" then "Answer: <text of the correct choice>"
Usage: python3 data/calibration/make_calibration.py [path/to/shared/datasets]
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(HERE, "../../../shared/datasets"))
N_PER_SOURCE = 32  # about 26 KB in all


def jsonl_tail(rel, n):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return rows[-n:]


def gsm8k(row):
    answer = re.sub(r"<<[^>]*>>", "", row["answer"])
    answer = re.sub(r"\n#### (.*)$", r"\nThe answer is \1.", answer.strip())
    return row["question"].strip() + "\n" + answer


def arc(row):
    choices = {c["label"]: c["text"] for c in row["question"]["choices"]}
    return "Question: " + row["question"]["stem"].strip() + "\nAnswer: " + choices[row["answerKey"]].strip()


def main():
    sources = [
        [gsm8k(r) for r in jsonl_tail("gsm8k/train.jsonl", N_PER_SOURCE)],
        [arc(r) for r in jsonl_tail("arc/ARC-Easy/ARC-Easy-Train.jsonl", N_PER_SOURCE)],
        [arc(r) for r in jsonl_tail("arc/ARC-Challenge/ARC-Challenge-Train.jsonl", N_PER_SOURCE)],
    ]
    paragraphs = [p for group in zip(*sources) for p in group]
    with open(os.path.join(HERE, "calibration.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(paragraphs) + "\n")


if __name__ == "__main__":
    main()
