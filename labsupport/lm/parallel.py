"""The course model split across processes for inference: tensor and pipeline parallelism.

Lab 7 launches this module with ``torchrun`` on one machine through :func:`run_parallel`
(the "Beyond one machine" page runs it across machines, with a rendezvous)::

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        -m labsupport.lm.parallel --modes tensor,pipeline --prompt-hex 6465662... --new-bytes 64 --out DIR

* ``tensor`` (Megatron-LM, Shoeybi et al. 2019): every process holds a share of each layer's
  attention heads and MLP units. The first matrix of each pair is split by output rows, the
  second by input columns, so each process computes a partial sum of the layer's output; one
  all-reduce per attention and one per MLP adds them: 2 per layer per step.
* ``pipeline``: each process holds whole consecutive layers and passes the activations of
  the new positions to the next process; the last sends the chosen byte back to the first.

Each process decodes greedily with its own KV cache (its heads only, in ``tensor`` mode) and
records what it sent, received and computed. Rank 0 gathers every record, prints the whole
result (checked against one process decoding alone) and writes it to ``DIR/{mode}.pt``.
Joining the group, counting the traffic (and, in ``tensor`` mode, an all-reduce's ring factor)
and gathering are in :mod:`labsupport.lm.process_group`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from labsupport._validate import int_in, one_of, positive_int
from labsupport.lm import process_group as pg
from labsupport.lm.model import ByteLM, load_course_model
from labsupport.lm.serve import KVCache, attend_cached, cached_attention, generate

MODES = ("tensor", "pipeline")


def shares(n: int, world: int) -> list[range]:
    """``range(n)`` cut into ``world`` consecutive parts as even as possible (the first ones larger)."""
    positive_int("world", world)
    if world > n:
        raise ValueError(f"cannot split {n} heads or layers over {world} processes")
    cuts = [sum(n // world + (i < n % world) for i in range(r)) for r in range(world + 1)]
    return [range(cuts[r], cuts[r + 1]) for r in range(world)]


class TensorParallelBlock(nn.Module):
    """This process's share of a :class:`~labsupport.lm.model.Block`: some heads, some MLP units."""

    def __init__(self, block: nn.Module, rank: int, world: int) -> None:
        super().__init__()
        d, dh = block.qkv.in_features, block.qkv.in_features // block.n_heads
        heads = shares(block.n_heads, world)[rank]
        units = shares(block.fc.out_features, world)[rank]
        self.n_heads, self.first = len(heads), rank == 0
        rows = torch.cat(
            [torch.arange(part * d + heads.start * dh, part * d + heads.stop * dh) for part in range(3)]
        )
        cols = torch.arange(heads.start * dh, heads.stop * dh)
        self.ln1, self.ln2 = block.ln1, block.ln2  # replicated
        self.qkv_w, self.qkv_b = block.qkv.weight[rows], block.qkv.bias[rows]  # split by output rows
        self.proj_w, self.proj_b = block.proj.weight[:, cols], block.proj.bias  # split by input columns
        self.fc_w, self.fc_b = (
            block.fc.weight[units.start : units.stop],
            block.fc.bias[units.start : units.stop],
        )
        self.out_w, self.out_b = block.out.weight[:, units.start : units.stop], block.out.bias

    def forward(self, x: torch.Tensor, cache: KVCache, layer: int, traffic: pg.Traffic) -> torch.Tensor:
        B, t, _ = x.shape
        qkv = F.linear(self.ln1(x), self.qkv_w, self.qkv_b)  # this process's heads only
        q, k, v = (z.view(B, t, self.n_heads, -1).transpose(1, 2) for z in qkv.chunk(3, 2))
        k, v = cache.extend(layer, k, v)  # the cache holds this process's heads only
        y = cached_attention(q, k, v).transpose(1, 2).reshape(B, t, -1)
        x = x + self._sum(F.linear(y, self.proj_w), self.proj_b, traffic)  # all-reduce
        hidden = F.gelu(F.linear(self.ln2(x), self.fc_w, self.fc_b))  # this process's units
        return x + self._sum(F.linear(hidden, self.out_w), self.out_b, traffic)  # all-reduce

    def _sum(self, partial: torch.Tensor, bias: torch.Tensor, traffic: pg.Traffic) -> torch.Tensor:
        """Megatron's g: add the processes' partial outputs (one all-reduce), then the bias once."""
        start = time.perf_counter()
        dist.all_reduce(partial)
        traffic.count(partial, start)
        return partial + bias


def _embed(model: ByteLM, idx: torch.Tensor, start: int) -> torch.Tensor:
    return model.tok(idx) + model.pos(torch.arange(start, start + idx.shape[1], device=idx.device))


