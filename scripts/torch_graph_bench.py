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
iterations (3), then the mean of --iters (20).

  weft viz igc-l24m2-d20 -o net.json
  /usr/bin/python3 scripts/torch_graph_bench.py net.json --batch 64 --threads 2 [--train]

Prints one line: "... X ms/iter Y img/s" (the format scripts/bench-vs-torch.sh reads).
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
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()

    try:
        with open(args.graph_json) as f:
            graph = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"torch_graph_bench: {args.graph_json}: {e}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GraphNetwork(graph, drop_final_softmax=args.train)
    shape = list(graph["inputs"][0]["shape"])
    shape[0] = args.batch
    x = torch.randn(*shape)
    classes = graph["outputs"][0]["shape"][1]
    y = torch.randint(0, classes, (args.batch,))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)

    if args.train:
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x)

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    seconds = (time.perf_counter() - start) / args.iters
    # The rebuild must hold exactly weft's learnable parameters, or it is not the same network.
    params = sum(p.numel() for p in model.parameters())
    weft_params = sum(_count(t["shape"]) for node in graph["nodes"] for t in node["param_tensors"] if t["learnable"])
    if params != weft_params:
        sys.exit(f"torch_graph_bench: the rebuild has {params} learnable parameters, weft's graph {weft_params}")
    print(f"torch {torch.__version__} graph={graph['graph']['name']} params={params} batch={args.batch} "
          f"{'train' if args.train else 'infer'} {seconds * 1e3:.2f} ms/iter {args.batch / seconds:.1f} img/s")


if __name__ == "__main__":
    main()
