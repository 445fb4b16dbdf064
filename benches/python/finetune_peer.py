"""The PyTorch peer of `experiments/movie_reviews_minilm.toml`: fine-tunes all-MiniLM-L6-v2
on movie_reviews for one epoch with the same recipe (a stratified 15% test split; batch 32;
AdamW, weight decay 0.01, lr 5e-5 for the body and 1e-3 for a linear head on mean-pooled
states behind dropout 0.1; 10% linear warm-up then linear decay; at most 64 tokens) and
prints the epoch's wall time, the mean training loss and the test accuracy. Its split is
drawn with Python's `random` from SEED, not Burnish's split of the same seed.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers
    cargo xtask fetch-minilm
    /tmp/torchenv/bin/python benches/python/finetune_peer.py [SEED]
"""

import csv
import math
import random
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

CHECKPOINT = "target/hf/all-MiniLM-L6-v2"
DATA = "datasets/movie_reviews.csv"


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 42
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    random.seed(seed)
    rows = list(csv.DictReader(open(DATA, newline="")))
    by_class = {}
    for index, row in enumerate(rows):
        by_class.setdefault(row["sentiment"], []).append(index)
    test = []
    for indices in by_class.values():
        random.shuffle(indices)
        test += indices[: round(0.15 * len(indices))]
    held_out = set(test)
    train = [index for index in range(len(rows)) if index not in held_out]
    random.shuffle(train)

    tokenizer = AutoTokenizer.from_pretrained(CHECKPOINT)
    body = AutoModel.from_pretrained(CHECKPOINT)
    head = torch.nn.Linear(body.config.hidden_size, 2)
    dropout = torch.nn.Dropout(0.1)
    optimizer = torch.optim.AdamW(
        [{"params": body.parameters(), "lr": 5e-5}, {"params": head.parameters(), "lr": 1e-3}],
        weight_decay=0.01,
    )
    steps = math.ceil(len(train) / 32)
    warmup = int(0.1 * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: step / max(1, warmup)
        if step < warmup
        else max(0.0, (steps - step) / max(1, steps - warmup)),
    )

    def logits(indices):
        encoded = tokenizer(
            [rows[i]["text"] for i in indices],
            padding=True,
            truncation=True,
            max_length=64,
            return_tensors="pt",
        )
        hidden = body(**encoded).last_hidden_state
        kept = encoded["attention_mask"].unsqueeze(-1).float()
        return head(dropout((hidden * kept).sum(1) / kept.sum(1)))

    def labels(indices):
        return torch.tensor([int(rows[i]["sentiment"] == "positive") for i in indices])

    start = time.time()
    body.train()
    loss_sum = 0.0
    for step in range(steps):
        batch = train[step * 32 : (step + 1) * 32]
        loss = F.cross_entropy(logits(batch), labels(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.item()
    print(f"seed {seed}: {len(train)} train, epoch {time.time() - start:.0f} s, mean train loss {loss_sum / steps:.4f}")

    body.eval()
    dropout.eval()
    correct = 0
    with torch.no_grad():
        for start_row in range(0, len(test), 64):
            batch = test[start_row : start_row + 64]
            correct += (logits(batch).argmax(1) == labels(batch)).sum().item()
    print(f"seed {seed}: test accuracy {correct / len(test):.4f} on {len(test)} sentences")


if __name__ == "__main__":
    main()