def _logits(model: ByteLM, x: torch.Tensor) -> torch.Tensor:
    return model.ln(x) @ model.tok.weight.T


def _timed_step(device: torch.device, start: float, step_seconds: list[float]) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    step_seconds.append(time.perf_counter() - start)


@torch.no_grad()
def decode(model: ByteLM, mode: str, prompt: torch.Tensor, new_bytes: int, device: torch.device) -> dict:
    """Greedy decoding in this process's part of the split; returns what it computed and sent.

    Every process knows the prompt. In ``tensor`` mode each computes the full logits (after the
    last all-reduce); in ``pipeline`` mode the last one does, and sends the byte to the first.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    last, d = world - 1, model.tok.embedding_dim
    traffic, cache, tokens = pg.Traffic(), KVCache(), prompt.tolist()
    logits_seen: list[torch.Tensor] = []
    step_seconds: list[float] = []
    first_step_bytes = 0  # sent during the prompt's pass
    counted = pg.wire_counted()
    wire = [pg.written_bytes()]  # written before, after the first step, at the end
    if mode == "tensor":
        blocks = [TensorParallelBlock(b, rank, world) for b in model.blocks]
    else:
        blocks = [model.blocks[i] for i in shares(len(model.blocks), world)[rank]]
    fresh = prompt[None].to(device)  # the positions this step adds: the prompt, then one byte
    for _ in range(new_bytes):
        start, position = time.perf_counter(), len(cache)
        if mode == "tensor":
            x = _embed(model, fresh, position)
            for layer, block in enumerate(blocks):
                x = block(x, cache, layer, traffic)
        else:
            if rank == 0:
                x = _embed(model, fresh, position)
            else:
                x = torch.empty(1, fresh.shape[1], d, device=device)
                dist.recv(x, rank - 1)
            for layer, block in enumerate(blocks):
                x = attend_cached(block, x, cache, layer)
            if rank < last:
                sent = time.perf_counter()
                dist.send(x, rank + 1)
                traffic.count(x, sent)
        cache.length += fresh.shape[1]  # every process counts the positions, cached here or not
        token = torch.zeros(1, 1, dtype=torch.long, device=device)
        if mode == "tensor" or rank == last:
            logits = _logits(model, x)[0, -1]
            logits_seen.append(logits.float().cpu())
            token[0, 0] = logits.argmax()
        if mode == "pipeline" and world > 1 and rank in (0, last):
            sent = time.perf_counter()
            if rank == last:
                dist.send(token, 0)
                traffic.count(token, sent)
            else:
                dist.recv(token, last)
        tokens.append(int(token))  # middle pipeline stages never see it: their rows read 0
        fresh = token
        _timed_step(device, start, step_seconds)
        first_step_bytes = traffic.bytes if len(step_seconds) == 1 else first_step_bytes
        if len(step_seconds) == 1:
            wire.append(pg.written_bytes())
    wire.append(pg.written_bytes())
    return {
        "rank": rank, "world": world, "mode": mode, "tokens": torch.tensor(tokens),
        "logits": torch.stack(logits_seen) if logits_seen else torch.empty(0),
        "messages": traffic.messages, "bytes": traffic.bytes, "comm_seconds": traffic.seconds,
        "first_step_bytes": first_step_bytes,
        "wire_bytes": wire[2] - wire[0] if counted else None,
        "first_step_wire_bytes": wire[1] - wire[0] if counted else None,
        "step_seconds": torch.tensor(step_seconds), "cache_bytes": cache.nbytes,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """The script torchrun starts in every process; rank 0 prints (and writes) what all of them did."""
    parser = argparse.ArgumentParser(
        description="Greedy decoding with the course model split over processes."
    )
    parser.add_argument("--modes", required=True, help=f"comma-separated, of {MODES}")
    parser.add_argument("--prompt-hex", required=True, help="the prompt's bytes, in hexadecimal")
    parser.add_argument("--new-bytes", type=int, required=True)
    parser.add_argument("--out", type=Path, help="folder where rank 0 writes {mode}.pt (default: print only)")
    parser.add_argument("--weights", type=Path, help="another training run's folder (default: shipped)")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    for mode in modes:
        one_of("mode", mode, MODES)
    try:
        place = pg.Place.from_env()
    except ValueError as error:
        parser.error(f"{error} (on one machine, labsupport.lm.parallel.run_parallel starts it)")
    torch.set_num_threads(1)
    device = pg.join(place)
    model = load_course_model(device, directory=args.weights)
    prompt = torch.tensor(list(bytes.fromhex(args.prompt_hex)), dtype=torch.long)
    gathered = {}  # rank 0 only: every process's record, per mode
    for mode in modes:
        record = decode(model, mode, prompt, args.new_bytes, device) | pg.describe(place, device)
        if mode == "tensor":
            record |= pg.all_reduce_traffic(model.tok.embedding_dim, device)
        ranks = pg.gather_on_rank0(record)
        if ranks is not None:
            gathered[mode] = ranks
    if gathered:
        single = generate(model, prompt[None], args.new_bytes)[0].tolist()  # the check: one process
        for mode, ranks in gathered.items():
            print(ParallelRun.from_ranks(mode, ranks).summary(single), flush=True)
            if args.out is not None:
                torch.save(ranks, args.out / f"{mode}.pt")
    dist.destroy_process_group()


@dataclass(frozen=True)
class ParallelRun:
    """One mode of :func:`run_parallel`: the bytes decoded and, per process, what it sent."""

    mode: str
    tokens: list[int]  # the prompt and the new bytes
    logits: torch.Tensor  # (new bytes, 256): the next-byte logits at each step
    ranks: list[dict]  # each process's record (messages, bytes, comm_seconds, step_seconds, ...)

    @classmethod
    def from_ranks(cls, mode: str, ranks: list[dict]) -> ParallelRun:
        """The run from every process's record, in rank order (what rank 0 gathers)."""
        holder = ranks[-1] if mode == "pipeline" else ranks[0]  # who computed the logits
        return cls(mode, ranks[0]["tokens"].tolist(), holder["logits"], ranks)

    def per_token(self, field: str = "bytes") -> list[float | None]:
        """Per process, what it sent per generated byte after the prompt's pass: ``"bytes"``,
        the payload it handed to ``all_reduce`` or ``send``, or ``"wire_bytes"``, what the system
        saw it write (``None`` where not counted)."""
        one_of("field", field, ("bytes", "wire_bytes"))
        steps = max(1, len(self.ranks[0]["step_seconds"]) - 1)  # the new bytes after the first
        return [
            None if r[field] is None else (r[field] - r[f"first_step_{field}"]) / steps for r in self.ranks
        ]

    def summary(self, single: list[int]) -> str:
        """What rank 0 prints: the bytes against one process's ``single`` tokens, then each process."""
        new = len(self.logits)
        lines = [
            f"{self.mode}: {len(self.ranks)} processes ({self.ranks[0]['backend']}), same bytes as "
            f"one process: {self.tokens == single}; new bytes {bytes(self.tokens[-new:])!r}"
        ]
        for r, sent in zip(self.ranks, self.per_token(), strict=True):
            steps = r["step_seconds"].tolist()
            lines.append(
                f"  rank {r['rank']}: node {r['node']}, local rank {r['local_rank']} of "
                f"{r['local_world']}, {r['device']}; median step {median(steps[1:] or steps) * 1e3:.2f} ms, "
                f"{sent:.0f} payload bytes sent per byte"
            )
        return "\n".join(lines)


