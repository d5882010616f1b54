#!/usr/bin/env python3
"""One training step of a weft graph, rebuilt independently in PyTorch.

The reference for tests/torch_crosscheck_test.cpp: it shares no code with weft, only the
operators' documented semantics (each plugin's schema file), so a wrong forward rule, gradient
rule or optimiser formula in weft shows up as a disagreement rather than being reproduced.

Reads from DIR:
  graph.json          nodes in topological order {name, op, attrs, inputs, outputs, params},
                      values {name: shape}, graph inputs and outputs, the loss value's name
  weights.safetensors parameters "<node>.<param>" before the step
  images.npy          f32 [N, C, H, W]
  labels.npy          i32 [N]
Writes DIR/reference.safetensors (f32): every graph output as "output/<value>", every
parameter after one SGD step (learnable ones) or one forward in training mode (running
statistics) under its own name, and for each learnable parameter its gradient as "grad/<name>"
and its change as "step/<name>".
"""

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SAFETENSORS_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    data = raw[8 + header_len :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"]).copy()
    return tensors


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype=np.float32)
        blob = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    # The format asks for the data to start 8-byte aligned; JSON may be padded with spaces.
    encoded += b" " * (-(8 + len(encoded)) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        out.write(b"".join(chunks))


def pair(value):
    """weft's `k or [kh, kw]` attributes (a single int may also arrive unwrapped)."""
    if isinstance(value, int):
        return (value, value)
    return (value[0], value[0]) if len(value) == 1 else tuple(value)


def channel_permutation(channels, groups):
    """weft's channel_permute: input channel i*(C/g)+j moves to output position j*g+i.

    Built from that sentence, not from a reshape, so it checks weft's kernel and definition
    rather than agreeing with it by construction."""
    per_group = channels // groups
    source = [0] * channels
    for channel in range(channels):
        i, j = divmod(channel, per_group)
        source[j * groups + i] = channel
    return torch.tensor(source, dtype=torch.long)


class Network:
    def __init__(self, graph, weights, dtype):
        self.graph = graph
        self.params = {}   # learnable, requires_grad
        self.buffers = {}  # running statistics, updated in place by F.batch_norm
        learnable = {}
        for node in graph["nodes"]:
            for p in node["params"]:
                learnable[f"{node['name']}.{p['name']}"] = p["learnable"]
        missing = set(learnable) - set(weights)
        if missing:
            sys.exit(f"weights lack {sorted(missing)}")
        for name, is_learnable in learnable.items():
            tensor = torch.tensor(weights[name], dtype=dtype)
            if is_learnable:
                self.params[name] = tensor.requires_grad_(True)
            else:
                self.buffers[name] = tensor

    def param(self, node, name):
        key = f"{node['name']}.{name}"
        return self.params.get(key, self.buffers.get(key))

    def run_node(self, node, args):
        op, attrs = node["op"], node["attrs"]
        x = args[0]
        if op in ("group_conv", "pointwise_conv"):
            bias = self.param(node, "bias") if attrs.get("bias", False) else None
            if op == "group_conv":
                y = F.conv2d(x, self.param(node, "weight"), bias, stride=pair(attrs["stride"]),
                             padding=pair(attrs["padding"]), dilation=pair(attrs["dilation"]),
                             groups=attrs["groups"])
            else:
                y = F.conv2d(x, self.param(node, "weight"), bias, stride=pair(attrs["stride"]),
                             groups=attrs["groups"])
            return F.relu(y) if attrs.get("fused_relu", False) else y
        if op == "channel_permute":
            return x.index_select(1, channel_permutation(x.shape[1], attrs["groups"]))
        if op == "batch_norm":
            # weft's momentum is MXNet's (weight of the old running value); PyTorch's is the
            # weight of the batch. Both use the unbiased batch variance for running_var.
            return F.batch_norm(x, self.param(node, "running_mean"), self.param(node, "running_var"),
                                self.param(node, "weight"), self.param(node, "bias"), training=True,
                                momentum=1.0 - attrs["momentum"], eps=attrs["eps"])
        if op == "relu":
            return F.relu(x)
        if op == "add":
            total = args[0]
            for other in args[1:]:
                total = total + other
            return total
        if op == "pool":
            return self.pool(x, attrs)
        if op == "fc":
            bias = self.param(node, "bias") if attrs.get("bias", True) else None
            return F.linear(x.reshape(x.shape[0], -1), self.param(node, "weight"), bias)
        if op == "softmax":
            return F.softmax(x, dim=1)
        if op == "softmax_cross_entropy":
            logits = x.reshape(x.shape[0], x.shape[1])
            loss = F.cross_entropy(logits, args[1].long(), reduction="mean",
                                   label_smoothing=attrs.get("label_smoothing", 0.0))
            return loss.reshape(1)
        sys.exit(f"node '{node['name']}': no PyTorch rule for op '{op}'")

    @staticmethod
    def pool(x, attrs):
        mode = attrs["mode"]
        if mode == "global_avg":
            return x.mean(dim=(2, 3), keepdim=True)
        kernel = pair(attrs["kernel"])
        stride = pair(attrs["stride"]) if attrs.get("stride") else kernel
        padding = pair(attrs["padding"]) if attrs.get("padding") else (0, 0)
        if mode == "max":
            return F.max_pool2d(x, kernel, stride, padding)
        # weft divides by the real (unpadded) elements of each window.
        return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=False)

    def forward(self, inputs):
        values = dict(inputs)
        for node in self.graph["nodes"]:
            outputs = self.run_node(node, [values[name] for name in node["inputs"]])
            if len(node["outputs"]) != 1:
                sys.exit(f"node '{node['name']}': expected one output")
            name = node["outputs"][0]
            expected = tuple(self.graph["values"][name])
            if tuple(outputs.shape) != expected:
                sys.exit(f"node '{node['name']}': PyTorch shape {tuple(outputs.shape)}, weft {expected}")
            values[name] = outputs
        return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, required=True)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.set_num_threads(1)

    graph = json.loads((args.dir / "graph.json").read_text())
    net = Network(graph, read_safetensors(args.dir / "weights.safetensors"), dtype)
    images = torch.tensor(np.load(args.dir / "images.npy"), dtype=dtype)
    labels = torch.tensor(np.load(args.dir / "labels.npy").astype(np.int64))
    image_input, label_input = graph["inputs"]
    values = net.forward({image_input: images, label_input: labels})

    loss = values[graph["loss"]]
    optimizer = torch.optim.SGD(list(net.params.values()), lr=args.lr, momentum=args.momentum,
                                nesterov=True, weight_decay=args.weight_decay)
    before = {name: tensor.detach().clone() for name, tensor in net.params.items()}
    optimizer.zero_grad()
    loss.sum().backward()
    optimizer.step()

    result = {f"output/{name}": values[name].detach().numpy() for name in graph["outputs"]}
    for name, tensor in {**net.params, **net.buffers}.items():
        result[name] = tensor.detach().numpy()
    # The change is taken before rounding to f32: a parameter moves by far less than itself in
    # one step, so its rounded new value keeps only a few digits of the step (the gradient).
    for name, tensor in net.params.items():
        result[f"step/{name}"] = (tensor.detach() - before[name]).numpy()
        result[f"grad/{name}"] = tensor.grad.numpy()
    write_safetensors(args.dir / "reference.safetensors", result)


if __name__ == "__main__":
    main()
