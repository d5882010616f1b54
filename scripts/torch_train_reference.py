#!/usr/bin/env python3
"""Trains any weft graph on CIFAR-10 in PyTorch with `weft train`'s recipe: an independent check
of what the recipe itself can reach.

`weft train` and this script share only the graph (`weft viz GRAPH -o net.json`, rebuilt as
PyTorch modules by torch_graph_bench.py) and, optionally, the initial weights (`weft init GRAPH
--seed S -o init.safetensors`). Everything else is written here from the documented behaviour
of `weft train` (docs/training.md), so a shortfall shared by both runs belongs to the recipe and
the data, and a gap between them points at weft:

  - per-channel normalisation with the training set's mean and standard deviation of x/255;
  - zero padding by --pad pixels (black, before normalisation), a random crop back to the
    image size and a horizontal flip with probability 1/2, fresh each epoch;
  - a new shuffle each epoch; the last partial batch is dropped, as weft does;
  - SGD with Nesterov momentum 0.9; weight decay on the parameters the paper counts
    (convolution and FC tensors), on batch-norm scale and shift too with --decay-bn yes;
  - the learning rate set before every step from the fractional epoch: linear warm-up, then
    cosine to zero or the paper's step decay;
  - batch norm with weft's momentum and eps (from the graph), evaluated with running statistics.

Data: DIR holds the official CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin), each
also accepted xz-compressed (.bin.xz). Runs on the GPU when there is one (--device), in float32
with TF32 off. Writes per-epoch metrics with weft's metrics.csv columns.

  weft viz igc-l24m2-d8 -o net.json
  weft init igc-l24m2-d8 --seed 1 -o init.safetensors
  /usr/bin/python3 scripts/torch_train_reference.py net.json --data DIR --init init.safetensors \\
      --epochs 40 --batch 64 --lr 0.1 --schedule cosine --weight-decay 5e-4 --pad 4 --seed 1 \\
      --out metrics.csv
"""

import argparse
import csv
import json
import lzma
import math
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_graph_bench import GraphNetwork  # noqa: E402  (our own graph-to-PyTorch rebuild)

IMAGE_BYTES = 3 * 32 * 32
RECORD_BYTES = 1 + IMAGE_BYTES


def fail(message):
    sys.exit(f"torch_train_reference: {message}")


def read_cifar10_file(directory, stem):
    """One official CIFAR-10 batch file: records of a label byte and 3,072 pixel bytes."""
    for name, opener in ((stem + ".bin", open), (stem + ".bin.xz", lzma.open)):
        path = Path(directory) / name
        if path.exists():
            try:
                with opener(path, "rb") as f:
                    raw = f.read()
            except (OSError, lzma.LZMAError) as e:
                fail(f"{path}: {e}")
            if len(raw) == 0 or len(raw) % RECORD_BYTES:
                fail(f"{path}: {len(raw)} bytes is not a whole number of {RECORD_BYTES}-byte records")
            records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES).copy()
            labels = records[:, 0].astype(np.int64)
            if labels.max() > 9:
                fail(f"{path}: label {labels.max()} outside 0..9")
            return records[:, 1:].reshape(-1, 3, 32, 32), labels
    fail(f"{directory}: neither {stem}.bin nor {stem}.bin.xz")


def read_cifar10(directory):
    parts = [read_cifar10_file(directory, f"data_batch_{i}") for i in range(1, 6)]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    return train, read_cifar10_file(directory, "test_batch")


SAFETENSORS_DTYPES = {"F32": np.float32}


