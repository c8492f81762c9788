"""labsupport: the small support package of the course "Neural Network Complexity".

Labs import only what is listed here, e.g. ``from labsupport import fit, get_device``.
Importing the package changes no global state: seeds, threads and devices are set by the
functions below, called visibly from a lab's set-up cell.
"""

from labsupport.cache import cache_dir
from labsupport.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)
from labsupport.checks import check_close, check_function
from labsupport.complexity import (
    BYTES_PER_PARAM,
    ParameterTable,
    count_flops,
    count_parameters,
    format_bytes,
    format_count,
    memory_bytes,
    parameter_table,
)
from labsupport.corpus import (
    CorpusUnavailable,
    TextCorpus,
    eval_windows,
    load_text_corpus,
    sample_windows,
)
from labsupport.data import Dataset, DatasetUnavailable, Split, load_mnist1d, load_vision_dataset
from labsupport.device import configure_threads, env_report, get_device, set_seed
from labsupport.distill import UNLABELED, Recipe, distillation_loss, train_students
from labsupport.labels import corrupt_labels
from labsupport.lora import LoRALinear, add_lora, lora_parameter_count
from labsupport.moe import (
    DenseMLP,
    MoELayer,
    RegimeTask,
    check_moe_layer,
    evaluate_moe,
    make_regime_task,
    mse_with_balance,
)
from labsupport.profile import PROFILES, by_profile, get_profile
from labsupport.quantize import Quantized, check_fake_quantizer, fake_quantize, quantize, quantized_bytes
from labsupport.random_features import FeatureSweep, RandomReLUFeatures, feature_sweep, min_norm_solve
from labsupport.report import report_summary
from labsupport.routing import (
    LoadStats,
    RoutedCost,
    dense_mlp_cost,
    dropped_fraction,
    expert_capacity,
    expert_load,
    load_balancing_loss,
    load_ratio,
    load_stats,
    matched_dense_width,
    moe_mlp_cost,
    routed_cost,
    within_capacity,
)
from labsupport.scaling import (
    BESIROGLU_2024,
    HOFFMANN_2022,
    ChinchillaLaw,
    PowerLaw,
    fit_chinchilla,
    fit_power_law,
    isoflop_minimum,
)
from labsupport.smoothness import Trajectory, input_gradient_norms
from labsupport.sweep import (
    MLPSweep,
    SweepHistory,
    evaluate_sweep,
    per_model_accuracy,
    per_model_loss,
    train_sweep,
)
from labsupport.timing import Timing, matmul_flops_per_second, time_it
from labsupport.train import History, evaluate, fit
from labsupport.widgets import Choice, Slider, interactive_plot

__version__ = "0.1.0"

__all__ = [
    "BESIROGLU_2024",
    "BYTES_PER_PARAM",
    "HOFFMANN_2022",
    "PROFILES",
    "UNLABELED",
    "CheckpointError",
    "ChinchillaLaw",
    "Choice",
    "CorpusUnavailable",
    "Dataset",
    "DatasetUnavailable",
    "DenseMLP",
    "FeatureSweep",
    "History",
    "LoRALinear",
    "LoadStats",
    "MLPSweep",
    "MoELayer",
    "ParameterTable",
    "PowerLaw",
    "Quantized",
    "RandomReLUFeatures",
    "Recipe",
    "RegimeTask",
    "RoutedCost",
    "Slider",
    "Split",
    "SweepHistory",
    "TextCorpus",
    "Timing",
    "Trajectory",
    "add_lora",
    "by_profile",
    "cache_dir",
    "check_close",
    "check_fake_quantizer",
    "check_function",
    "check_moe_layer",
    "configure_threads",
    "corrupt_labels",
    "count_flops",
    "count_parameters",
    "dense_mlp_cost",
    "distillation_loss",
    "dropped_fraction",
    "env_report",
    "eval_windows",
    "evaluate",
    "evaluate_moe",
    "evaluate_sweep",
    "expert_capacity",
    "expert_load",
    "fake_quantize",
    "feature_sweep",
    "fit",
    "fit_chinchilla",
    "fit_power_law",
    "format_bytes",
    "format_count",
    "get_device",
    "get_profile",
    "input_gradient_norms",
    "interactive_plot",
    "isoflop_minimum",
    "load_balancing_loss",
    "load_checkpoint",
    "load_mnist1d",
    "load_or_train",
    "load_ratio",
    "load_stats",
    "load_text_corpus",
    "load_vision_dataset",
    "lora_parameter_count",
    "make_regime_task",
    "matched_dense_width",
    "matmul_flops_per_second",
    "memory_bytes",
    "min_norm_solve",
    "moe_mlp_cost",
    "mse_with_balance",
    "parameter_table",
    "per_model_accuracy",
    "per_model_loss",
    "quantize",
    "quantized_bytes",
    "report_summary",
    "routed_cost",
    "sample_windows",
    "save_checkpoint",
    "set_seed",
    "time_it",
    "train_students",
    "train_sweep",
    "within_capacity",
]
