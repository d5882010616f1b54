#!/usr/bin/env python3
"""The scaling model of docs/distributed.md: data-parallel training of N machines, each keeping its
batch, from a measured step time and the gradient bytes every step exchanges (ring allreduce).
Prints the Markdown tables of that page. Inputs below, with where each came from."""

# (net, gradient bytes, measured ms per image of a training step, batch per machine)
# Gradient bytes: `weft stats NET --train --json`, training.optimizer_bytes (one float per learnable
# parameter: exactly what the allreduce sends). ms per image: `weft bench NET --train --threads 1`
# on this machine (docs/performance.md, "Data-parallel training over MPI"): IGC-L24M2-D20 at batch
# 32, the ImageNet nets at batch 8.
NETS = [
    ("igc-l24m2-d20", 623872, 433.1 / 32, 64),
    ("imagenet-resnet18-c64", 46758080, 2075.1 / 8, 32),
    ("imagenet-igc-l16m16-ident", 54113216, 6318.3 / 8, 32),
    ("imagenet-igc-l100m2-ident", 34552128, 2449.3 / 8, 32),
    ("imagenet-igc-l4m32-ident", 49004992, 3735.7 / 8, 32),
]
# (name, bytes per second, seconds per message)
NETWORKS = [("10 Gb/s", 10e9 / 8, 30e-6), ("100 Gb/s", 100e9 / 8, 5e-6)]
MACHINES = [2, 4, 8, 16, 32, 64]
OVERLAP = 0.6  # share of a step during which buckets can be on the wire (backward, less the first bucket)


def allreduce_seconds(n, grad_bytes, bandwidth, latency):
    return 2 * (n - 1) / n * grad_bytes / bandwidth + 2 * (n - 1) * latency


def efficiency(n, step, grad_bytes, bandwidth, latency, overlap):
    exposed = max(0.0, allreduce_seconds(n, grad_bytes, bandwidth, latency) - overlap * step)
    return step / (step + exposed)


def last_linear(step, grad_bytes, bandwidth, latency, overlap, at_least=0.9):
    """The largest N (of 1..1024) whose efficiency is still at least `at_least`."""
    best = 1
    for n in range(2, 1025):
        if efficiency(n, step, grad_bytes, bandwidth, latency, overlap) >= at_least:
            best = n
        else:
            break
    return best


def exchange_table():
    """Per net: what a step exchanges, its cost at N = 64, and the shortest step that still scales to
    64 machines at 90 % or better."""
    rows = ["| net (batch per machine) | G (MB) | step here (ms) | allreduce at N=64, 10 / 100 Gb/s (ms) "
            "| shortest step for ≥90 % at N=64, 10 Gb/s: no overlap / overlap (ms) | same, 100 Gb/s (ms) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for net, grad, ms_per_image, batch in NETS:
        step = ms_per_image * batch
        t = [allreduce_seconds(64, grad, bw, lat) * 1000 for _, bw, lat in NETWORKS]
        # exposed = T_ar - h*T <= T/9  <=>  T >= T_ar / (h + 1/9)
        shortest = [[ar / (h + 1 / 9) for h in (0.0, OVERLAP)] for ar in t]
        slow, fast = (" / ".join(f"{x:.0f}" for x in pair) for pair in shortest)
        rows.append(f"| {net} ({batch}) | {grad / 1e6:.1f} | {step:.0f} | {t[0]:.1f} / {t[1]:.1f} | {slow} | {fast} |")
    return "\n".join(rows)


def efficiency_table(speed):
    head = "| net | step (ms) | network | " + " | ".join(f"N={n}" for n in MACHINES)
    head += " | ≥90 % up to N: no overlap / overlap |"
    rows = [head, "| --- | ---: | --- |" + " ---: |" * len(MACHINES) + " ---: |"]
    for net, grad, ms_per_image, batch in NETS:
        step = ms_per_image * batch / 1000 / speed
        for name, bandwidth, latency in NETWORKS:
            cells = [f"{efficiency(n, step, grad, bandwidth, latency, 0.0) * 100:.0f} %" for n in MACHINES]
            limits = [last_linear(step, grad, bandwidth, latency, h) for h in (0.0, OVERLAP)]
            rows.append(f"| {net} | {step * 1000:.1f} | {name} | " + " | ".join(cells) + " | "
                        + " / ".join("≥1024" if x == 1024 else str(x) for x in limits) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(exchange_table())
    print()
    print("Efficiency T_c / T_step without overlap, each machine's step 100x faster than measured here:")
    print()
    print(efficiency_table(100))