def read_safetensors(path):
    try:
        raw = Path(path).read_bytes()
        (header_len,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + header_len])
    except (OSError, ValueError, struct.error) as e:
        fail(f"{path}: {e}")
    data = raw[8 + header_len :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in SAFETENSORS_DTYPES:
            fail(f"{path}: tensor '{name}' is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=np.float32).reshape(entry["shape"]).copy()
    return tensors


def module_tensors(node, layer):
    """weft's '<node>.<param>' names mapped to the PyTorch module's tensors of that node."""
    op = node["op"]
    inner = layer[0] if isinstance(layer, nn.Sequential) else layer  # (conv|bn, fused ReLU)
    if op in ("group_conv", "pointwise_conv"):
        names = {"weight": inner.weight, "bias": inner.bias}
    elif op == "batch_norm":
        names = {"weight": inner.weight, "bias": inner.bias,
                 "running_mean": inner.running_mean, "running_var": inner.running_var}
    elif op == "fc":
        names = {"weight": inner.linear.weight, "bias": inner.linear.bias}
    else:
        names = {}
    return {f"{node['name']}.{k}": v for k, v in names.items() if v is not None}


def initialise(model, nodes, weights):
    """Either weft's initial weights (a file) or weft's rules: He normal over fan-in for
    convolutions, U(±1/sqrt(fan-in)) for FC weight and bias, batch norm scale 1 and shift 0."""
    with torch.no_grad():
        for node, layer in zip(nodes, model.layers):
            for name, tensor in module_tensors(node, layer).items():
                if weights is not None:
                    if name not in weights:
                        fail(f"initial weights lack '{name}'")
                    if tuple(weights[name].shape) != tuple(tensor.shape):
                        fail(f"initial weight '{name}' is {weights[name].shape}, the graph needs {tuple(tensor.shape)}")
                    tensor.copy_(torch.from_numpy(weights[name]))
                elif node["op"] in ("group_conv", "pointwise_conv") and name.endswith(".weight"):
                    fan_in = tensor[0].numel()
                    tensor.normal_(0.0, math.sqrt(2.0 / fan_in))
                elif node["op"] == "fc":
                    bound = 1.0 / math.sqrt(module_tensors(node, layer)[f"{node['name']}.weight"].shape[1])
                    tensor.uniform_(-bound, bound)


def parameter_groups(model, nodes, weight_decay, decay_bn):
    """Weight decay on what the paper counts (the graph's `counted` flag), as weft's SGD does."""
    decayed, plain = [], []
    for node, layer in zip(nodes, model.layers):
        tensors = module_tensors(node, layer)
        for spec in node["param_tensors"]:
            if not spec["learnable"]:
                continue
            tensor = tensors[f"{node['name']}.{spec['name']}"]
            (decayed if spec["counted"] or decay_bn else plain).append(tensor)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


class Schedule:
    def __init__(self, spec, base, epochs, warmup):
        self.base, self.epochs, self.warmup = base, epochs, warmup
        self.milestones, self.gamma = [], 0.1
        if spec.startswith("step:"):
            body = spec[5:]
            try:
                if "@" in body:
                    body, gamma = body.split("@", 1)
                    self.gamma = float(gamma)
                self.milestones = [float(m) for m in body.split(",") if m]
            except ValueError:
                fail(f"--schedule '{spec}': epochs and GAMMA must be numbers")
            self.kind = "step"
        elif spec in ("cosine", "constant"):
            self.kind = spec
        else:
            fail(f"--schedule '{spec}': expected constant, cosine or step:E1,E2[@GAMMA]")

    def at(self, epoch):
        if self.warmup > 0 and epoch < self.warmup:
            return self.base * epoch / self.warmup
        if self.kind == "step":
            return self.base * self.gamma ** sum(epoch >= m for m in self.milestones)
        if self.kind == "cosine":
            t = min(max((epoch - self.warmup) / max(self.epochs - self.warmup, 1e-9), 0.0), 1.0)
            return self.base * 0.5 * (1.0 + math.cos(math.pi * t))
        return self.base


def augment(images, dy, dx, flip, pad):
    """Zero-pad by `pad`, crop at (dy, dx), mirror where `flip`: one gather for the batch."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad)) if pad else images
    ys = torch.arange(h, device=images.device)
    xs = torch.arange(w, device=images.device)
    rows = dy[:, None] + ys[None, :]
    cols = dx[:, None] + torch.where(flip[:, None], (w - 1 - xs)[None, :], xs[None, :])
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def evaluate(model, images, labels, mean, std, batch):
    model.eval()
    loss_sum, top1, top5 = 0.0, 0, 0
    with torch.no_grad():
        for first in range(0, images.shape[0], batch):
            x = (images[first : first + batch].float() / 255.0 - mean) / std
            y = labels[first : first + batch]
            logits = model(x).flatten(1)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            best = logits.topk(5, dim=1).indices
            top1 += (best[:, 0] == y).sum().item()
            top5 += (best == y[:, None]).any(dim=1).sum().item()
    model.train()
    n = images.shape[0]
    return loss_sum / n, top1 / n, top5 / n


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("graph_json", help="output of `weft viz GRAPH -o FILE.json`")
    parser.add_argument("--data", required=True, help="folder of the CIFAR-10 binary files (.bin or .bin.xz)")
    parser.add_argument("--init", help="initial weights from `weft init` (else weft's initialisation rules)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument("--warmup", type=float, default=0.0, help="epochs of linear warm-up")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--decay-bn", choices=["yes", "no"], default="no")
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--pad", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit-train", type=int, default=0, help="use the first N training images")
    parser.add_argument("--limit-test", type=int, default=0, help="use the first N test images")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--out", required=True, help="metrics CSV, rewritten after every epoch")
    args = parser.parse_args()
    if args.epochs < 1 or args.batch < 1 or args.pad < 0 or not args.lr > 0:
        fail("--epochs and --batch must be positive, --pad non-negative, --lr positive")
    schedule = Schedule(args.schedule, args.lr, args.epochs, args.warmup)  # bad specs fail before the data loads

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False  # float32 arithmetic, as weft's CPU kernels
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)

    try:
        graph = json.loads(Path(args.graph_json).read_text())
    except (OSError, ValueError) as e:
        fail(f"{args.graph_json}: {e}")
    model = GraphNetwork(graph, drop_final_softmax=True)
    nodes = graph["nodes"][: len(model.layers)]
    initialise(model, nodes, read_safetensors(args.init) if args.init else None)
    model.to(device).train()

    (train_x, train_y), (test_x, test_y) = read_cifar10(args.data)
    if args.limit_train:
        train_x, train_y = train_x[: args.limit_train], train_y[: args.limit_train]
    if args.limit_test:
        test_x, test_y = test_x[: args.limit_test], test_y[: args.limit_test]
    pixels = train_x.transpose(1, 0, 2, 3).reshape(3, -1) / 255.0
    mean = torch.tensor(pixels.mean(axis=1), dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(pixels.std(axis=1), dtype=torch.float32, device=device).view(1, 3, 1, 1)
    del pixels
    train_x = torch.from_numpy(train_x).to(device)
    train_y = torch.from_numpy(train_y).to(device)
    test_x = torch.from_numpy(test_x).to(device)
    test_y = torch.from_numpy(test_y).to(device)

    optimizer = torch.optim.SGD(parameter_groups(model, nodes, args.weight_decay, args.decay_bn == "yes"),
                                lr=args.lr, momentum=args.momentum, nesterov=True)
    steps = train_x.shape[0] // args.batch
    if steps == 0:
        fail(f"{train_x.shape[0]} training images make no batch of {args.batch}")
    generator = torch.Generator().manual_seed(args.seed)
    columns = ["epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "test_top5",
               "seconds", "images_per_second"]
    rows = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(train_x.shape[0], generator=generator)[: steps * args.batch]
        dy = torch.randint(0, 2 * args.pad + 1, (order.numel(),), generator=generator)
        dx = torch.randint(0, 2 * args.pad + 1, (order.numel(),), generator=generator)
        flip = torch.randint(0, 2, (order.numel(),), generator=generator).bool()
        order, dy, dx, flip = (t.to(device) for t in (order, dy, dx, flip))
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for step in range(steps):
            lr = schedule.at(epoch + step / steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = slice(step * args.batch, (step + 1) * args.batch)
            index = order[batch]
            raw = augment(train_x[index].float() / 255.0, dy[batch], dx[batch], flip[batch], args.pad)
            x = (raw - mean) / std
            y = train_y[index]
            logits = model(x).flatten(1)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * args.batch
            correct += (logits.detach().argmax(dim=1) == y).sum()
        seen = steps * args.batch
        train_loss, train_accuracy = loss_sum.item() / seen, correct.item() / seen
        if not math.isfinite(train_loss):
            fail(f"epoch {epoch + 1}: the training loss is not finite")
        seconds = time.perf_counter() - start
        test_loss, test_accuracy, test_top5 = evaluate(model, test_x, test_y, mean, std, 1000)
        rows.append([epoch + 1, lr, train_loss, train_accuracy, test_loss, test_accuracy, test_top5, seconds,
                     seen / seconds])
        tmp = args.out + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")  # as weft writes metrics.csv
            writer.writerow(columns)
            writer.writerows(rows)
        os.replace(tmp, args.out)
        print(f"epoch {epoch + 1}/{args.epochs}: lr {lr:.4g} train loss {train_loss:.4f} acc {train_accuracy:.2%} | "
              f"test loss {test_loss:.4f} acc {test_accuracy:.2%} top-5 {test_top5:.2%} | {seen / seconds:.0f} img/s",
              flush=True)
    print(f"torch {torch.__version__} on {device}: {graph['graph']['name']} test accuracy {rows[-1][5]:.2%} after "
          f"{args.epochs} epochs (best {max(r[5] for r in rows):.2%})", flush=True)


if __name__ == "__main__":
    main()
