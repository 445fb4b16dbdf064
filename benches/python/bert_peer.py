"""The PyTorch peer of `bert_step`: times one forward pass (inference, no_grad) and one
training step (forward, cross-entropy, backward, AdamW with the body at 5e-5 and the head at
1e-3) of a pretrained BERT with a linear head on mean-pooled states, on a batch of 32
sequences of 64 token ids (the same ids as `bert_step`). Prints the median and the fastest
of the timed repetitions, after two untimed ones.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers
    cargo xtask fetch-minilm
    /tmp/torchenv/bin/python benches/python/bert_peer.py target/hf/all-MiniLM-L6-v2 --threads 2
    RAYON_NUM_THREADS=2 target/release/bert_step target/hf/all-MiniLM-L6-v2
"""

import argparse
import statistics
import time

import torch
from transformers import AutoModel

BATCH, TIME = 32, 64


def timed(repetitions, work):
    work()
    work()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", nargs="?", default="target/hf/all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    body = AutoModel.from_pretrained(args.checkpoint, attn_implementation="eager")
    head = torch.nn.Linear(body.config.hidden_size, 2)
    dropout = torch.nn.Dropout(0.1)
    ids = torch.tensor(
        [1000 + (index * 7919 + 13) % 20_000 for index in range(BATCH * TIME)]
    ).reshape(BATCH, TIME)
    mask = torch.ones_like(ids)
    targets = torch.arange(BATCH) % 2

    def logits():
        hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
        kept = mask.unsqueeze(-1).float()
        pooled = (hidden * kept).sum(1) / kept.sum(1)
        return head(dropout(pooled))

    def forward():
        body.eval()
        with torch.no_grad():
            logits()

    optimizer = torch.optim.AdamW(
        [
            {"params": body.parameters(), "lr": 5e-5},
            {"params": head.parameters(), "lr": 1e-3},
        ]
    )

    def step():
        body.train()
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits(), targets)
        loss.backward()
        optimizer.step()

    forward_ms = timed(args.repetitions, forward)
    step_ms = timed(args.repetitions, step)
    print(
        f"{args.checkpoint}, batch {BATCH} x {TIME} tokens, "
        f"PyTorch {torch.__version__}, {args.threads} threads"
    )
    print(f"forward pass (inference): median {forward_ms[0]:.1f} ms, fastest {forward_ms[1]:.1f} ms")
    print(f"training step: median {step_ms[0]:.1f} ms, fastest {step_ms[1]:.1f} ms")


if __name__ == "__main__":
    main()
