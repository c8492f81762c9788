"""labsupport: the small support package of the course "Neural Network Complexity".

The names below are what the labs import, e.g. ``from labsupport import fit, get_device``,
plus the exceptions a lab may catch; everything else is reached through its module
(``from labsupport.sweep.train import BatchedAdam``). Importing the package changes no global
state: seeds, threads and devices are set by the functions below, called visibly from a lab's
set-up cell.
"""

from labsupport.checkpoints import CheckpointError, load_or_train
from labsupport.checks import (
    check_close,
    check_closest,
    check_fake_quantizer,
    check_function,
    check_moe_layer,
    check_smallest,
)
from labsupport.complexity import (
    BYTES_PER_PARAM,
    count_flops,
    count_parameters,
    dense_mlp_cost,
    format_bytes,
    format_count,
    matched_dense_width,
    memory_bytes,
    moe_mlp_cost,
    parameter_table,
)
from labsupport.data import Split, corrupt_labels, load_mnist1d, make_regime_task
from labsupport.distill import UNLABELED, Recipe, train_students
from labsupport.env import configure_threads, env_report, get_device, get_profile, package_version, set_seed
from labsupport.ledger import verdict_table
from labsupport.lm.corpus import eval_windows, load_text_corpus, sample_windows
from labsupport.moe import evaluate_moe, mse_with_balance
from labsupport.predictions import predict, prediction_record
from labsupport.quantize import fake_quantize, quantize, quantized_bytes
from labsupport.random_features import RandomReLUFeatures, feature_sweep, min_norm_solve
from labsupport.report import report_summary
from labsupport.routing import (
    load_balancing_loss,
    load_stats,
    within_capacity,
)
from labsupport.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    ChinchillaLaw,
    fit_chinchilla,
    fit_power_law,
    isoflop_minimum,
)
from labsupport.smoothness import Trajectory, input_gradient_norms
from labsupport.sweep.model import MLPSweep
from labsupport.sweep.train import evaluate_sweep, train_sweep
from labsupport.timing import time_in_turn, time_it
from labsupport.train import evaluate, fit
from labsupport.vision import DatasetUnavailable, load_classification_data
from labsupport.widgets import Choice, Slider, TextBox, interactive_plot

# Written once, in pyproject.toml; read here from the installed package's metadata.
__version__ = package_version()

# set-up: run profile, device, seed, threads (labsupport.env)
__all__ = [
    "configure_threads",
    "env_report",
    "get_device",
    "get_profile",
    "set_seed",
]

# data (labsupport.data, labsupport.vision, labsupport.lm.corpus)
__all__ += [
    "Split",
    "corrupt_labels",
    "eval_windows",
    "load_classification_data",
    "load_mnist1d",
    "load_text_corpus",
    "make_regime_task",
    "sample_windows",
]

# checkpoints (labsupport.checkpoints)
__all__ += [
    "load_or_train",
]

# training (labsupport.train, labsupport.sweep.model, labsupport.sweep.train)
__all__ += [
    "MLPSweep",
    "evaluate",
    "evaluate_sweep",
    "fit",
    "train_sweep",
]

# measuring: parameters, FLOPs, memory, time (labsupport.complexity, labsupport.timing)
__all__ += [
    "BYTES_PER_PARAM",
    "count_flops",
    "count_parameters",
    "dense_mlp_cost",
    "format_bytes",
    "format_count",
    "matched_dense_width",
    "memory_bytes",
    "moe_mlp_cost",
    "parameter_table",
    "time_in_turn",
    "time_it",
]

# Chapter 2: scaling laws (labsupport.scaling)
__all__ += [
    "BESIROGLU_2024",
    "HOFFMANN_2022",
    "ChinchillaLaw",
    "fit_chinchilla",
    "fit_power_law",
    "isoflop_minimum",
]

# Chapter 3: random features, smoothness, trajectories
__all__ += [
    "RandomReLUFeatures",
    "Trajectory",
    "feature_sweep",
    "input_gradient_norms",
    "min_norm_solve",
]

# Chapter 4: distillation (labsupport.distill)
__all__ += [
    "UNLABELED",
    "Recipe",
    "train_students",
]

# Chapter 5: mixture of experts (labsupport.moe, labsupport.routing)
__all__ += [
    "evaluate_moe",
    "load_balancing_loss",
    "load_stats",
    "mse_with_balance",
    "within_capacity",
]

# Chapter 6: quantization and LoRA (labsupport.quantize, labsupport.lora)
__all__ += [
    "fake_quantize",
    "quantize",
    "quantized_bytes",
]

# exercise checks (labsupport.checks)
__all__ += [
    "check_close",
    "check_closest",
    "check_fake_quantizer",
    "check_function",
    "check_moe_layer",
    "check_smallest",
]

# figures and the summary of a lab (labsupport.widgets, labsupport.report)
__all__ += [
    "Choice",
    "Slider",
    "TextBox",
    "interactive_plot",
    "predict",
    "prediction_record",
    "report_summary",
    "verdict_table",
]

# exceptions
__all__ += [
    "CheckpointError",
    "DatasetUnavailable",
]
