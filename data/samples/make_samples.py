#!/usr/bin/env python3
"""Rebuild data/samples from the full data sets (../shared/datasets), byte for byte.

Every sample file is a selection of whole records copied from the original file without
re-encoding: MMLU CSV records, JSONL lines, HellaSwag 6-line tasks, TruthfulQA array elements.
Usage: python3 data/samples/make_samples.py [path/to/shared/datasets]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(HERE, "../../../shared/datasets"))

MMLU_SUBJECTS = ["abstract_algebra", "college_mathematics", "clinical_knowledge",
                 "formal_logic", "high_school_geography", "world_religions"]
MMLU_TEST_ROWS = 8


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(SRC, rel), "rb") as f:
        return f.read()


def csv_prefix(data, n_records):
    """Bytes of the first n records (with their line ends) of an RFC-4180 file."""
    in_quote = False
    records = 0
    for i, b in enumerate(data):
        if b == 0x22:  # '"' toggles; "" inside quotes toggles twice
            in_quote = not in_quote
        elif b == 0x0A and not in_quote:
            records += 1
            if records == n_records:
                return data[: i + 1]
    return data


def lines(data, indices):
    all_lines = data.splitlines(keepends=True)
    return b"".join(all_lines[i] for i in indices)


def main():
    for s in MMLU_SUBJECTS:
        write(f"mmlu/dev/{s}_dev.csv", read(f"mmlu/dev/{s}_dev.csv"))
        write(f"mmlu/test/{s}_test.csv", csv_prefix(read(f"mmlu/test/{s}_test.csv"), MMLU_TEST_ROWS))

    write("hellaswag/hellaswag_val_full.txt", lines(read("hellaswag/hellaswag_val_full.txt"), range(40 * 6)))

    for name in ["ARC-Challenge", "ARC-Easy"]:
        test = read(f"arc/{name}/{name}-Test.jsonl")
        test_lines = test.splitlines(keepends=True)
        # The first 36 questions plus the first few with digit labels, 3 or 5 choices.
        pick = set(range(36))
        wanted = {"digit": 2, "3": 1, "5": 1}
        for i, line in enumerate(test_lines):
            q = json.loads(line)
            choices = q["question"]["choices"]
            kinds = []
            if q["answerKey"].isdigit():
                kinds.append("digit")
            if len(choices) in (3, 5):
                kinds.append(str(len(choices)))
            for k in kinds:
                if wanted.get(k, 0) > 0 and i not in pick:
                    wanted[k] -= 1
                    pick.add(i)
        write(f"arc/{name}/{name}-Test.jsonl", lines(test, sorted(pick)))
        write(f"arc/{name}/{name}-Train.jsonl", lines(read(f"arc/{name}/{name}-Train.jsonl"), range(30)))

    # TruthfulQA: the first 40 elements of the pretty-printed array, cut at the 40th element's end.
    tqa = read("truthfulqa/mc_task.json")
    text = tqa.decode("utf-8")
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
    end = pos
    for _ in range(40):
        while text[pos] in " \r\n\t,":
            pos += 1
        _, end = dec.raw_decode(text, pos)
        pos = end
    write("truthfulqa/mc_task.json", (text[:end] + "\n]").encode("utf-8"))

    write("gsm8k/test.jsonl", lines(read("gsm8k/test.jsonl"), range(20)))
    write("gsm8k/train.jsonl", lines(read("gsm8k/train.jsonl"), range(10)))


if __name__ == "__main__":
    main()