def torchrun_command(
    modes: tuple[str, ...], prompt: bytes, new_bytes: int, processes: int, out: Path
) -> list[str]:
    """The command line :func:`run_parallel` runs: torchrun, started from this Python."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
        "-m", "labsupport.lm.parallel", "--modes", ",".join(modes), "--prompt-hex", prompt.hex(),
        "--new-bytes", str(new_bytes), "--out", str(out),
    ]  # fmt: skip


def run_parallel(
    prompt: bytes,
    new_bytes: int,
    *,
    modes: tuple[str, ...] = MODES,
    processes: int = 2,
    workdir: Path,
    timeout: float = 300,
) -> tuple[dict[str, ParallelRun], float]:
    """Launch ``processes`` copies of this module with torchrun; each decodes in every mode.

    Returns each mode's run and the wall time of the whole launch (processes starting included).
    """
    for mode in modes:
        one_of("mode", mode, MODES)
    if not isinstance(prompt, bytes) or not prompt:
        raise ValueError(f"prompt must be non-empty bytes, got {prompt!r}")
    positive_int("new_bytes", new_bytes)
    int_in("processes", processes, 1)
    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        torchrun_command(modes, prompt, new_bytes, processes, out),
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"torchrun failed with exit status {done.returncode}:\n{done.stderr[-3000:]}")
    runs = {
        mode: ParallelRun.from_ranks(mode, torch.load(out / f"{mode}.pt", weights_only=True))
        for mode in modes
    }
    return runs, seconds


if __name__ == "__main__":
    main()
