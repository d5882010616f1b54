#!/usr/bin/env python3
"""Times any weft graph in PyTorch: the network is rebuilt from `weft viz GRAPH -o net.json`.

The performance targets compare weft with PyTorch on every plain CIFAR network of the zoo, and
a hand-written PyTorch model exists only for some of them. This script builds the PyTorch model
from the graph weft itself runs (nodes, attributes, shapes), so any zoo variant — SumFusion,
the separable and swapped IGC forms, the Table 7 widths — is timed against the same network.

The model is written the way a PyTorch user would write it: nn.Conv2d with `groups`,
nn.BatchNorm2d, in-place ReLU, the channel permutation as view/transpose/reshape (the
ShuffleNet idiom), nn.Linear, and for training nn.CrossEntropyLoss on the logits with SGD
(Nesterov momentum 0.9, weight decay 1e-4). Timing follows the usual pattern: --warmup untimed
iterations (3), then the mean of --iters (20); on a GPU the device is synchronised before the
clock starts and before it stops.

  weft viz igc-l24m2-d20 -o net.json
  /usr/bin/python3 scripts/torch_graph_bench.py net.json --batch 64 --threads 2 [--train]
  python3 scripts/torch_graph_bench.py net.json --device cuda --batch 256 --variants eager,channels_last,compile

--variants times several ways of running the same model in one process, in order: `eager`
(NCHW), `channels_last` (NHWC memory format) and `compile` (torch.compile of the NCHW model).
On cuda, cudnn.benchmark is on and TF32 is off (matrix products and convolutions in full
float32, as weft computes), so the comparison is like for like. The input already lies on the
device; weft's own timing includes uploading each batch and downloading its output.

Prints one line per variant: "... variant=V ... X ms/iter Y img/s" (scripts/bench-vs-torch.sh
reads the number before ms/iter); a variant that fails (torch.compile without a compiler, say)
prints "... variant=V failed: why" and the others still run.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn as nn


def pair(value):
    """weft's `k or [kh, kw]` attributes."""
    if isinstance(value, int):
        return (value, value)
    return (value[0], value[0]) if len(value) == 1 else tuple(value)


