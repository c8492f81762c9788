"""Lab 7 (serving a language model): how many prompts it decodes and how often it times them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from labsupport.settings.base import LabSettings, setting


@dataclass(frozen=True)
class ServingSettings(LabSettings):
    """Sizes of Lab 7's measurements; the models are the same in every profile."""

    prompts: setting(int, "prompts decoded in parts 1 and 3")
    prompt_bytes: setting(int, "bytes per prompt")
    new_bytes: setting(int, "bytes generated per prompt (prompt + new <= the 128-byte context)")
    page_new_bytes: setting(int, "bytes decoded by the loops written out in the lab (parts 1, 3)")
    repeats: setting(int, "each timing is the fastest of this many runs")
    batch_sizes: setting(tuple[int, ...], "part 2: the batch sizes timed")
    batch_new_bytes: setting(int, "part 2: bytes generated per timed batch")
    draft_lengths: setting(tuple[int, ...], "part 3: k, the bytes drafted per round")
    draft_repeats: setting(int, "part 3: rounds timing every draft; each prompt's fastest counts")
    temperature: setting(float, "part 3: temperature of the sampled decoding")
    chain_trials: setting(int, "part 3: sequences sampled for the chi-square test")
    parallel_new_bytes: setting(int, "part 4: bytes decoded by the split model")
    processes: setting(int, "part 4: processes torchrun starts")

    @classmethod
    def profiles(cls) -> dict[str, ServingSettings]:
        cpu = cls(
            prompts=6,
            prompt_bytes=32,
            new_bytes=96,
            page_new_bytes=32,
            repeats=3,
            batch_sizes=(1, 2, 4, 8, 16, 32, 64),
            batch_new_bytes=32,
            draft_lengths=(1, 2, 3, 4, 6),
            draft_repeats=5,
            temperature=0.8,
            chain_trials=3000,
            parallel_new_bytes=64,
            processes=2,
        )
        return {
            "smoke": replace(
                cpu,
                prompts=2,
                new_bytes=32,
                page_new_bytes=8,
                repeats=1,
                batch_sizes=(1, 8),
                batch_new_bytes=8,
                draft_lengths=(1, 3),
                draft_repeats=1,
                chain_trials=1000,
                parallel_new_bytes=8,
            ),
            "cpu": cpu,
            "gpu": replace(
                cpu,
                prompts=16,
                repeats=5,
                batch_sizes=(1, 4, 16, 64, 256, 1024),
                draft_lengths=(1, 2, 3, 4, 6, 8),
                chain_trials=10000,
            ),
        }
