"""labsupport: the small support package of the course "Neural Network Complexity".

Labs import only what is listed here, e.g. ``from labsupport import fit, get_device``.
Importing the package changes no global state: seeds, threads and devices are set by the
functions below, called visibly from a lab's set-up cell.
"""

from labsupport.cache import cache_dir
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
from labsupport.data import Dataset, DatasetUnavailable, Split, load_mnist1d, load_vision_dataset
from labsupport.device import configure_threads, env_report, get_device, set_seed
from labsupport.profile import PROFILES, by_profile, get_profile
from labsupport.timing import Timing, matmul_flops_per_second, time_it
from labsupport.train import History, evaluate, fit
from labsupport.widgets import Choice, Slider, interactive_plot

# [imports: scaling laws, chapter 2]
# [imports: memorization, chapter 3]
# [imports: distillation, chapter 4]
# [imports: mixture of experts, chapter 5]

__version__ = "0.1.0"

__all__ = [
    "BYTES_PER_PARAM",
    "PROFILES",
    "Choice",
    "Dataset",
    "DatasetUnavailable",
    "History",
    "ParameterTable",
    "Slider",
    "Split",
    "Timing",
    "by_profile",
    "cache_dir",
    "check_close",
    "check_function",
    "configure_threads",
    "count_flops",
    "count_parameters",
    "env_report",
    "evaluate",
    "fit",
    "format_bytes",
    "format_count",
    "get_device",
    "get_profile",
    "interactive_plot",
    "load_mnist1d",
    "load_vision_dataset",
    "matmul_flops_per_second",
    "memory_bytes",
    "parameter_table",
    "set_seed",
    "time_it",
    # [all: scaling laws, chapter 2]
    # [all: memorization, chapter 3]
    # [all: distillation, chapter 4]
    # [all: mixture of experts, chapter 5]
]