class ChannelPermute(nn.Module):
    """weft's channel_permute with factor g: channel i*(C/g)+j moves to position j*g+i."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class Sum(nn.Module):
    def forward(self, *xs):
        total = xs[0]
        for other in xs[1:]:
            total = total + other
        return total


class GlobalAveragePool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


class Classifier(nn.Module):
    def __init__(self, features, classes, bias):
        super().__init__()
        self.linear = nn.Linear(features, classes, bias=bias)

    def forward(self, x):
        return self.linear(x.flatten(1))


def module_for(node):
    op, attrs = node["op"], node["attrs"]
    in_channels = node["input_shapes"][0][1]
    where = f"node '{node['name']}' ({op})"
    if op in ("group_conv", "pointwise_conv"):
        kernel = pair(attrs["kernel"]) if op == "group_conv" else (1, 1)
        conv = nn.Conv2d(in_channels, attrs["out_channels"], kernel, stride=pair(attrs["stride"]),
                         padding=pair(attrs.get("padding", [0])), dilation=pair(attrs.get("dilation", [1])),
                         groups=attrs["groups"], bias=attrs.get("bias", False))
        return nn.Sequential(conv, nn.ReLU(inplace=True)) if attrs.get("fused_relu") else conv
    if op == "batch_norm":
        # weft's momentum weighs the old running value (MXNet's convention); PyTorch's the batch.
        bn = nn.BatchNorm2d(in_channels, eps=attrs["eps"], momentum=1.0 - attrs["momentum"])
        return nn.Sequential(bn, nn.ReLU(inplace=True)) if attrs.get("fused_relu") else bn
    if op == "relu":
        return nn.ReLU(inplace=True)
    if op == "channel_permute":
        return ChannelPermute(attrs["groups"])
    if op == "add":
        return Sum()
    if op == "pool":
        mode = attrs["mode"]
        if mode == "global_avg":
            return GlobalAveragePool()
        kernel = pair(attrs["kernel"])
        stride = pair(attrs["stride"]) if attrs.get("stride") else kernel
        padding = pair(attrs["padding"]) if attrs.get("padding") else (0, 0)
        if mode == "max":
            return nn.MaxPool2d(kernel, stride, padding)
        return nn.AvgPool2d(kernel, stride, padding, count_include_pad=False)
    if op == "fc":
        features = 1
        for d in node["input_shapes"][0][1:]:
            features *= d
        return Classifier(features, attrs["out_features"], attrs.get("bias", True))
    if op == "softmax":
        return nn.Softmax(dim=attrs.get("axis", 1))
    sys.exit(f"torch_graph_bench: {where}: no PyTorch module for this op")


class GraphNetwork(nn.Module):
    """Runs the nodes in the order weft lists them (topological). `drop_final_softmax`: training
    takes the loss on the logits."""

    def __init__(self, graph, drop_final_softmax):
        super().__init__()
        self.steps = []
        self.layers = nn.ModuleList()
        nodes = graph["nodes"]
        if drop_final_softmax and nodes and nodes[-1]["op"] == "softmax":
            nodes = nodes[:-1]
        for node in nodes:
            if len(node["outputs"]) != 1:
                sys.exit(f"torch_graph_bench: node '{node['name']}': expected one output")
            self.layers.append(module_for(node))
            self.steps.append((node["inputs"], node["outputs"][0]))
        if len(graph["inputs"]) != 1:
            sys.exit("torch_graph_bench: the graph must have one input")
        self.input_name = graph["inputs"][0]["name"]
        self.output_name = self.steps[-1][1]

    def forward(self, x):
        values = {self.input_name: x}
        for layer, (inputs, output) in zip(self.layers, self.steps):
            values[output] = layer(*[values[name] for name in inputs])
        return values[self.output_name]


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("graph_json", help="output of `weft viz GRAPH -o FILE.json`")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    parser.add_argument("--train", action="store_true", help="time SGD training steps")
    parser.add_argument("--channels-last", action="store_true", help="the same as --variants channels_last")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--variants", default=None, help="comma list of eager, channels_last, compile (default eager)")
    args = parser.parse_args()
    variants = (args.variants or ("channels_last" if args.channels_last else "eager")).split(",")
    for v in variants:
        if v not in VARIANTS:
            sys.exit(f"torch_graph_bench: unknown variant '{v}' (expected {', '.join(VARIANTS)})")

    try:
        with open(args.graph_json) as f:
            graph = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"torch_graph_bench: {args.graph_json}: {e}")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("torch_graph_bench: --device cuda, but torch sees no GPU")
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    # The rebuild must hold exactly weft's learnable parameters, or it is not the same network.
    params = sum(p.numel() for p in GraphNetwork(graph, drop_final_softmax=args.train).parameters())
    weft_params = sum(_count(t["shape"]) for node in graph["nodes"] for t in node["param_tensors"] if t["learnable"])
    if params != weft_params:
        sys.exit(f"torch_graph_bench: the rebuild has {params} learnable parameters, weft's graph {weft_params}")
    for variant in variants:
        label = (f"torch {torch.__version__} graph={graph['graph']['name']} params={params} batch={args.batch} "
                 f"{'train' if args.train else 'infer'} variant={variant} device={args.device}")
        try:
            seconds = time_variant(graph, variant, device, args)
        except Exception as e:  # one variant failing must not hide the others' numbers
            print(f"{label} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", flush=True)
            continue
        print(f"{label} {seconds * 1e3:.2f} ms/iter {args.batch / seconds:.1f} img/s", flush=True)


VARIANTS = ("eager", "channels_last", "compile")


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_variant(graph, variant, device, args):
    """Mean seconds per iteration of one way of running the network (a fresh model each time)."""
    torch.manual_seed(0)
    model = GraphNetwork(graph, drop_final_softmax=args.train).to(device)
    shape = list(graph["inputs"][0]["shape"])
    shape[0] = args.batch
    x = torch.randn(*shape, device=device)
    classes = graph["outputs"][0]["shape"][1]
    y = torch.randint(0, classes, (args.batch,), device=device)
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    run = torch.compile(model) if variant == "compile" else model

    if args.train:
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss_fn(run(x), y).backward()
            optimizer.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                run(x)

    for _ in range(args.warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / args.iters


if __name__ == "__main__":
    main()
